//! One server per data directory: `trent serve` holds an exclusive lock on `<data-dir>/serve.lock` for its
//! whole life.
//!
//! Two servers on one directory each append to the audit trail and cache keys the other changes: a 20-second
//! overlap left the trail failing verification for good and a disabled key still encrypting on the other
//! server (issue 14). The lock is the operating system's (`flock`), so it goes away with the process however
//! it ends, `kill -9` included: no stale lock file to clean up. The file holds the holder's pid so that the
//! refusal can name it. Read-only commands (`trent env`, `trent audit verify/lookup`) do not take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::Path;

/// The lock file's name inside the data directory.
pub(crate) const LOCK_FILE: &str = "serve.lock";

/// Held while the server runs; dropping it (or the process ending) releases the lock.
pub(crate) struct ServeLock {
    _file: File,
}

/// Takes the data directory's lock without waiting, or says which process holds it.
pub(crate) fn acquire(data_dir: &Path) -> Result<ServeLock, String> {
    let path = data_dir.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    // Not truncated on open: the pid in it belongs to the holder until we hold the lock ourselves.
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(held_by(&mut file, data_dir, &path)),
        Err(TryLockError::Error(e)) => return Err(format!("cannot lock {}: {e}", path.display())),
    }
    let pid = std::process::id();
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{pid}"))
        .map_err(|e| format!("cannot write the lock file {}: {e}", path.display()))?;
    Ok(ServeLock { _file: file })
}

fn held_by(file: &mut File, data_dir: &Path, path: &Path) -> String {
    let mut text = String::new();
    let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse::<u32>().ok());
    let holder = match pid {
        Some(pid) => format!("another trent serve (pid {pid})"),
        // The holder has locked the file but not yet written its pid.
        None => "another trent serve".to_owned(),
    };
    format!(
        "{holder} is already serving the data directory {}; stop it first (one server per data directory; \
         lock file {})",
        data_dir.display(),
        path.display()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_naming_the_holder_and_released_on_drop() {
        let dir = crate::tls::tests::scratch_dir("serve-lock");
        let held = acquire(&dir).unwrap();
        let pid = std::process::id();
        assert_eq!(std::fs::read_to_string(dir.join(LOCK_FILE)).unwrap(), format!("{pid}\n"));
        let err = acquire(&dir).err().unwrap();
        assert!(err.contains(&format!("(pid {pid})")) && err.contains("already serving"), "{err}");
        drop(held);
        let again = acquire(&dir).unwrap();
        drop(again);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
