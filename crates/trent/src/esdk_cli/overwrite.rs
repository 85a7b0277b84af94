//! `--interactive` and `--no-overwrite`, with aws-encryption-cli's rules: they apply to output files that
//! already exist as regular files (standard output, devices and pipes are always written); `--no-overwrite`
//! wins over `--interactive`; at the prompt only an answer whose first character is `y` or `Y` overwrites, anything
//! else (an empty line, end of input) skips the file. A skipped file is reported on standard error, gets no
//! metadata line and does not fail the run.
//!
//! Differences from aws-encryption-cli, both so that a pipeline keeps working: the question goes to standard
//! error, not standard output (which may carry the data or the metadata); and when the input itself is
//! standard input the answer is read from the terminal (`/dev/tty`), as the data owns standard input.

use std::io::{BufRead, Write};
use std::path::Path;

/// What to do with an output file that may exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Policy {
    /// Replace it silently (the default, as in aws-encryption-cli).
    Overwrite,
    /// Ask on the terminal (`--interactive`).
    Ask,
    /// Leave it alone (`--no-overwrite`).
    Never,
}

impl Policy {
    pub(super) fn from_flags(interactive: bool, no_overwrite: bool) -> Self {
        match (interactive, no_overwrite) {
            (_, true) => Self::Never,
            (true, false) => Self::Ask,
            (false, false) => Self::Overwrite,
        }
    }
}

/// Whether `dest` may be written. `Ok(false)`: skip it (already reported on standard error).
/// `stdin_is_data`: the input is standard input, so an answer must come from the terminal.
pub(super) fn may_write(policy: Policy, dest: &Path, stdin_is_data: bool) -> Result<bool, String> {
    // `is_file` follows symbolic links: a link to an existing file is an existing file.
    if policy == Policy::Overwrite || !dest.is_file() {
        return Ok(true);
    }
    if policy == Policy::Never {
        eprintln!("trent: skipping existing output file {} (--no-overwrite)", dest.display());
        return Ok(false);
    }
    let question = format!("Overwrite existing output file \"{}\" with new contents? [y/N]: ", dest.display());
    let answer = if stdin_is_data {
        // The data owns standard input; no terminal means no answer, which means no.
        match std::fs::File::open("/dev/tty") {
            Ok(tty) => ask(&question, &mut std::io::BufReader::new(tty))?,
            Err(_) => String::new(),
        }
    } else {
        ask(&question, &mut std::io::stdin().lock())?
    };
    if answer.starts_with(['y', 'Y']) {
        return Ok(true);
    }
    eprintln!("trent: skipping existing output file {} (not confirmed)", dest.display());
    Ok(false)
}

/// Prints `question` on standard error and reads one line of answer (empty at end of input).
fn ask(question: &str, from: &mut dyn BufRead) -> Result<String, String> {
    let mut err = std::io::stderr().lock();
    // The prompt is a courtesy: failing to show it must not stop the answer from being read.
    let _ = err.write_all(question.as_bytes()).and_then(|()| err.flush());
    let mut line = String::new();
    from.read_line(&mut line).map_err(|e| format!("reading the answer: {e}"))?;
    Ok(line)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn flags_combine_as_in_aws_encryption_cli() {
        assert_eq!(Policy::from_flags(false, false), Policy::Overwrite);
        assert_eq!(Policy::from_flags(true, false), Policy::Ask);
        assert_eq!(Policy::from_flags(true, true), Policy::Never);
        assert_eq!(Policy::from_flags(false, true), Policy::Never);
    }

    #[test]
    fn only_existing_regular_files_are_protected() {
        let dir = std::env::temp_dir().join(format!("trent-overwrite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing");
        assert!(may_write(Policy::Never, &missing, false).unwrap());
        let existing = dir.join("existing");
        std::fs::write(&existing, b"keep").unwrap();
        assert!(!may_write(Policy::Never, &existing, false).unwrap());
        assert!(may_write(Policy::Overwrite, &existing, false).unwrap());
        // A device is written in place (aws-encryption-cli: only `os.path.isfile` outputs are checked).
        assert!(may_write(Policy::Never, Path::new("/dev/null"), false).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn answers() {
        let read = |input: &str| ask("?", &mut input.as_bytes()).unwrap();
        assert_eq!(read("y\n"), "y\n");
        assert_eq!(read(""), "");
        assert_eq!(read("no\nyes\n"), "no\n");
    }
}
