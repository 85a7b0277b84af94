//! The maintenance thread: exports closed segments and deletes those past the retention period.
//!
//! It never touches the open segment and never blocks the writer: it learns about closed segments from the
//! writer, and before it deletes anything it asks the writer for a signed `retention` digest naming the first
//! record the trail keeps, so that `trent audit verify` can tell retention from a removal. Segments are
//! deleted oldest first and only as an unbroken prefix; with export on, only once exported.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, SystemTime};

use crate::export::{self, ExportConfig};
use crate::record;
use crate::writer::{AuditConfig, Msg, list_segments, sync_dir};

/// How often retention is checked when no segment closes.
const IDLE_CHECK: Duration = Duration::from_secs(600);
/// How long to wait for the writer's retention digest.
const DIGEST_WAIT: Duration = Duration::from_secs(30);

pub(crate) struct Maintenance {
    dir: PathBuf,
    retention: Option<Duration>,
    export: Option<ExportConfig>,
    /// The open segment's number (owned by the writer).
    current: Arc<AtomicU64>,
    writer: SyncSender<Msg>,
}

impl Maintenance {
    pub(crate) fn new(dir: &Path, config: &AuditConfig, current: Arc<AtomicU64>, writer: SyncSender<Msg>) -> Self {
        Self { dir: dir.to_owned(), retention: config.retention, export: config.export.clone(), current, writer }
    }

    pub(crate) fn run(self, closed: Receiver<u64>) {
        loop {
            self.export_closed();
            self.apply_retention();
            match closed.recv_timeout(IDLE_CHECK) {
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                // The writer stopped: the sink is closing.
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    /// Exports every segment before the open one that is not exported yet (older ones too: a previous run may
    /// have stopped before exporting them).
    fn export_closed(&self) {
        let Some(cfg) = &self.export else { return };
        let current = self.current.load(Ordering::Relaxed);
        let segments = match list_segments(&self.dir) {
            Ok(s) => s,
            Err(e) => return tracing::error!(error = %e, "audit export: cannot list segments"),
        };
        let closed: Vec<u64> = segments.into_iter().filter(|&n| n < current).collect();
        match export::export_segments(&self.dir, cfg, &closed) {
            Ok(s) if s.segments > 0 => {
                tracing::info!(segments = s.segments, files = s.files, events = s.events, "audit segments exported");
            }
            Ok(_) => {}
            // Retried at the next closed segment or idle check; retention waits for it.
            Err(e) => tracing::error!(error = %e, "audit export failed"),
        }
    }

    fn apply_retention(&self) {
        let Some(keep) = self.retention else { return };
        let current = self.current.load(Ordering::Relaxed);
        let segments = match list_segments(&self.dir) {
            Ok(s) => s,
            Err(e) => return tracing::error!(error = %e, "audit retention: cannot list segments"),
        };
        let now = SystemTime::now();
        let mut doomed = Vec::new();
        for &n in &segments {
            if n >= current {
                break;
            }
            let path = self.dir.join(record::segment_name(n));
            let expired = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age >= keep));
            let exported = self.export.as_ref().is_none_or(|cfg| export::is_exported(cfg, n));
            if !expired || !exported {
                break;
            }
            doomed.push(n);
        }
        let Some(&last) = doomed.last() else { return };
        let keep_from = segments.iter().copied().find(|&n| n > last).unwrap_or(current);
        let (ack, answer) = mpsc::channel();
        if self.writer.send(Msg::Retention { keep_from, ack }).is_err() {
            return;
        }
        if answer.recv_timeout(DIGEST_WAIT) != Ok(true) {
            tracing::error!("audit retention: the retention digest was not written; deleting nothing");
            return;
        }
        for n in &doomed {
            let path = self.dir.join(record::segment_name(*n));
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::error!(segment = %path.display(), error = %e, "audit retention: cannot delete");
                break;
            }
        }
        if let Err(e) = sync_dir(&self.dir) {
            tracing::warn!(error = %e, "audit retention: cannot sync the trail directory");
        }
        tracing::info!(deleted = doomed.len(), keep_from, "audit retention applied");
    }
}
