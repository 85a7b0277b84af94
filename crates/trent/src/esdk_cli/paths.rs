//! From `-i`/`-o`/`-r`/`--suffix` to the list of (source, destination) pairs to process, with
//! aws-encryption-cli's rules: a directory (or a glob matching several paths) needs an existing output
//! directory; a directory input needs `-r` and is walked with its structure mirrored under the output;
//! a file written into a directory gets the source's name plus the suffix.

use std::path::{Path, PathBuf};

/// One end of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Endpoint {
    Std,
    File(PathBuf),
}

impl Endpoint {
    /// For messages: the path as given, or `-`.
    pub(super) fn shown(&self) -> String {
        match self {
            Self::Std => "-".into(),
            Self::File(p) => p.display().to_string(),
        }
    }
}

/// One file to process.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Job {
    pub(super) source: Endpoint,
    pub(super) dest: Endpoint,
}

pub(super) struct Request<'a> {
    pub(super) input: &'a str,
    pub(super) output: &'a str,
    pub(super) recursive: bool,
    /// The name suffix for files written into a directory (`.encrypted` / `.decrypted` by default).
    pub(super) suffix: &'a str,
}

/// The jobs, in a stable order (directories walked in name order). Fails before anything is written.
pub(super) fn plan(r: &Request<'_>) -> Result<Vec<Job>, String> {
    let out_dir = (r.output != "-" && Path::new(r.output).is_dir()).then(|| PathBuf::from(r.output));
    if r.input == "-" {
        if out_dir.is_some() {
            return Err(format!("output {} is a directory, but the input is standard input", r.output));
        }
        return Ok(vec![Job { source: Endpoint::Std, dest: destination(r.output) }]);
    }
    let sources = expand(r.input)?;
    if sources.len() > 1 && out_dir.is_none() {
        return Err(format!(
            "input {} names {} paths: the output must be an existing directory",
            r.input,
            sources.len()
        ));
    }
    let mut jobs = Vec::new();
    for source in sources {
        if source.is_dir() {
            if !r.recursive {
                return Err(format!(
                    "input {} is a directory: add -r/--recursive to process its files",
                    source.display()
                ));
            }
            let Some(out) = &out_dir else {
                return Err(format!(
                    "input {} is a directory: the output must be an existing directory",
                    source.display()
                ));
            };
            walk(&source, out, r.suffix, &mut jobs)?;
        } else if let Some(out) = &out_dir {
            let dest = out.join(with_suffix(&source, r.suffix)?);
            jobs.push(Job { source: Endpoint::File(source), dest: Endpoint::File(dest) });
        } else {
            if r.output != "-" {
                check_parent(Path::new(r.output))?;
            }
            jobs.push(Job { source: Endpoint::File(source), dest: destination(r.output) });
        }
    }
    for job in &jobs {
        if let (Endpoint::File(s), Endpoint::File(d)) = (&job.source, &job.dest)
            && same_file(s, d)
        {
            return Err(format!("input {} and output {} are the same file", s.display(), d.display()));
        }
    }
    Ok(jobs)
}

fn destination(output: &str) -> Endpoint {
    if output == "-" { Endpoint::Std } else { Endpoint::File(PathBuf::from(output)) }
}

/// A glob pattern's matches (sorted), or the one path given. A path that exists is taken literally
/// even if it contains pattern characters.
fn expand(input: &str) -> Result<Vec<PathBuf>, String> {
    let literal = Path::new(input);
    if literal.exists() || !input.contains(['*', '?', '[']) {
        if !literal.exists() {
            return Err(format!("input {input} does not exist"));
        }
        return Ok(vec![literal.to_owned()]);
    }
    let paths = glob::glob(input).map_err(|e| format!("input pattern {input}: {e}"))?;
    let mut out = Vec::new();
    for p in paths {
        out.push(p.map_err(|e| format!("input pattern {input}: {e}"))?);
    }
    if out.is_empty() {
        return Err(format!("input pattern {input} matches nothing"));
    }
    Ok(out)
}

/// Every file under `dir`, its destination under `out` at the same relative place. Symbolic links to
/// files are followed; links to directories are not (no loops), as `os.walk` does.
fn walk(dir: &Path, out: &Path, suffix: &str, jobs: &mut Vec<Job>) -> Result<(), String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read directory {}: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_dir() {
            walk(&path, &out.join(entry.file_name()), suffix, jobs)?;
        } else if path.is_file() {
            let dest = out.join(with_suffix(&path, suffix)?);
            jobs.push(Job { source: Endpoint::File(path), dest: Endpoint::File(dest) });
        } else if !kind.is_symlink() {
            return Err(format!("{} is not a regular file", path.display()));
        }
    }
    Ok(())
}

