//! The audit sink: one writer thread owns the open segment; requests hand it (event, ack) and wait.
//!
//! Group commit: the writer takes whatever is queued (up to `max_batch`), appends it with one write, fsyncs
//! once and acknowledges every submission of the batch. While it is in fsync the queue fills, so the cost of
//! an fsync is shared by every request that arrived meanwhile. A full queue, a failed write or fsync, or an
//! ack that does not come within `ack_timeout` fails the request (fail closed) and never blocks the caller
//! longer than that timeout.
//!
//! The writer is a plain OS thread, not an async task: fsync blocks, and a blocked async worker would stall
//! unrelated requests.
//!
//! Segments are preallocated: the writer fills the file with zeros ahead of its records, in steps of
//! [`PREALLOC_STEP`], and writes each batch over those zeros. `fdatasync` after an append must also commit the
//! new file size through the filesystem journal; after an overwrite of already-allocated blocks it only
//! flushes data. Measured on this machine's ext4 (1.5 KB records): append + fdatasync 650-800 µs and
//! 60-65 µs of CPU, overwrite + fdatasync 125 µs and 40 µs of CPU. A segment that is being written (or whose
//! writer crashed) therefore ends in zeros; records never contain a NUL byte (JSON escapes it), so the first
//! NUL marks the end of the data. A clean close cuts the zeros off.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use trent_crypto::RootKey;
use trent_crypto::signing::SigningKey;

use crate::event::{AuditEvent, format_time};
use crate::export::ExportConfig;
pub(crate) use crate::files::{SegmentFile, data_len, first_seq_of, list_segments, sync_dir};
use crate::files::{create_private_dir, load_or_create_signing_key, open_private, recover_tail, write_zeros};
use crate::record::{self, DigestFields, DigestReason};
use crate::usage::{KeyUsage, UsageIndex};
use crate::{AuditError, AuditFailure};

/// How far ahead of its records a segment is zero-filled. Large enough that the size change (a journal
/// commit) is rare under load (every ~130 ms at 30 MB/s of events), small enough to write in a few ms.
pub(crate) const PREALLOC_STEP: u64 = 4 << 20;

/// How often (at most) a segment close also writes the key-usage index snapshot.
const USAGE_SNAPSHOT_EVERY: Duration = Duration::from_secs(60);

/// Tunables. The defaults suit a single node: a 2 s bound on how long a request may wait for the trail, a
/// signed digest at least every 1,000 records or 10 s of activity, and no gathering window: the events that
/// arrive while one batch is being written and synced form the next batch. Measured with preallocated
/// segments (Encrypt over HTTPS, 2 cores shared with the load generator): a 200 µs window cost 15-20% of the
/// throughput at 16 clients and gained nothing at 64 (25-27k req/s either way; ~7 events per fdatasync
/// without a window, ~27 with 600 µs).
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub queue_capacity: usize,
    pub max_batch: usize,
    pub ack_timeout: Duration,
    /// How long the record of a change that already committed may take to become durable. Answering such a
    /// request with an error would tell the client the change did not happen, so it waits longer than
    /// `ack_timeout` (see [`AuditSink::reserve`]).
    pub committed_ack_timeout: Duration,
    pub digest_every_records: u64,
    pub digest_every: Duration,
    /// Under load (the previous batch held more than one event), how long the writer lingers after the
    /// first event of a batch to gather more before its fsync. Fewer, larger fsyncs cost less CPU and disk
    /// time than many small ones; a lone client (batches of one) never waits for it.
    pub commit_delay: Duration,
    /// A segment is closed (sealed by a `segment-close` digest, cut to its records) and the next one started
    /// once it holds this many bytes...
    pub segment_max_bytes: u64,
    /// ...or once its first event is this old.
    pub segment_max_age: Duration,
    /// Closed segments last written longer ago than this are deleted (after export, when exporting). `None`
    /// keeps everything.
    pub retention: Option<Duration>,
    /// Where the records of committed changes go when the trail cannot take them (`outbox`), to be appended
    /// to the trail once it can. `None`: such a request fails instead (its change has committed all the same).
    pub outbox: Option<PathBuf>,
    /// Where closed segments are exported in CloudTrail's S3 layout. `None`: no export.
    pub export: Option<ExportConfig>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 8192,
            max_batch: 2048,
            ack_timeout: Duration::from_secs(2),
            committed_ack_timeout: Duration::from_secs(30),
            digest_every_records: 1000,
            digest_every: Duration::from_secs(10),
            commit_delay: Duration::ZERO,
            segment_max_bytes: 64 << 20,
            segment_max_age: Duration::from_secs(3600),
            retention: None,
            outbox: None,
            export: None,
        }
    }
}

