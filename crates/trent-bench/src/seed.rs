//! `trent-bench seed`: fills a stopped Trent's data directory with N keys through the service layer, in
//! large transactions, so the million-key benchmark row takes a minute rather than hours of fsyncs.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use trent_core::clock::SystemClock;
use trent_core::ids::{AccountId, Region};
use trent_core::root_key::{FileRootKey, RootKeyProvider};
use trent_core::service::{Caller, Kms};
use trent_store::SqliteStore;

/// Keys per transaction: large enough that the commit's fsync is noise, small enough to keep memory flat.
const BATCH: usize = 10_000;

/// The part of `instance.json` (written by `trent serve` on first start) that key ARNs depend on.
#[derive(Deserialize)]
struct Instance {
    account_id: String,
    region: String,
}

pub(crate) fn seed(data_dir: &Path, n: usize, quiet: bool) -> Result<serde_json::Value, String> {
    let instance_file = data_dir.join("instance.json");
    let text = std::fs::read_to_string(&instance_file).map_err(|e| {
        format!(
            "{}: {e}; start `trent serve --data-dir {}` once (and stop it) before seeding",
            instance_file.display(),
            data_dir.display()
        )
    })?;
    let inst: Instance = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", instance_file.display()))?;
    let account = AccountId::parse(&inst.account_id).ok_or("instance.json: bad account id")?;
    let region = Region::parse(&inst.region).ok_or("instance.json: bad region")?;
    let root = FileRootKey::new(data_dir.join("root.key")).load().map_err(|e| e.to_string())?;
    let db_path = data_dir.join("trent.db");
    let store = SqliteStore::open(&db_path).map_err(|e| format!("opening {}: {e}", db_path.display()))?;
    let kms = Kms::new(Arc::new(store), Arc::new(root), Arc::new(SystemClock), region);
    let caller = Caller::root(account);

    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let batch = BATCH.min(n - done);
        kms.create_keys_bulk(&caller, batch, "trent-bench seed").map_err(|e| e.to_string())?;
        done += batch;
        if !quiet {
            eprintln!("seed: {done}/{n} keys, {:.1}s", started.elapsed().as_secs_f64());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(kms); // closes the database so its size below includes a checkpointed WAL where SQLite did one
    Ok(serde_json::json!({
        "keys_created": n,
        "seconds": seconds,
        "keys_per_second": n as f64 / seconds.max(1e-9),
        "db_bytes": db_bytes(&db_path),
    }))
}

/// The database with its WAL: what the store occupies on disk.
pub(crate) fn db_bytes(db: &Path) -> u64 {
    let wal = db.with_extension("db-wal");
    [db, wal.as_path()].iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}
