//! The data directory: what lives in it, and the instance identity (account, region) fixed at first start.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trent_core::ids::{AccountId, Region};

/// File names inside the data directory.
pub(crate) struct DataDir {
    pub(crate) root: PathBuf,
}

impl DataDir {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(crate) fn database(&self) -> PathBuf {
        self.root.join("trent.db")
    }

    pub(crate) fn root_key(&self) -> PathBuf {
        self.root.join("root.key")
    }

    pub(crate) fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    fn instance_file(&self) -> PathBuf {
        self.root.join("instance.json")
    }

    fn serving_file(&self) -> PathBuf {
        self.root.join("serving.json")
    }

    /// Creates the directory (mode 0700) if needed.
    pub(crate) fn create(&self) -> Result<(), String> {
        create_private_dir(&self.root)
            .map_err(|e| format!("cannot create data directory {}: {e}", self.root.display()))?;
        create_private_dir(&self.tls_dir()).map_err(|e| format!("cannot create {}: {e}", self.tls_dir().display()))
    }

    pub(crate) fn exists(&self) -> bool {
        self.instance_file().exists()
    }
}

#[cfg(unix)]
fn create_private_dir(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if p.exists() {
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(p)?;
    fs::set_permissions(p, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn create_private_dir(p: &Path) -> std::io::Result<()> {
    fs::create_dir_all(p)
}

/// Identity fixed when the data directory is created: key ARNs embed it, so it can never change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Instance {
    pub(crate) account_id: String,
    pub(crate) region: String,
}

impl Instance {
    pub(crate) fn account(&self) -> Result<AccountId, String> {
        AccountId::parse(&self.account_id).ok_or_else(|| format!("account id {:?} must be 12 digits", self.account_id))
    }

    pub(crate) fn region(&self) -> Result<Region, String> {
        Region::parse(&self.region)
            .ok_or_else(|| format!("region {:?} is not a region name like us-east-1", self.region))
    }
}

/// Loads the instance identity, creating it from the flags on first start. Later starts must agree with it:
/// silently serving another account or region would orphan every key ARN.
pub(crate) fn load_or_init(dir: &DataDir, account: Option<&str>, region: Option<&str>) -> Result<Instance, String> {
    let path = dir.instance_file();
    if path.exists() {
        let text = fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let inst: Instance = serde_json::from_str(&text).map_err(|e| format!("{} is damaged: {e}", path.display()))?;
        if let Some(a) = account.filter(|a| *a != inst.account_id) {
            return Err(format!(
                "data directory {} belongs to account {}, not {a}; use another --data-dir for another account",
                dir.root.display(),
                inst.account_id
            ));
        }
        if let Some(r) = region.filter(|r| *r != inst.region) {
            return Err(format!(
                "data directory {} serves region {}, not {r}; use another --data-dir for another region",
                dir.root.display(),
                inst.region
            ));
        }
        return Ok(inst);
    }
    let inst = Instance {
        account_id: account.unwrap_or(DEFAULT_ACCOUNT).to_owned(),
        region: region.unwrap_or(DEFAULT_REGION).to_owned(),
    };
    inst.account()?;
    inst.region()?;
    write_atomic(&path, serde_json::to_string_pretty(&inst).map_err(|e| e.to_string())?.as_bytes())?;
    Ok(inst)
}

pub(crate) const DEFAULT_ACCOUNT: &str = "111122223333";
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// Where the running server can be reached; written at each start so `trent env` can point clients at it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Serving {
    pub(crate) https: Option<String>,
    pub(crate) http: Option<String>,
}

pub(crate) fn write_serving(dir: &DataDir, s: &Serving) -> Result<(), String> {
    write_atomic(&dir.serving_file(), serde_json::to_string_pretty(s).map_err(|e| e.to_string())?.as_bytes())
}

pub(crate) fn read_serving(dir: &DataDir) -> Option<Serving> {
    serde_json::from_str(&fs::read_to_string(dir.serving_file()).ok()?).ok()
}

/// The URL a local client should use for a bound address: wildcard addresses become loopback, which the
/// generated certificate names.
pub(crate) fn client_url(scheme: &str, addr: SocketAddr) -> String {
    let host = match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => "127.0.0.1".to_owned(),
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) if a.ip().is_unspecified() => "[::1]".to_owned(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    format!("{scheme}://{host}:{}", addr.port())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    res.map_err(|e| format!("cannot write {}: {e}", path.display()))
}
