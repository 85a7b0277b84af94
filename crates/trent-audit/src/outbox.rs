//! The outbox: records of changes that committed while the trail could not take them.
//!
//! A state-changing request reserves its record's place before it runs (`AuditSink::reserve`), so a full queue
//! or a trail known to be failing refuses it before anything changes. What the reservation cannot prevent is
//! the trail failing during that very write (or taking longer than `committed_ack_timeout`) after the change
//! committed. Answering an error then would tell the client that nothing happened, and a retry would repeat
//! the change (a second key). Instead the records go to the outbox, one fsynced file per request, kept beside
//! the store (whose disk just took the change's commit), and the request succeeds. The writer appends outbox
//! files to the trail as soon as it can write again, at its next start at the latest, and deletes each once it
//! is durable in the trail.
//!
//! Delivery is at least once: a record whose write was only slow may reach the trail both ways; the copies
//! carry the same `eventID`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::AuditError;
use crate::files::{create_private_dir, sync_dir, write_new_file};

/// Writes `records` (serialized events, one per line) as one durable outbox file in `dir`.
pub(crate) fn put(dir: &Path, records: &[String]) -> Result<PathBuf, AuditError> {
    create_private_dir(dir)?;
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    // Time first, so that names sort in the order the records were put; the event id keeps names unique.
    let name = format!("{nanos:024}-{}.jsonl", crate::event::fresh_uuid());
    let path = dir.join(name);
    let mut text = records.join("\n");
    text.push('\n');
    write_new_file(&path, text.as_bytes())?;
    sync_dir(dir)?;
    Ok(path)
}

/// The outbox files waiting in `dir`, oldest first. A missing directory is an empty outbox.
pub(crate) fn pending(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

/// The records of one outbox file.
pub(crate) fn read(path: &Path) -> Result<Vec<String>, AuditError> {
    let text = fs::read_to_string(path).map_err(|e| AuditError::Io(format!("reading {}: {e}", path.display())))?;
    Ok(text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
}

/// Deletes an outbox file whose records are durable in the trail.
pub(crate) fn remove(path: &Path) -> Result<(), AuditError> {
    fs::remove_file(path).map_err(|e| AuditError::Io(format!("removing {}: {e}", path.display())))?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}