fn with_suffix(source: &Path, suffix: &str) -> Result<String, String> {
    let name = source.file_name().ok_or_else(|| format!("input {} has no file name", source.display()))?;
    Ok(format!("{}{suffix}", name.to_string_lossy()))
}

/// aws-encryption-cli's rule: an output file's directory must already exist.
fn check_parent(output: &Path) -> Result<(), String> {
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if parent.is_dir() { Ok(()) } else { Err(format!("the directory of output {} does not exist", output.display())) }
}

/// Whether two paths name the same existing file (a destination that does not exist yet is not).
pub(super) fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tree() -> PathBuf {
        let root = std::env::temp_dir().join(format!("trent-esdk-paths-{}-{}", std::process::id(), line!()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("in/sub/deeper")).unwrap();
        std::fs::create_dir_all(root.join("out")).unwrap();
        for f in ["in/a.txt", "in/b.log", "in/sub/c.txt", "in/sub/deeper/d"] {
            std::fs::write(root.join(f), f).unwrap();
        }
        root
    }

    fn files(jobs: &[Job], root: &Path) -> Vec<(String, String)> {
        let rel = |e: &Endpoint| match e {
            Endpoint::File(p) => p.strip_prefix(root).unwrap().display().to_string(),
            Endpoint::Std => "-".into(),
        };
        jobs.iter().map(|j| (rel(&j.source), rel(&j.dest))).collect()
    }

    #[test]
    fn directories_mirror_with_suffix_and_need_recursive() {
        let root = tree();
        let s = |p: &str| root.join(p).display().to_string();
        let (input, output) = (s("in"), s("out"));
        let req = Request { input: &input, output: &output, recursive: true, suffix: ".encrypted" };
        assert_eq!(
            files(&plan(&req).unwrap(), &root),
            [
                ("in/a.txt", "out/a.txt.encrypted"),
                ("in/b.log", "out/b.log.encrypted"),
                ("in/sub/c.txt", "out/sub/c.txt.encrypted"),
                ("in/sub/deeper/d", "out/sub/deeper/d.encrypted"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        let err = plan(&Request { recursive: false, ..req }).unwrap_err();
        assert!(err.contains("-r/--recursive"), "{err}");
        let file_out = s("out/x");
        let err = plan(&Request { output: &file_out, ..req }).unwrap_err();
        assert!(err.contains("existing directory"), "{err}");

        // A glob, a file into a directory, a file to a file, standard input.
        let pattern = s("in/*.txt");
        let jobs = plan(&Request { input: &pattern, output: &output, recursive: false, suffix: "" }).unwrap();
        assert_eq!(files(&jobs, &root), [("in/a.txt".to_string(), "out/a.txt".to_string())]);
        let one = s("in/b.log");
        let jobs = plan(&Request { input: &one, output: &output, recursive: false, suffix: ".x" }).unwrap();
        assert_eq!(files(&jobs, &root), [("in/b.log".to_string(), "out/b.log.x".to_string())]);
        let jobs = plan(&Request { input: &one, output: &file_out, recursive: false, suffix: ".x" }).unwrap();
        assert_eq!(files(&jobs, &root), [("in/b.log".to_string(), "out/x".to_string())]);
        let jobs = plan(&Request { input: "-", output: "-", recursive: false, suffix: ".x" }).unwrap();
        assert_eq!(jobs, [Job { source: Endpoint::Std, dest: Endpoint::Std }]);
        assert!(plan(&Request { input: "-", output: &output, recursive: false, suffix: "" }).is_err());

        // Several matches need a directory; nothing matching and same-file are refused.
        let all = s("in/*");
        assert!(plan(&Request { input: &all, output: &file_out, recursive: true, suffix: "" }).is_err());
        let none = s("in/*.nothing");
        assert!(
            plan(&Request { input: &none, output: &output, recursive: false, suffix: "" })
                .unwrap_err()
                .contains("matches nothing")
        );
        assert!(
            plan(&Request { input: &one, output: &one, recursive: false, suffix: "" })
                .unwrap_err()
                .contains("same file")
        );
        let missing_dir = s("nowhere/x");
        assert!(plan(&Request { input: &one, output: &missing_dir, recursive: false, suffix: "" }).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
