//! Where the root key comes from. A file now; Shamir unseal and PKCS#11 plug in behind the same trait.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use trent_crypto::{KEY_LEN, RootKey, SecretBytes};

pub trait RootKeyProvider: Send + Sync {
    /// Loads (or, on first start, creates) the root key.
    fn load(&self) -> Result<RootKey, RootKeyError>;
}

#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    #[error("root key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("root key file {path} must hold exactly {KEY_LEN} bytes, found {found}")]
    Length { path: PathBuf, found: usize },
    #[error("root key file {path} is readable by group or others (mode {mode:o}); chmod 600 it")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("root key: {0}")]
    Crypto(trent_crypto::CryptoError),
}

/// A 32-byte file, mode 0600, created on first start.
#[derive(Debug, Clone)]
pub struct FileRootKey {
    path: PathBuf,
}

impl FileRootKey {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    fn create(&self) -> Result<(), RootKeyError> {
        let material = RootKey::generate_material().map_err(RootKeyError::Crypto)?;
        let io = |source| RootKeyError::Io { path: self.path.clone(), source };
        let tmp = self.path.with_extension("tmp");
        let mut f = open_private(&tmp).map_err(io)?;
        f.write_all(material.expose_secret()).map_err(io)?; // writing the key is this function's purpose
        f.sync_all().map_err(io)?;
        // create_new on the final name would race with a concurrent start; a rename is atomic.
        fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

impl RootKeyProvider for FileRootKey {
    fn load(&self) -> Result<RootKey, RootKeyError> {
        if !self.path.exists() {
            self.create()?;
        }
        check_private(&self.path)?;
        let bytes = SecretBytes::new(
            fs::read(&self.path).map_err(|source| RootKeyError::Io { path: self.path.clone(), source })?,
        );
        if bytes.len() != KEY_LEN {
            return Err(RootKeyError::Length { path: self.path.clone(), found: bytes.len() });
        }
        RootKey::from_secret(&bytes).map_err(RootKeyError::Crypto)
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), RootKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        fs::metadata(path).map_err(|source| RootKeyError::Io { path: path.to_owned(), source })?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(RootKeyError::Permissions { path: path.to_owned(), mode: mode & 0o777 });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<(), RootKeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_reuses_and_refuses_open_modes() {
        let dir = std::env::temp_dir().join(format!("trent-rootkey-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        let p = FileRootKey::new(dir.join("root.key"));
        let a = p.load().unwrap();
        let wrapped = a.wrap(&SecretBytes::new(vec![1; 32]), b"x").unwrap();
        let b = p.load().unwrap();
        assert!(b.unwrap(&wrapped, b"x").is_ok(), "second load must read the same key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("root.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            fs::set_permissions(dir.join("root.key"), fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(p.load(), Err(RootKeyError::Permissions { .. })));
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
