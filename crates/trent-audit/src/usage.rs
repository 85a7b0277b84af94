//! The key-usage index: for each KMS key, its last successful cryptographic operation, so that KMS
//! GetKeyLastUsage answers without reading the trail.
//!
//! The writer updates it after each durable batch (events in trail order, so the newest wins). It is derived
//! data, kept beside the trail in `key-usage.json` (written at shutdown, and when a segment closes at most
//! once a minute, naming the last segment it covers). A clean restart loads it and is done. After a crash
//! (segments newer than the snapshot) or without a usable snapshot (first start of this version, or the file
//! was removed), a background thread reads the missing segments newest first; until it finishes
//! `complete()` is false and callers fall back to searching the trail.

use std::collections::HashMap;
use std::fs;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::event::{AuditEvent, KMS_EVENT_SOURCE};
use crate::record;

pub const SNAPSHOT_FILE: &str = "key-usage.json";

/// The operations AWS tracks for GetKeyLastUsage (`KeyLastUsageTrackingOperation`, less
/// Encapsulate/Decapsulate, which Trent does not implement).
pub const TRACKED: [&str; 12] = [
    "Decrypt",
    "DeriveSharedSecret",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// A key's last tracked use, as GetKeyLastUsage reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyUsage {
    pub operation: String,
    pub event_id: String,
    pub request_id: Option<String>,
    /// `eventTime` (`YYYY-MM-DDTHH:MM:SSZ`).
    pub time: String,
}

impl KeyUsage {
    /// The key ARN and usage an event records, if it is a successful tracked KMS operation on a key.
    pub fn of(event: &AuditEvent) -> Option<(String, KeyUsage)> {
        if event.event_source != KMS_EVENT_SOURCE
            || event.error_code.is_some()
            || !TRACKED.contains(&event.event_name.as_str())
        {
            return None;
        }
        let arn = event.resources.iter().find(|r| r.arn.contains(":key/"))?.arn.clone();
        Some((
            arn,
            KeyUsage {
                operation: event.event_name.clone(),
                event_id: event.event_id.clone(),
                request_id: event.request_id.clone(),
                time: crate::event::format_time(event.event_time),
            },
        ))
    }

    /// The same from a recorded event (a trail line's `event`).
    pub fn of_value(e: &serde_json::Value) -> Option<(String, KeyUsage)> {
        let name = e["eventName"].as_str()?;
        if e["eventSource"].as_str() != Some(KMS_EVENT_SOURCE)
            || e.get("errorCode").is_some()
            || !TRACKED.contains(&name)
        {
            return None;
        }
        let arn = e["resources"].as_array()?.iter().find_map(|r| r["ARN"].as_str().filter(|a| a.contains(":key/")))?;
        Some((
            arn.to_owned(),
            KeyUsage {
                operation: name.to_owned(),
                event_id: e["eventID"].as_str()?.to_owned(),
                request_id: e["requestID"].as_str().map(str::to_owned),
                time: e["eventTime"].as_str()?.to_owned(),
            },
        ))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    /// Every segment up to and including this one is reflected.
    through_segment: u64,
    keys: HashMap<String, KeyUsage>,
}

#[derive(Default)]
pub struct UsageIndex {
    map: Mutex<HashMap<String, KeyUsage>>,
    complete: AtomicBool,
}

/// What the background indexer still has to read: segments `from..=to`, newest first, over `base` (the
/// snapshot, older than all of them).
pub(crate) struct Rebuild {
    from: u64,
    to: u64,
    base: HashMap<String, KeyUsage>,
}

impl UsageIndex {
    /// Loads the snapshot in `dir`. Complete when it covers every closed segment (up to `last_closed`: a
    /// clean restart); otherwise the returned plan must run (in the background) to complete it.
    pub(crate) fn open(dir: &Path, last_closed: u64) -> (Self, Option<Rebuild>) {
        let index = Self::default();
        let snapshot = fs::read(dir.join(SNAPSHOT_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<Snapshot>(&b).ok())
            // A snapshot from a trail that has since lost segments is not trustworthy here.
            .filter(|s| s.through_segment <= last_closed);
        let (from, base) = match snapshot {
            Some(s) => (s.through_segment + 1, s.keys),
            None => (1, HashMap::new()),
        };
        if from > last_closed {
            // A clean restart (the snapshot covers every closed segment), or a new trail.
            *index.lock() = base;
            index.complete.store(true, Ordering::Release);
            return (index, None);
        }
        (index, Some(Rebuild { from, to: last_closed, base }))
    }

    /// Reads the segments of `plan` newest first (the first use found of a key is its last) without
    /// replacing what the writer recorded meanwhile, which is newer still.
    pub(crate) fn rebuild(&self, dir: &Path, plan: Rebuild) {
        let mut found: HashMap<String, KeyUsage> = HashMap::new();
        for n in (plan.from..=plan.to).rev() {
            let mut uses = Vec::new();
            if let Err(e) = scan_segment(dir, n, &mut uses) {
                tracing::warn!(segment = n, error = %e, "key-usage index: cannot read a segment; GetKeyLastUsage keeps searching the trail");
                return;
            }
            for (arn, usage) in uses.into_iter().rev() {
                found.entry(arn).or_insert(usage);
            }
        }
        for (arn, usage) in plan.base {
            found.entry(arn).or_insert(usage);
        }
        let mut map = self.lock();
        for (arn, usage) in found {
            map.entry(arn).or_insert(usage);
        }
        let keys = map.len();
        drop(map);
        self.complete.store(true, Ordering::Release);
        tracing::info!(keys, "key-usage index rebuilt from the audit trail");
    }

    pub fn complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    pub fn get(&self, key_arn: &str) -> Option<KeyUsage> {
        self.lock().get(key_arn).cloned()
    }

    pub(crate) fn record(&self, updates: impl Iterator<Item = (String, KeyUsage)>) {
        let mut map = self.lock();
        for (arn, usage) in updates {
            map.insert(arn, usage);
        }
    }

    /// Writes the snapshot (atomically) naming `through_segment`; only a complete index is worth keeping.
    pub(crate) fn save(&self, dir: &Path, through_segment: u64) {
        if !self.complete() {
            return;
        }
        let json = {
            let map = self.lock();
            serde_json::to_vec(&SnapshotRef { through_segment, keys: &map })
        };
        let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
        let written = json
            .map_err(std::io::Error::other)
            .and_then(|j| fs::write(&tmp, j))
            .and_then(|()| fs::File::open(&tmp)?.sync_all())
            .and_then(|()| fs::rename(&tmp, dir.join(SNAPSHOT_FILE)));
        if let Err(e) = written {
            // Derived data: the next start rebuilds it from the trail.
            tracing::warn!(error = %e, "cannot write the key-usage index snapshot");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeyUsage>> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotRef<'a> {
    through_segment: u64,
    keys: &'a HashMap<String, KeyUsage>,
}

/// The tracked usages of one segment, in trail order.
fn scan_segment(dir: &Path, n: u64, out: &mut Vec<(String, KeyUsage)>) -> std::io::Result<()> {
    let file = match fs::File::open(dir.join(record::segment_name(n))) {
        Ok(f) => f,
        // Deleted by retention meanwhile: nothing to add.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    crate::search::for_each_event(file, |event, _| {
        out.extend(KeyUsage::of_value(&event));
        ControlFlow::Continue(())
    })
}