/// Counters an operator (and later a metrics endpoint) reads.
#[derive(Debug, Default)]
pub struct AuditStats {
    pub events: AtomicU64,
    pub batches: AtomicU64,
    pub digests: AtomicU64,
    pub queue_full: AtomicU64,
    pub timeouts: AtomicU64,
    pub write_errors: AtomicU64,
}

/// Logs the 1st, 2nd, 4th, 8th... occurrence of a failure so that a failure storm cannot flood the log,
/// while the counter keeps the exact number.
fn throttled(counter: &AtomicU64) -> Option<u64> {
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    n.is_power_of_two().then_some(n)
}

pub(crate) struct Submission {
    json: String,
    /// The key use this event records, for the key-usage index (once durable).
    usage: Option<(String, KeyUsage)>,
    ack: oneshot::Sender<Result<(), AuditFailure>>,
    /// The queue slot this event holds while it waits in the channel; the writer gives it back when it takes
    /// the event (as the channel's own bound did).
    slot: Option<OwnedSemaphorePermit>,
}

/// Queue slots taken before a state-changing operation runs, so that its record cannot be refused for a full
/// queue once the change has committed (see [`AuditSink::reserve`]). Dropping it unused gives the slots back.
#[derive(Debug)]
pub struct Reservation {
    slots: OwnedSemaphorePermit,
}

pub(crate) enum Msg {
    Event(Submission),
    /// From the maintenance thread: sign the new start of the trail before segments before `keep_from` are
    /// deleted. Answers whether the digest is durable.
    Retention {
        keep_from: u64,
        ack: mpsc::Sender<bool>,
    },
    Close,
}

/// Wraps each new segment file; tests substitute a failing file.
type Wrap = Box<dyn Fn(File) -> Box<dyn SegmentFile> + Send>;

