//! Where a result goes: standard output, or a temporary file next to the destination that becomes the
//! destination only once the whole message was processed (and, for signed messages, verified). Plus the
//! copy loop and the streaming base64 encoder between the library and the output.

use std::fs::File;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// I/O chunk: large enough that syscalls and frame bookkeeping do not dominate AES-GCM.
pub(super) const CHUNK: usize = 1 << 20;

/// Runs `write` into `output`, through a streaming base64 encoder with `--encode` (finished, so its
/// last partial group and padding are written, before the output is committed).
pub(super) fn encoded(
    output: &mut Output,
    encode: bool,
    write: impl FnOnce(&mut dyn Write) -> Result<(), String>,
) -> Result<(), String> {
    if !encode {
        return write(output);
    }
    let mut b64 = base64::write::EncoderWriter::new(output, &base64::engine::general_purpose::STANDARD);
    write(&mut b64)?;
    b64.finish().map_err(io_cause)?.flush().map_err(io_cause)
}

pub(super) fn copy(mut from: impl Read, to: &mut (impl Write + ?Sized)) -> Result<(), String> {
    // Holds plaintext on one side or the other: wiped when done.
    let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_cause(e)),
        };
        to.write_all(&buf[..n]).map_err(io_cause)?;
    }
    to.flush().map_err(io_cause)
}

/// Like [`copy`], from a reader that lends out its own (zeroizing) buffer: one copy fewer.
pub(super) fn pump(from: &mut dyn BufRead, to: &mut (impl Write + ?Sized)) -> Result<(), String> {
    loop {
        let buf = match from.fill_buf() {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_cause(e)),
        };
        let n = buf.len();
        to.write_all(buf).map_err(io_cause)?;
        from.consume(n);
    }
    to.flush().map_err(io_cause)
}

/// The library's error when it travelled inside an `io::Error`, else the I/O error.
pub(super) fn io_cause(e: std::io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}

/// Standard output, or a temporary file next to the destination that becomes it on commit and is
/// removed otherwise (including on drop after an error), or a destination that is not a regular file
/// (`/dev/null`, a FIFO, a terminal), written in place: renaming over it would replace the device or pipe
/// with a file.
pub(super) enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File { file: Option<BufWriter<File>>, tmp: PathBuf, dest: PathBuf, no_replace: bool },
    Special(BufWriter<File>),
}

impl Output {
    pub(super) fn stdout() -> Self {
        Self::Stdout(BufWriter::with_capacity(CHUNK, std::io::stdout()))
    }

    /// A temporary file in `dest`'s directory (which must exist), mode 0600. An existing `dest` that is a
    /// symbolic link is followed (the link stays, its target is replaced); one that is not a regular file is
    /// opened and written directly.
    pub(super) fn file(dest: &Path) -> Result<Self, String> {
        if dest.is_dir() {
            return Err(format!("output {} is a directory", dest.display()));
        }
        let resolved;
        let dest = match std::fs::metadata(dest) {
            Ok(m) if !m.is_file() => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(dest)
                    .map_err(|e| format!("cannot open {}: {e}", dest.display()))?;
                return Ok(Self::Special(BufWriter::with_capacity(CHUNK, f)));
            }
            Ok(_) => {
                resolved =
                    std::fs::canonicalize(dest).map_err(|e| format!("cannot resolve {}: {e}", dest.display()))?;
                resolved.as_path()
            }
            Err(_) => dest,
        };
        let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = dest.file_name().ok_or_else(|| format!("output {} has no file name", dest.display()))?;
        let suffix: [u8; 6] = trent_crypto::random_array().map_err(|e| e.to_string())?;
        let tmp = dir.join(format!(".{}.trent-{}.tmp", name.to_string_lossy(), trent_crypto::digest::hex(&suffix)));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            // Decrypted output is plaintext: readable by the owner only until the owner decides otherwise.
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        Ok(Self::File {
            file: Some(BufWriter::with_capacity(CHUNK, file)),
            tmp,
            dest: dest.to_owned(),
            no_replace: false,
        })
    }

    /// Commit only if the destination still does not exist (`--no-overwrite`, or `--interactive` for a file
    /// that was not there when asked): a file created meanwhile is kept, and the commit fails.
    pub(super) fn no_replace(mut self) -> Self {
        if let Self::File { no_replace, .. } = &mut self {
            *no_replace = true;
        }
        self
    }

    pub(super) fn commit(mut self) -> Result<(), String> {
        match &mut self {
            Self::Stdout(w) => w.flush().map_err(|e| format!("writing standard output: {e}")),
            Self::Special(w) => w.flush().map_err(|e| format!("writing the output: {e}")),
            Self::File { file, tmp, dest, no_replace } => {
                let w = file.take().ok_or("output already committed")?;
                let f = w.into_inner().map_err(|e| format!("writing {}: {}", tmp.display(), e.error()))?;
                f.sync_all().map_err(|e| format!("writing {}: {e}", tmp.display()))?;
                drop(f);
                if *no_replace {
                    link_no_replace(tmp, dest)?;
                } else {
                    std::fs::rename(&*tmp, &*dest)
                        .map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), dest.display()))?;
                }
                // Nothing left to clean up on drop.
                *tmp = PathBuf::new();
                Ok(())
            }
        }
    }
}