/// The handle requests use. Cheap to share (`Arc`); `record` may be called from any task.
pub struct AuditSink {
    tx: SyncSender<Msg>,
    stats: Arc<AuditStats>,
    ack_timeout: Duration,
    committed_ack_timeout: Duration,
    /// One permit per event the queue may hold: taken when an event is queued, given back once it is written.
    slots: Arc<Semaphore>,
    /// False from a failed write until the writer has repaired the segment; state-changing requests are refused
    /// before they run while it is false.
    writable: Arc<AtomicBool>,
    outbox: Option<PathBuf>,
    worker: Mutex<Option<JoinHandle<()>>>,
    maintenance: Mutex<Option<JoinHandle<()>>>,
    dir: PathBuf,
    usage: Arc<UsageIndex>,
}

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSink").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl AuditSink {
    /// Opens (creating if needed) the trail in `dir`: loads or creates the signing key (stored wrapped under
    /// `root`, public half in `public-key.pem`), continues the hash chain from the newest segment and starts
    /// a new segment for this run.
    pub fn open(dir: &Path, root: &RootKey, config: AuditConfig) -> Result<Self, AuditError> {
        Self::open_with(dir, root, config, |f| Box::new(f))
    }

    pub(crate) fn open_with(
        dir: &Path,
        root: &RootKey,
        config: AuditConfig,
        wrap: impl Fn(File) -> Box<dyn SegmentFile> + Send + 'static,
    ) -> Result<Self, AuditError> {
        create_private_dir(dir)?;
        let key = load_or_create_signing_key(dir, root)?;
        let tail = recover_tail(dir)?;
        let number = tail.last_segment + 1;
        let path = dir.join(record::segment_name(number));
        let file = open_private(&path)?;
        sync_dir(dir)?;
        let fingerprint = record::key_fingerprint(&key.public_key());
        let stats = Arc::new(AuditStats::default());
        // Every segment before this run's is closed now (a crashed one was cut back by `recover_tail`).
        let (usage, rebuild) = UsageIndex::open(dir, tail.last_segment);
        let usage = Arc::new(usage);
        if let Some(plan) = rebuild {
            let (u, d) = (usage.clone(), dir.to_owned());
            std::thread::Builder::new()
                .name("trent-audit-index".into())
                .spawn(move || u.rebuild(&d, plan))
                .map_err(|e| AuditError::Io(format!("cannot start the key-usage indexer: {e}")))?;
        }
        let current = Arc::new(AtomicU64::new(number));
        let queue_capacity = config.queue_capacity.max(1);
        // Events are bounded by `slots`; the channel also carries the rare control messages.
        let (tx, rx) = mpsc::sync_channel(queue_capacity + 16);
        let writable = Arc::new(AtomicBool::new(true));
        let (closed_tx, closed_rx) = mpsc::channel();
        let maintenance = (config.retention.is_some() || config.export.is_some())
            .then(|| crate::maintenance::Maintenance::new(dir, &config, current.clone(), tx.clone()));
        let mut writer = Writer {
            file: wrap(file),
            wrap: Box::new(wrap),
            dir: dir.to_owned(),
            segment: number,
            segment_started: None,
            current,
            closed: maintenance.is_some().then_some(closed_tx),
            trail_start: None,
            usage: usage.clone(),
            usage_saved: Instant::now(),
            committed_len: 0,
            allocated_len: 0,
            dirty_end: 0,
            next_seq: tail.last_seq + 1,
            head: tail.head,
            key,
            fingerprint,
            digest_from: tail.last_seq + 1,
            last_digest_at: Instant::now(),
            needs_repair: false,
            writable: writable.clone(),
            outbox: config.outbox.clone(),
            last_batch_len: 0,
            config: config.clone(),
            stats: stats.clone(),
        };
        if tail.last_seq > 0 && !tail.clean {
            // The previous run ended without its shutdown digest (crash or kill): sign the head as found so
            // the trail says so here, in a signed record, rather than looking cut.
            tracing::warn!(last_seq = tail.last_seq, "audit trail was not closed cleanly; recording a recovery digest");
            writer.write_batch(Vec::new(), Some(DigestReason::Recovered));
            if writer.needs_repair {
                return Err(AuditError::Io(format!("cannot write to {}", path.display())));
            }
        }
        let worker = std::thread::Builder::new()
            .name("trent-audit-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| AuditError::Io(format!("cannot start the audit writer: {e}")))?;
        let maintenance = match maintenance {
            Some(m) => Some(
                std::thread::Builder::new()
                    .name("trent-audit-maintenance".into())
                    .spawn(move || m.run(closed_rx))
                    .map_err(|e| AuditError::Io(format!("cannot start the audit maintenance thread: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            tx,
            stats,
            ack_timeout: config.ack_timeout,
            committed_ack_timeout: config.committed_ack_timeout,
            slots: Arc::new(Semaphore::new(queue_capacity)),
            writable,
            outbox: config.outbox.clone(),
            worker: Mutex::new(Some(worker)),
            maintenance: Mutex::new(maintenance),
            dir: dir.to_owned(),
            usage,
        })
    }

    /// Serializes `event` once, queues it and waits until it is on disk. An error means the event is not
    /// known to be durable and the request must fail.
    pub async fn record(&self, event: &AuditEvent) -> Result<(), AuditFailure> {
        let slot = self.take_slots(1)?;
        let done = self.submit(event, slot)?;
        self.await_ack(done, self.ack_timeout).await
    }

    /// Takes `events` queue slots for a request that will change state, BEFORE it runs: the trail must be able
    /// to take the request's record once the change has committed. Refused (and the request with it, having
    /// changed nothing) when the queue is full or the trail's last write failed and is not repaired yet.
    ///
    /// What this closes: a full queue or a failing disk used to turn a committed CreateKey into an internal
    /// error with no record, and the client's retry created a second key. What remains open: the process
    /// dying between the commit and the record's write, and a disk that fails during that very write.
    pub fn reserve(&self, events: u32) -> Result<Reservation, AuditFailure> {
        if !self.writable.load(Ordering::Acquire) {
            return Err(AuditFailure::Write);
        }
        Ok(Reservation { slots: self.take_slots(events.max(1))? })
    }

    /// Records the events of a request whose change committed, in the slots `reservation` holds (more are
    /// taken if it needs more), and waits up to `committed_ack_timeout` for all of them to be durable.
    pub async fn record_committed(&self, events: &[AuditEvent], reservation: Reservation) -> Result<(), AuditFailure> {
        let Some((last, first)) = events.split_last() else { return Ok(()) };
        let mut slots = reservation.slots;
        let mut pending = Vec::with_capacity(events.len());
        for event in first {
            // One reserved slot each while more than one is left (the last event keeps the rest); past the
            // reservation, a slot is taken like any other event's.
            let slot = match slots.num_permits() > 1 {
                true => slots.split(1).ok_or(AuditFailure::QueueFull)?,
                false => self.take_slots(1)?,
            };
            pending.push(self.submit(event, slot)?);
        }
        pending.push(self.submit(last, slots)?);
        let mut failed = None;
        for done in pending {
            if let Err(f) = self.await_ack(done, self.committed_ack_timeout).await {
                failed.get_or_insert(f);
            }
        }
        let Some(failure) = failed else { return Ok(()) };
        // The change has committed; its record must not be lost, nor the client told that nothing happened.
        let Some(dir) = &self.outbox else { return Err(failure) };
        let records = events.iter().map(AuditEvent::to_json).collect::<Result<Vec<_>, _>>();
        let records = records.map_err(|e| AuditFailure::Encode(e.to_string()))?;
        match crate::outbox::put(dir, &records) {
            Ok(path) => {
                tracing::warn!(%failure, file = %path.display(), "audit trail could not take a committed change's record; kept in the outbox until it can");
                Ok(())
            }
            Err(e) => {
                tracing::error!(%failure, error = %e, "audit outbox could not take a committed change's record either");
                Err(failure)
            }
        }
    }

    fn take_slots(&self, n: u32) -> Result<OwnedSemaphorePermit, AuditFailure> {
        self.slots.clone().try_acquire_many_owned(n).map_err(|_| {
            if let Some(n) = throttled(&self.stats.queue_full) {
                tracing::error!(count = n, "audit queue is full; refusing requests until the trail catches up");
            }
            AuditFailure::QueueFull
        })
    }

    fn submit(
        &self,
        event: &AuditEvent,
        slot: OwnedSemaphorePermit,
    ) -> Result<oneshot::Receiver<Result<(), AuditFailure>>, AuditFailure> {
        let json = event.to_json().map_err(|e| AuditFailure::Encode(e.to_string()))?;
        let usage = KeyUsage::of(event);
        let (ack, done) = oneshot::channel();
        match self.tx.try_send(Msg::Event(Submission { json, usage, ack, slot: Some(slot) })) {
            Ok(()) => Ok(done),
            // Cannot happen while events hold slots (the channel has room for every slot), kept fail-closed.
            Err(TrySendError::Full(_)) => Err(AuditFailure::QueueFull),
            Err(TrySendError::Disconnected(_)) => Err(AuditFailure::Closed),
        }
    }

    async fn await_ack(
        &self,
        done: oneshot::Receiver<Result<(), AuditFailure>>,
        timeout: Duration,
    ) -> Result<(), AuditFailure> {
        match tokio::time::timeout(timeout, done).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AuditFailure::Closed),
            Err(_) => {
                if let Some(n) = throttled(&self.stats.timeouts) {
                    tracing::error!(
                        count = n,
                        timeout_ms = timeout.as_millis() as u64,
                        "audit write timed out; refusing the request"
                    );
                }
                Err(AuditFailure::Timeout)
            }
        }
    }

    pub fn stats(&self) -> &AuditStats {
        &self.stats
    }

    /// Each key's last successful cryptographic operation (KMS GetKeyLastUsage).
    pub fn key_usage(&self) -> &UsageIndex {
        &self.usage
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes what is queued, then the shutdown digest, and stops the writer. Blocks until done; call once
    /// the server has stopped taking requests. Later `record` calls fail with `Closed`.
    pub fn close(&self) {
        let worker = match self.worker.lock() {
            Ok(mut w) => w.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(worker) = worker {
            // A blocking send: the writer drains the queue, so this waits at most for the backlog.
            let _ = self.tx.send(Msg::Close);
            if worker.join().is_err() {
                tracing::error!("audit writer panicked while closing");
            }
        }
        // The writer's end of the maintenance channel is gone now: the thread finishes its current export.
        let maintenance = match self.maintenance.lock() {
            Ok(mut m) => m.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(m) = maintenance
            && m.join().is_err()
        {
            tracing::error!("audit maintenance thread panicked");
        }
    }
}

impl Drop for AuditSink {
    fn drop(&mut self) {
        self.close();
    }
}

struct Writer {
    file: Box<dyn SegmentFile>,
    wrap: Wrap,
    dir: PathBuf,
    /// Number of the open segment, and when its first record was written.
    segment: u64,
    segment_started: Option<Instant>,
    /// The open segment's number, for the maintenance thread (which never touches it).
    current: Arc<AtomicU64>,
    /// Tells the maintenance thread about each closed segment; `None` without retention or export.
    closed: Option<mpsc::Sender<u64>>,
    /// Set for the next digest only: a retention digest's `trailStart`.
    trail_start: Option<u64>,
    usage: Arc<UsageIndex>,
    usage_saved: Instant,
    /// Bytes of the segment that are acknowledged (written and synced).
    committed_len: u64,
    /// Bytes of the segment known to hold records or zeros (written); beyond it the file may end.
    allocated_len: u64,
    /// After a failed batch: bytes up to here may hold unacknowledged data and are zeroed before the next one.
    dirty_end: u64,
    /// Chain state as of the last acknowledged record.
    next_seq: u64,
    head: [u8; 32],
    key: SigningKey,
    fingerprint: String,
    /// First record not yet covered by a digest.
    digest_from: u64,
    last_digest_at: Instant,
    /// A batch failed part-way: `[committed_len, dirty_end)` may hold unacknowledged bytes to zero first.
    needs_repair: bool,
    /// Shared with the sink: false while a failed write is not repaired.
    writable: Arc<AtomicBool>,
    /// Records of committed changes waiting to be appended (see `outbox`).
    outbox: Option<PathBuf>,
    /// Size of the previous batch: more than one means requests are arriving concurrently.
    last_batch_len: usize,
    config: AuditConfig,
    stats: Arc<AuditStats>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        // Records a previous run kept in the outbox come first: they are older than anything queued now.
        self.redrive_outbox();
        let mut closing = false;
        while !closing {
            // Wake up at least every digest interval, so that a quiet trail still gets its timed digest.
            let first = match rx.recv_timeout(self.config.digest_every) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            if first.is_none() && self.needs_repair {
                // Nothing queued (state-changing requests are refused while the trail is not writable): try
                // the repair on the idle tick, so the trail becomes writable again without waiting for a read.
                self.write_batch(Vec::new(), None);
            }
            if first.is_none() && !self.needs_repair {
                self.redrive_outbox();
            }
            if first.is_some() && self.last_batch_len > 1 && !self.config.commit_delay.is_zero() {
                std::thread::sleep(self.config.commit_delay);
            }
            let mut batch = Vec::new();
            let mut next = first;
            while let Some(msg) = next {
                match msg {
                    // A caller that already gave up (timeout) has answered its client with an error; skip
                    // its event rather than record a call as succeeded that the client saw fail.
                    Msg::Event(s) if s.ack.is_closed() => {}
                    Msg::Event(mut s) => {
                        s.slot = None;
                        batch.push(s);
                    }
                    Msg::Retention { keep_from, ack } => {
                        // Rare: write what is gathered so far first, so that the digest follows it.
                        self.write_batch(std::mem::take(&mut batch), None);
                        let _ = ack.send(self.sign_retention(keep_from));
                    }
                    Msg::Close => closing = true,
                }
                if batch.len() >= self.config.max_batch {
                    break;
                }
                next = rx.try_recv().ok();
            }
            // Records not yet covered by a digest, counting this batch.
            let pending = self.next_seq - self.digest_from + batch.len() as u64;
            let due = pending > 0
                && (pending >= self.config.digest_every_records
                    || self.last_digest_at.elapsed() >= self.config.digest_every);
            self.last_batch_len = batch.len();
            if !batch.is_empty() || due {
                self.write_batch(batch, due.then_some(DigestReason::Interval));
            }
            if !closing {
                self.rotate_if_due();
            }
        }
        // Closing, or every sender is gone: seal the trail so that a cut tail is detectable.
        self.write_batch(Vec::new(), Some(DigestReason::Shutdown));
        self.cut_preallocation();
        self.usage.save(&self.dir, self.segment);
        let s = &self.stats;
        tracing::info!(
            events = s.events.load(Ordering::Relaxed),
            batches = s.batches.load(Ordering::Relaxed),
            digests = s.digests.load(Ordering::Relaxed),
            queue_full = s.queue_full.load(Ordering::Relaxed),
            timeouts = s.timeouts.load(Ordering::Relaxed),
            write_errors = s.write_errors.load(Ordering::Relaxed),
            "audit trail closed"
        );
    }

    /// Appends the batch (and a digest, if asked), fsyncs once and acknowledges every submission.
    fn write_batch(&mut self, mut batch: Vec<Submission>, digest: Option<DigestReason>) {
        if self.needs_repair {
            match write_zeros(self.file.as_mut(), self.committed_len, self.dirty_end).and_then(|()| self.file.sync()) {
                Ok(()) => {
                    tracing::info!("audit trail writable again");
                    self.needs_repair = false;
                    self.writable.store(true, Ordering::Release);
                    self.allocated_len = self.dirty_end;
                }
                Err(e) => return self.fail(batch, &e),
            }
        }
        let mut buf = Vec::with_capacity(batch.iter().map(|s| s.json.len() + 100).sum::<usize>() + 400);
        let mut seq = self.next_seq;
        let mut head = self.head;
        for s in &batch {
            let start = buf.len();
            record::event_line(seq, &head, &s.json, &mut buf);
            head = record::hash_line(&buf[start..]);
            buf.push(b'\n');
            seq += 1;
        }
        if let Some(reason) = digest {
            let prev = trent_crypto::digest::hex(&head);
            let time = format_time(SystemTime::now());
            let fields = DigestFields {
                seq,
                prev: &prev,
                reason: reason.as_str(),
                time: &time,
                first_seq: self.digest_from,
                last_seq: seq - 1,
                trail_start: self.trail_start.take(),
            };
            let line = record::digest_line(&fields, &self.fingerprint, |m| self.key.sign(m));
            head = record::hash_line(&line);
            buf.extend_from_slice(&line);
            buf.push(b'\n');
            seq += 1;
        }
        if buf.is_empty() {
            return;
        }
        let end = self.committed_len + buf.len() as u64;
        // Zero-fill ahead first; the batch's one fdatasync then covers the zeros, the new size and the records.
        let grow_to = (end > self.allocated_len).then(|| end.next_multiple_of(PREALLOC_STEP) + PREALLOC_STEP);
        let written = match grow_to {
            Some(to) => write_zeros(self.file.as_mut(), self.allocated_len, to),
            None => Ok(()),
        };
        if let Err(e) =
            written.and_then(|()| self.file.write_at(self.committed_len, &buf)).and_then(|()| self.file.sync())
        {
            // Part of the batch (or of the zeros) may be in the file; it is zeroed before the next batch.
            self.needs_repair = true;
            self.dirty_end = self.dirty_end.max(grow_to.unwrap_or(end)).max(self.allocated_len);
            return self.fail(batch, &e);
        }
        if let Some(to) = grow_to {
            self.allocated_len = to;
        }
        self.committed_len += buf.len() as u64;
        self.segment_started.get_or_insert_with(Instant::now);
        self.stats.events.fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.next_seq = seq;
        self.head = head;
        if digest.is_some() {
            self.stats.digests.fetch_add(1, Ordering::Relaxed);
            self.digest_from = seq;
            self.last_digest_at = Instant::now();
        }
        // Before the acks: a GetKeyLastUsage after the reply must see this use.
        self.usage.record(batch.iter_mut().filter_map(|s| s.usage.take()));
        for s in batch {
            // The caller may have timed out meanwhile; nothing to tell it then.
            let _ = s.ack.send(Ok(()));
        }
    }

    /// Appends the outbox's records to the trail, oldest file first, deleting each file once its records are
    /// durable. Stops at the first failure; the next idle tick tries again.
    fn redrive_outbox(&mut self) {
        let Some(dir) = self.outbox.clone() else { return };
        for path in crate::outbox::pending(&dir) {
            let records = match crate::outbox::read(&path) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read an audit outbox file; leaving it for the operator");
                    continue;
                }
            };
            let batch = records
                .into_iter()
                .map(|json| {
                    // Nobody waits for these acks: the request was answered when the file was written.
                    let (ack, _) = oneshot::channel();
                    Submission { json, usage: None, ack, slot: None }
                })
                .collect();
            self.write_batch(batch, None);
            if self.needs_repair {
                return;
            }
            match crate::outbox::remove(&path) {
                Ok(()) => tracing::info!(file = %path.display(), "audit outbox records appended to the trail"),
                Err(e) => {
                    tracing::error!(error = %e, "cannot remove an appended audit outbox file; its records may be appended again")
                }
            }
        }
    }

    /// Closes the open segment and starts the next one when it is full or old enough.
    fn rotate_if_due(&mut self) {
        let full = self.committed_len >= self.config.segment_max_bytes;
        let old = self.segment_started.is_some_and(|t| t.elapsed() >= self.config.segment_max_age);
        if !(full || old) || self.needs_repair {
            return;
        }
        self.write_batch(Vec::new(), Some(DigestReason::SegmentClose));
        if self.needs_repair {
            return;
        }
        self.cut_preallocation();
        let number = self.segment + 1;
        let path = self.dir.join(record::segment_name(number));
        let file = match open_private(&path).and_then(|f| sync_dir(&self.dir).map(|()| f)) {
            Ok(f) => f,
            Err(e) => {
                // Keep writing to the current segment (the chain does not care); try again after the next batch.
                if let Some(n) = throttled(&self.stats.write_errors) {
                    tracing::error!(error = %e, count = n, "cannot start a new audit segment; continuing in the current one");
                }
                return;
            }
        };
        let closed = self.segment;
        self.file = (self.wrap)(file);
        self.segment = number;
        self.segment_started = None;
        self.committed_len = 0;
        self.allocated_len = 0;
        self.dirty_end = 0;
        self.current.store(number, Ordering::Relaxed);
        tracing::info!(closed = %record::segment_name(closed), "audit segment closed");
        // The snapshot shortens the work after a crash; with many keys it is large, so not at every close.
        if self.usage_saved.elapsed() >= USAGE_SNAPSHOT_EVERY {
            self.usage.save(&self.dir, closed);
            self.usage_saved = Instant::now();
        }
        if let Some(tx) = &self.closed {
            let _ = tx.send(closed);
        }
    }

    /// Writes a retention digest naming the first record kept: the first of segment `keep_from`, or (when that
    /// is the open segment and it is still empty) this digest itself.
    fn sign_retention(&mut self, keep_from: u64) -> bool {
        let start = if keep_from == self.segment && self.committed_len == 0 {
            Some(self.next_seq)
        } else {
            first_seq_of(&self.dir.join(record::segment_name(keep_from)))
        };
        let Some(start) = start else {
            tracing::warn!(segment = keep_from, "retention: cannot read the first record to keep; deleting nothing");
            return false;
        };
        self.trail_start = Some(start);
        self.write_batch(Vec::new(), Some(DigestReason::Retention));
        self.trail_start = None;
        !self.needs_repair
    }

    /// Drops the unused zeros at the end of the segment, so that a closed segment holds only its records.
    fn cut_preallocation(&mut self) {
        if self.needs_repair {
            // What follows the acknowledged records is unknown; cutting it is exactly the repair.
            tracing::info!("cutting unacknowledged bytes from the audit segment");
        }
        match self.file.set_len_synced(self.committed_len) {
            Ok(()) => {
                self.allocated_len = self.committed_len;
                self.dirty_end = self.committed_len;
                self.needs_repair = false;
            }
            Err(e) => {
                // Harmless for the trail (readers stop at the zeros, the next start cuts them), worth a line.
                tracing::warn!(error = %e, "could not cut the preallocated end of the audit segment");
            }
        }
    }

    fn fail(&self, batch: Vec<Submission>, e: &io::Error) {
        self.writable.store(false, Ordering::Release);
        if let Some(n) = throttled(&self.stats.write_errors) {
            tracing::error!(error = %e, count = n, refused = batch.len(), "audit trail write failed; refusing requests until it can be written");
        }
        for s in batch {
            let _ = s.ack.send(Err(AuditFailure::Write));
        }
    }
}