/// Puts `tmp` in place as `dest` unless `dest` exists: a hard link is created atomically or not at all (no
/// window between a check and a rename); where the filesystem has no hard links, check, then rename.
fn link_no_replace(tmp: &Path, dest: &Path) -> Result<(), String> {
    let exists = || format!("{} exists (created while this file was processed); not overwritten", dest.display());
    match std::fs::hard_link(tmp, dest) {
        Ok(()) => std::fs::remove_file(tmp).map_err(|e| format!("cannot remove {}: {e}", tmp.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(_) if std::fs::symlink_metadata(dest).is_ok() => Err(exists()),
        Err(_) => std::fs::rename(tmp, dest)
            .map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), dest.display())),
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Stdout(w) => w.write(buf),
            Self::Special(w) => w.write(buf),
            Self::File { file: Some(w), .. } => w.write(buf),
            Self::File { file: None, .. } => Err(std::io::Error::other("output already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Stdout(w) => w.flush(),
            Self::Special(w) => w.flush(),
            Self::File { file: Some(w), .. } => w.flush(),
            Self::File { file: None, .. } => Ok(()),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Self::File { file, tmp, .. } = self
            && !tmp.as_os_str().is_empty()
        {
            drop(file.take());
            // Best effort: the error that got us here is what the user needs to see.
            let _ = std::fs::remove_file(&*tmp);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn failed_output_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("trent-esdk-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("out.bin");
        {
            let mut o = Output::file(&dest).unwrap();
            o.write_all(b"partial").unwrap();
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let mut o = Output::file(&dest).unwrap();
        o.write_all(b"whole").unwrap();
        o.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
        // A symbolic link is followed: the link stays and its target gets the output.
        let link = dir.join("link.bin");
        std::os::unix::fs::symlink(&dest, &link).unwrap();
        let mut o = Output::file(&link).unwrap();
        o.write_all(b"again").unwrap();
        o.commit().unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&dest).unwrap(), b"again");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_replace_keeps_a_file_that_appeared_meanwhile() {
        let dir = std::env::temp_dir().join(format!("trent-esdk-cli-noreplace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("out.bin");
        let mut o = Output::file(&dest).unwrap().no_replace();
        o.write_all(b"new").unwrap();
        std::fs::write(&dest, b"someone else's").unwrap();
        assert!(o.commit().unwrap_err().contains("not overwritten"));
        assert_eq!(std::fs::read(&dest).unwrap(), b"someone else's");
        std::fs::remove_file(&dest).unwrap();
        let mut o = Output::file(&dest).unwrap().no_replace();
        o.write_all(b"new").unwrap();
        o.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_device_is_written_in_place_never_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let null = Path::new("/dev/null");
        if !std::fs::metadata(null).is_ok_and(|m| m.file_type().is_char_device()) {
            eprintln!("skipped: /dev/null is not a character device here");
            return;
        }
        let mut o = Output::file(null).unwrap();
        o.write_all(b"discarded").unwrap();
        o.commit().unwrap();
        assert!(std::fs::metadata(null).unwrap().file_type().is_char_device(), "/dev/null was replaced");
    }
}
