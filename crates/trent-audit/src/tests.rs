//! Writer and verifier tests: group commit, chain and digests, tampering of every kind, fail-closed writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use trent_crypto::RootKey;

use crate::event::KMS_EVENT_SOURCE;
use crate::writer::SegmentFile;
use crate::*;

fn root() -> RootKey {
    RootKey::from_secret(&RootKey::generate_material().unwrap()).unwrap()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "trent-audit-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn config() -> AuditConfig {
    AuditConfig { digest_every_records: 4, ..AuditConfig::default() }
}

fn event(name: &str) -> AuditEvent {
    let mut e = AuditEvent::api_call(KMS_EVENT_SOURCE, name, "us-east-1");
    e.request_id = Some(format!("req-{name}"));
    e
}

async fn write_events(dir: &Path, root: &RootKey, n: usize) {
    let sink = AuditSink::open(dir, root, config()).unwrap();
    for i in 0..n {
        sink.record(&event(&format!("Op{i}"))).await.unwrap();
    }
    sink.close();
}

/// Verifies in both modes. A stopped trail's tampering is caught the same way by both; live mode names a
/// cut tail (no shutdown digest in a closed segment) `CutTail` where strict mode says `TruncatedTail`.
fn verify_both(dir: &Path) -> Result<VerifyReport, VerifyError> {
    let strict = verify(dir);
    let live = verify_with(dir, VerifyMode::Live, &mut |_, _| {});
    match (&strict, &live) {
        (
            Err(VerifyError::TruncatedTail { at, after_digest }),
            Err(VerifyError::CutTail { at: live_at, after_digest: live_after }),
        ) => assert_eq!((at, after_digest), (live_at, live_after)),
        _ => assert_eq!(strict, live, "strict and live verification disagree"),
    }
    strict
}

fn segment(dir: &Path, n: u64) -> PathBuf {
    dir.join(record::segment_name(n))
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

/// A trail of 10 events in one segment: digests after records 4 and 9 (every 4 records, counting the
/// digest's own predecessors), then events, then the shutdown digest.
async fn sample_trail(name: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(name);
    write_events(&dir.0, &root(), 10).await;
    let seg = segment(&dir.0, 1);
    (dir, seg)
}

#[tokio::test]
async fn untouched_trail_verifies_with_chain_and_digests() {
    let (dir, seg) = sample_trail("ok").await;
    let report = verify_both(&dir.0).unwrap();
    assert_eq!(report.events, 10);
    assert!(report.digests >= 3, "interval digests plus the shutdown digest: {report:?}");
    assert_eq!(report.records, report.events + report.digests);
    assert_eq!(report.recoveries, 0);
    let all = lines(&seg);
    assert!(all.last().unwrap().contains("\"reason\":\"shutdown\""));
    assert!(all[0].contains(&format!("\"prev\":\"{}\"", "0".repeat(64))));
    // Every record chains to the previous line's hash.
    for w in all.windows(2) {
        let prev = trent_crypto::digest::hex(&record::hash_line(w[0].as_bytes()));
        assert!(w[1].contains(&prev));
    }
    let pem = fs::read_to_string(dir.0.join(record::PUBLIC_KEY_FILE)).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
}

#[tokio::test]
async fn one_edited_byte_is_named() {
    let (dir, seg) = sample_trail("edit").await;
    let mut bytes = fs::read(&seg).unwrap();
    // Line 3 is an event; change one letter of its eventName.
    let line3_start = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).unwrap().0 + 1;
    let pos = line3_start + fs::read_to_string(&seg).unwrap()[line3_start..].find("\"Op2\"").unwrap() + 2;
    bytes[pos] ^= 0x01;
    fs::write(&seg, bytes).unwrap();
    match verify_both(&dir.0) {
        Err(VerifyError::Changed { at, seq, .. }) => assert_eq!((at.line, seq), (3, 3)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_deleted_record_is_named() {
    let (dir, seg) = sample_trail("delete").await;
    let mut all = lines(&seg);
    all.remove(4);
    write_lines(&seg, &all);
    match verify_both(&dir.0) {
        Err(VerifyError::Removed { at, expected, found }) => assert_eq!((at.line, expected, found), (5, 5, 6)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn swapped_records_are_named() {
    let (dir, seg) = sample_trail("swap").await;
    let mut all = lines(&seg);
    all.swap(1, 2);
    write_lines(&seg, &all);
    match verify_both(&dir.0) {
        Err(VerifyError::Reordered { at, expected, found }) => assert_eq!((at.line, expected, found), (2, 2, 3)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_inserted_record_is_named() {
    let (dir, seg) = sample_trail("insert").await;
    let mut all = lines(&seg);
    let copy = all[1].clone();
    all.insert(6, copy);
    write_lines(&seg, &all);
    match verify_both(&dir.0) {
        Err(VerifyError::Inserted { at, .. }) => assert_eq!(at.line, 7),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn truncation_is_detected() {
    let (dir, seg) = sample_trail("truncate").await;
    let original = fs::read(&seg).unwrap();
    // Whole records cut, shutdown digest gone.
    let mut all = lines(&seg);
    all.truncate(all.len() - 2);
    write_lines(&seg, &all);
    assert!(matches!(verify_both(&dir.0), Err(VerifyError::TruncatedTail { .. })), "{:?}", verify_both(&dir.0));
    // Cut in the middle of a line.
    fs::write(&seg, &original[..original.len() - 10]).unwrap();
    match verify_both(&dir.0) {
        Err(VerifyError::PartialLine { at }) => assert_eq!(at.line as usize, lines(&seg).len()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_forged_digest_is_refused() {
    let (dir, seg) = sample_trail("forge").await;
    let mut all = lines(&seg);
    let last = all.len() - 1;
    all[last] = all[last].replace("\"reason\":\"shutdown\"", "\"reason\":\"interval\"");
    write_lines(&seg, &all);
    assert!(matches!(verify_both(&dir.0), Err(VerifyError::BadSignature { .. })));
}

#[tokio::test]
async fn chain_continues_across_restarts_and_crashes() {
    let dir = TempDir::new("restart");
    let root = root();
    write_events(&dir.0, &root, 3).await;
    write_events(&dir.0, &root, 2).await;
    let r = verify_both(&dir.0).unwrap();
    assert_eq!((r.segments, r.events, r.recoveries), (2, 5, 0));
    // A crash: the shutdown digest never made it, and half a record is left.
    let seg2 = segment(&dir.0, 2);
    let mut all = lines(&seg2);
    all.pop();
    write_lines(&seg2, &all);
    let mut f = fs::OpenOptions::new().append(true).open(&seg2).unwrap();
    io::Write::write_all(&mut f, b"{\"seq\":").unwrap();
    drop(f);
    write_events(&dir.0, &root, 1).await;
    let r = verify_both(&dir.0).unwrap();
    assert_eq!((r.segments, r.events, r.recoveries), (3, 6, 1));
}

#[tokio::test]
async fn an_open_segment_ends_in_zeros_that_readers_and_recovery_skip() {
    let dir = TempDir::new("open");
    let root = root();
    let sink = AuditSink::open(&dir.0, &root, config()).unwrap();
    for i in 0..3 {
        sink.record(&event(&format!("Live{i}"))).await.unwrap();
    }
    let seg = segment(&dir.0, 1);
    let len = fs::metadata(&seg).unwrap().len();
    assert!(len >= crate::writer::PREALLOC_STEP, "the open segment is preallocated ({len} bytes)");
    // Readers of the live trail stop at the zeros.
    let page = crate::search::search(&dir.0, &crate::search::Filter::default(), 10, None).unwrap();
    assert_eq!(page.events.len(), 3);
    assert!(matches!(verify(&dir.0), Err(VerifyError::TruncatedTail { .. })), "no shutdown digest yet");
    // Live: verified up to the last digest, the events after it not signed yet.
    let r = verify_with(&dir.0, VerifyMode::Live, &mut |_, _| {}).unwrap();
    assert_eq!((r.events, r.sealed, r.unsigned), (3, false, 3), "{r:?}");
    // A crash: the writer never closes its segment. The next start cuts the zeros and seals the head.
    std::mem::forget(sink);
    write_events(&dir.0, &root, 1).await;
    let r = verify_both(&dir.0).unwrap();
    assert_eq!((r.segments, r.events, r.recoveries), (2, 4, 1));
    assert!(!fs::read(&seg).unwrap().contains(&0), "the crashed segment was cut back to its records");
    assert!(!fs::read(segment(&dir.0, 2)).unwrap().contains(&0), "a closed segment has no zeros");
}

/// A running server's trail: verified up to its last digest in live mode, the events after it reported as
/// not signed yet; tampering with it is still caught, and so is a cut tail once the segment is closed.
#[tokio::test]
async fn a_live_trail_verifies_up_to_its_last_digest_and_tampering_is_still_caught() {
    let dir = TempDir::new("live");
    // No interval digest on a timer while the test edits the file.
    let cfg = AuditConfig { digest_every: Duration::from_secs(3600), ..config() };
    let sink = AuditSink::open(&dir.0, &root(), cfg).unwrap();
    for i in 0..6 {
        sink.record(&event(&format!("Live{i}"))).await.unwrap();
    }
    let live = |dir: &Path| verify_with(dir, VerifyMode::Live, &mut |_, _| {});
    let seg = segment(&dir.0, 1);
    let original = fs::read(&seg).unwrap();
    let end = original.iter().position(|&b| b == 0).unwrap();
    let records: Vec<String> = std::str::from_utf8(&original[..end]).unwrap().lines().map(str::to_owned).collect();
    let digest_line = records.iter().rposition(|l| l.contains(r#""digest""#)).expect("a digest after 4 records");
    let unsigned = (records.len() - 1 - digest_line) as u64;
    assert!(unsigned > 0, "{records:?}");

    let r = live(&dir.0).unwrap();
    assert_eq!((r.events, r.sealed, r.unsigned), (6, false, unsigned), "{r:?}");
    assert_eq!(r.last_digest.as_ref().map(|d| d.0), Some(digest_line as u64 + 1));
    assert!(matches!(verify(&dir.0), Err(VerifyError::TruncatedTail { .. })), "strict: a stopped server's rule");

    // The open segment: the records, then the preallocated zeros kept as they are.
    let rewrite = |lines: &[String], extra: &[u8]| {
        let mut bytes: Vec<u8> = lines.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
        bytes.extend_from_slice(extra);
        bytes.resize(bytes.len().max(original.len()), 0);
        fs::write(&seg, bytes).unwrap();
    };
    // A batch being written as the verifier reads: half a record before the zeros is not an error.
    rewrite(&records, br#"{"seq":99,"pr"#);
    assert_eq!(live(&dir.0).unwrap(), r);
    // A NUL written into a signed record cannot pass the records behind it off as the open end...
    let mut nul = original.clone();
    let second = original.iter().position(|&b| b == b'\n').unwrap() + 10;
    nul[second] = 0;
    fs::write(&seg, &nul).unwrap();
    assert!(matches!(live(&dir.0), Err(VerifyError::Malformed { .. })), "{:?}", live(&dir.0));
    // ... nor can data written behind the zeros.
    let mut behind = original.clone();
    let n = behind.len();
    behind[n - 100..n - 90].copy_from_slice(b"{\"seq\":42}");
    fs::write(&seg, &behind).unwrap();
    assert!(matches!(live(&dir.0), Err(VerifyError::Malformed { .. })), "{:?}", live(&dir.0));
    // One changed byte in a signed event.
    let mut edited = records.clone();
    edited[1] = edited[1].replacen("Live1", "Live9", 1);
    rewrite(&edited, b"");
    assert!(matches!(live(&dir.0), Err(VerifyError::Changed { seq: 2, .. })), "{:?}", live(&dir.0));
    // ... and in an unsigned event that another record chains to.
    let mut edited = records.clone();
    let n = edited.len();
    edited[n - 2] = edited[n - 2].replacen("Live4", "Live8", 1);
    rewrite(&edited, b"");
    assert!(matches!(live(&dir.0), Err(VerifyError::Changed { .. })), "{:?}", live(&dir.0));
    // A removed record.
    let mut removed = records.clone();
    removed.remove(2);
    rewrite(&removed, b"");
    assert!(matches!(live(&dir.0), Err(VerifyError::Removed { .. })), "{:?}", live(&dir.0));
    // Data written into the zeros of a closed (not last) segment stays malformed: see the rotation tests.
    // The tail cut and the segment closed (no zeros left): no running or crashed server leaves that.
    write_lines(&seg, &records[..records.len() - 1]);
    assert!(matches!(live(&dir.0), Err(VerifyError::CutTail { .. })), "{:?}", live(&dir.0));
    // Cut right after the signed digest: a closed segment ending in an interval digest is a cut too.
    write_lines(&seg, &records[..=digest_line]);
    assert!(matches!(live(&dir.0), Err(VerifyError::CutTail { after_digest: 0, .. })), "{:?}", live(&dir.0));
    fs::write(&seg, &original).unwrap();
    assert_eq!(live(&dir.0).unwrap(), r);
    std::mem::forget(sink);
}

/// Between segments (the last one closed by its `segment-close` digest, the next not written yet) a live
/// trail has nothing unsigned; strict verification still wants the shutdown digest.
#[tokio::test]
async fn a_live_trail_between_segments_verifies() {
    let dir = TempDir::new("live-rotate");
    write_events_with(&dir.0, &root(), 20, small_segments()).await;
    let segments = crate::writer::list_segments(&dir.0).unwrap();
    let last = segment(&dir.0, *segments.last().unwrap());
    // Make the trail end at the last segment-close digest: drop the final segment's records.
    let mut all = lines(&last);
    while all.last().is_some_and(|l| !l.contains(r#""reason":"segment-close""#)) {
        all.pop();
    }
    if all.is_empty() {
        fs::remove_file(&last).unwrap();
    } else {
        write_lines(&last, &all);
    }
    let r = verify_with(&dir.0, VerifyMode::Live, &mut |_, _| {}).unwrap();
    assert_eq!((r.sealed, r.unsigned), (false, 0), "{r:?}");
    assert!(matches!(verify(&dir.0), Err(VerifyError::TruncatedTail { after_digest: 0, .. })));
}

fn small_segments() -> AuditConfig {
    AuditConfig { segment_max_bytes: 2000, ..config() }
}

#[tokio::test]
async fn segments_rotate_by_size_and_the_chain_spans_them() {
    let dir = TempDir::new("rotate");
    write_events_with(&dir.0, &root(), 20, small_segments()).await;
    let r = verify_both(&dir.0).unwrap();
    assert!(r.segments >= 5, "{r:?}");
    assert_eq!((r.events, r.trail_start), (20, 1));
    let segments = crate::writer::list_segments(&dir.0).unwrap();
    for n in &segments[..segments.len() - 1] {
        let last = lines(&segment(&dir.0, *n)).pop().unwrap();
        assert!(last.contains(r#""reason":"segment-close""#), "segment {n} ends with {last}");
    }
    // Removing the oldest segment without a retention digest is a removal.
    fs::remove_file(segment(&dir.0, 1)).unwrap();
    assert!(matches!(verify_both(&dir.0), Err(VerifyError::Removed { expected: 1, .. })), "{:?}", verify_both(&dir.0));
}

async fn write_events_with(dir: &Path, root: &RootKey, n: usize, cfg: AuditConfig) {
    let sink = AuditSink::open(dir, root, cfg).unwrap();
    for i in 0..n {
        sink.record(&event(&format!("Op{i}"))).await.unwrap();
    }
    sink.close();
}

/// Gunzips every exported file under `dir`: (path relative to `dir`, content).
fn exported_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "gz") {
                let mut text = String::new();
                io::Read::read_to_string(&mut flate2::read::GzDecoder::new(fs::File::open(&p).unwrap()), &mut text)
                    .unwrap();
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), text));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn closed_segments_export_in_cloudtrail_layout_and_retention_is_signed_for() {
    let dir = TempDir::new("retention");
    let out = TempDir::new("retention-export");
    let root = root();
    write_events_with(&dir.0, &root, 20, small_segments()).await;
    let old_segments = crate::writer::list_segments(&dir.0).unwrap();
    // A restart with retention zero: everything closed is exported, then deleted behind a retention digest.
    let export = ExportConfig { dir: out.0.clone(), format: ExportFormat::CloudTrail };
    let cfg = AuditConfig { retention: Some(Duration::ZERO), export: Some(export.clone()), ..small_segments() };
    let sink = AuditSink::open(&dir.0, &root, cfg).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while old_segments.iter().any(|&n| segment(&dir.0, n).exists()) {
        assert!(Instant::now() < deadline, "retention did not delete the old segments");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sink.record(&event("AfterRetention")).await.unwrap();
    sink.close();
    let r = verify_both(&dir.0).unwrap();
    assert!(r.trail_start > 20, "{r:?}");
    assert_eq!(r.events, 1);

    let files = exported_files(&out.0);
    assert!(!files.is_empty());
    let mut names = Vec::new();
    for (path, text) in &files {
        // AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>Z_trent<seg>.json.gz
        let parts: Vec<&str> = path.split('/').collect();
        assert_eq!((parts.len(), parts[0], parts[2], parts[3]), (8, "AWSLogs", "CloudTrail", "us-east-1"), "{path}");
        assert!(
            parts[7].starts_with(&format!("{}_CloudTrail_us-east-1_", parts[1])) && parts[7].ends_with(".json.gz"),
            "{path}"
        );
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        for e in doc["Records"].as_array().unwrap() {
            names.push(e["eventName"].as_str().unwrap().to_owned());
        }
    }
    let mut want: Vec<String> = (0..20).map(|i| format!("Op{i}")).collect();
    want.sort();
    names.sort();
    assert_eq!(names, want, "every event of the deleted segments was exported, once");
    // Exported segments are not exported again; the stopped trail's last segment is closed now and is.
    let again = export_closed(&dir.0, &export).unwrap();
    assert_eq!((again.segments, again.events, again.already), (1, 1, 0));
}

#[tokio::test]
async fn export_as_json_lines_of_a_stopped_trail() {
    let dir = TempDir::new("export-jsonl");
    let out = TempDir::new("export-jsonl-out");
    write_events(&dir.0, &root(), 3).await;
    let cfg = ExportConfig { dir: out.0.clone(), format: ExportFormat::JsonLines };
    let summary = export_closed(&dir.0, &cfg).unwrap();
    assert_eq!((summary.segments, summary.events), (1, 3), "the last segment of a stopped trail is closed");
    let files = exported_files(&out.0);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].1.lines().count(), 3);
    assert_eq!(export_closed(&dir.0, &cfg).unwrap(), ExportSummary { already: 1, ..ExportSummary::default() });
}

/// Finding 13 of the security review: exported events name principals, access key ids and source IPs, so the
/// export's directories are 0700 and its files 0600, like the live trail, whatever the umask (022 here gave
/// 0755 and 0644 before).
#[cfg(unix)]
#[tokio::test]
async fn export_is_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("export-modes");
    let out = TempDir::new("export-modes-out");
    write_events(&dir.0, &root(), 3).await;
    let target = out.0.join("exported");
    let cfg = ExportConfig { dir: target.clone(), format: ExportFormat::CloudTrail };
    assert_eq!(export_closed(&dir.0, &cfg).unwrap().segments, 1);
    let (mut dirs, mut files) = (0, 0);
    let mut stack = vec![target];
    while let Some(d) = stack.pop() {
        let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", d.display());
        dirs += 1;
        for entry in fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{} is {mode:o}", p.display());
                files += 1;
            }
        }
    }
    // AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD plus the state directory; one export file and a marker.
    assert!(dirs >= 9 && files == 2, "{dirs} directories, {files} files");
}

fn key_event(name: &str, arn: &str) -> AuditEvent {
    let mut e = event(name);
    e.resources.push(Resource::kms_key(arn));
    e
}

async fn wait_complete(sink: &AuditSink) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sink.key_usage().complete() {
        assert!(Instant::now() < deadline, "the key-usage index was not rebuilt");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn key_usage_index_survives_restart_crash_and_a_lost_snapshot() {
    let dir = TempDir::new("usage");
    let root = root();
    let (k1, k2) = ("arn:aws:kms:us-east-1:111122223333:key/k1", "arn:aws:kms:us-east-1:111122223333:key/k2");
    let sink = AuditSink::open(&dir.0, &root, config()).unwrap();
    assert!(sink.key_usage().complete(), "a new trail has nothing to index");
    sink.record(&key_event("Encrypt", k1)).await.unwrap();
    sink.record(&key_event("Decrypt", k1)).await.unwrap();
    let mut failed = key_event("Sign", k2);
    failed.error_code = Some("AccessDeniedException".into());
    sink.record(&failed).await.unwrap();
    sink.record(&key_event("DescribeKey", k2)).await.unwrap();
    let last = sink.key_usage().get(k1).unwrap();
    assert_eq!((last.operation.as_str(), last.request_id.as_deref()), ("Decrypt", Some("req-Decrypt")));
    assert_eq!(sink.key_usage().get(k2), None, "failed and untracked calls are not uses");
    sink.close();
    drop(sink);

    // A clean restart loads the snapshot: complete at once.
    let sink = AuditSink::open(&dir.0, &root, config()).unwrap();
    assert!(sink.key_usage().complete());
    assert_eq!(sink.key_usage().get(k1).unwrap().operation, "Decrypt");
    sink.record(&key_event("GenerateMac", k2)).await.unwrap();
    // A crash: no snapshot of this segment. The next start reads it in the background.
    std::mem::forget(sink);
    let sink = AuditSink::open(&dir.0, &root, config()).unwrap();
    wait_complete(&sink).await;
    assert_eq!(sink.key_usage().get(k1).unwrap().operation, "Decrypt");
    assert_eq!(sink.key_usage().get(k2).unwrap().operation, "GenerateMac");
    sink.close();
    drop(sink);

    // Without a snapshot everything is rebuilt from the trail.
    fs::remove_file(dir.0.join(crate::usage::SNAPSHOT_FILE)).unwrap();
    let sink = AuditSink::open(&dir.0, &root, config()).unwrap();
    wait_complete(&sink).await;
    assert_eq!(sink.key_usage().get(k1).unwrap().operation, "Decrypt");
    assert_eq!(sink.key_usage().get(k2).unwrap().operation, "GenerateMac");
    sink.close();
}

#[tokio::test]
async fn group_commit_acknowledges_many_with_few_fsyncs() {
    let dir = TempDir::new("group");
    let syncs = Arc::new(AtomicU64::new(0));
    let s2 = syncs.clone();
    let sink = Arc::new(
        AuditSink::open_with(&dir.0, &root(), AuditConfig::default(), move |f| {
            Box::new(Faulty {
                file: f,
                fail: Arc::new(AtomicBool::new(false)),
                sync_delay: Duration::from_millis(20),
                syncs: s2.clone(),
            })
        })
        .unwrap(),
    );
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let sink = sink.clone();
            tokio::spawn(async move { sink.record(&event(&format!("E{i}"))).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(sink.stats().events.load(Ordering::Relaxed), 64);
    let fsyncs = syncs.load(Ordering::Relaxed);
    assert!(fsyncs < 32, "64 events took {fsyncs} fsyncs");
    sink.close();
    assert_eq!(verify_both(&dir.0).unwrap().events, 64);
}

#[tokio::test]
async fn unwritable_trail_fails_requests_and_recovers() {
    let dir = TempDir::new("fail");
    let fail = Arc::new(AtomicBool::new(false));
    let f2 = fail.clone();
    let sink = AuditSink::open_with(&dir.0, &root(), config(), move |f| {
        Box::new(Faulty { file: f, fail: f2.clone(), sync_delay: Duration::ZERO, syncs: Arc::new(AtomicU64::new(0)) })
    })
    .unwrap();
    sink.record(&event("Before")).await.unwrap();
    fail.store(true, Ordering::Relaxed);
    for _ in 0..3 {
        assert_eq!(sink.record(&event("Refused")).await, Err(AuditFailure::Write));
    }
    assert_eq!(sink.stats().write_errors.load(Ordering::Relaxed), 3);
    fail.store(false, Ordering::Relaxed);
    sink.record(&event("After")).await.unwrap();
    sink.close();
    let r = verify_both(&dir.0).unwrap();
    assert_eq!(r.events, 2, "refused events are not in the trail");
    let text = fs::read_to_string(segment(&dir.0, 1)).unwrap();
    assert!(!text.contains("Refused"));
}

#[tokio::test]
async fn a_stuck_disk_times_out_and_a_full_queue_refuses_at_once() {
    let dir = TempDir::new("stuck");
    let cfg = AuditConfig { queue_capacity: 1, ack_timeout: Duration::from_millis(100), ..config() };
    let sink = Arc::new(
        AuditSink::open_with(&dir.0, &root(), cfg, |f| {
            Box::new(Faulty {
                file: f,
                fail: Arc::new(AtomicBool::new(false)),
                sync_delay: Duration::from_millis(600),
                syncs: Arc::new(AtomicU64::new(0)),
            })
        })
        .unwrap(),
    );
    let started = Instant::now();
    let first = sink.record(&event("Slow")).await;
    assert_eq!(first, Err(AuditFailure::Timeout));
    assert!(started.elapsed() < Duration::from_millis(500));
    // The writer is still in its 600 ms fsync: one more fits the queue, the next is refused immediately.
    let s2 = sink.clone();
    let queued = tokio::spawn(async move { s2.record(&event("Queued")).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = Instant::now();
    assert_eq!(sink.record(&event("Refused")).await, Err(AuditFailure::QueueFull));
    assert!(t.elapsed() < Duration::from_millis(50));
    assert_eq!(queued.await.unwrap(), Err(AuditFailure::Timeout));
    assert!(sink.stats().queue_full.load(Ordering::Relaxed) >= 1);
}

/// A state-changing request reserves its record's slot before it runs: with the queue full it is refused
/// before it changes anything, and once it holds a reservation its record is taken even though the queue is
/// full for everyone else and the disk is slower than `ack_timeout` (the change has committed by then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_is_refused_up_front_or_honoured_after_the_commit() {
    let dir = TempDir::new("reserve");
    let cfg = AuditConfig { queue_capacity: 2, ack_timeout: Duration::from_millis(100), ..config() };
    let sink = Arc::new(
        AuditSink::open_with(&dir.0, &root(), cfg, |f| {
            Box::new(Faulty {
                file: f,
                fail: Arc::new(AtomicBool::new(false)),
                sync_delay: Duration::from_millis(400),
                syncs: Arc::new(AtomicU64::new(0)),
            })
        })
        .unwrap(),
    );
    assert_eq!(sink.record(&event("Slow")).await, Err(AuditFailure::Timeout));
    // The writer is in its 400 ms fsync; the queue's two slots are free: a CreateKey reserves both (its event
    // and, say, the key owner's copy).
    let reservation = sink.reserve(2).expect("free slots");
    // Now the queue is full: a second state-changing request is refused before it runs...
    assert_eq!(sink.reserve(1).err(), Some(AuditFailure::QueueFull));
    // ...and so is any other record.
    assert_eq!(sink.record(&event("Other")).await, Err(AuditFailure::QueueFull));
    // The reserved record is taken, and waited for past `ack_timeout`: the change it records happened.
    let t = Instant::now();
    sink.record_committed(&[event("CreateKey"), event("Copy")], reservation).await.expect("recorded");
    assert!(t.elapsed() > Duration::from_millis(100), "{:?}", t.elapsed());
    drop(sink);
    // Newest first: the two reserved records are the last ones written.
    let page = crate::search::search(&dir.0, &crate::search::Filter::default(), 50, None).unwrap();
    let names: Vec<&str> = page.events.iter().map(|f| f.event["eventName"].as_str().unwrap()).collect();
    assert_eq!(names[..2], ["Copy", "CreateKey"], "{names:?}");
}

/// After a failed write, state-changing requests are refused before they run until the writer has repaired
/// the segment, which it tries on its own when idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_trail_refuses_changes_up_front_until_repaired() {
    let dir = TempDir::new("unwritable");
    let fail = Arc::new(AtomicBool::new(true));
    let cfg = AuditConfig { digest_every: Duration::from_millis(50), ..config() };
    let f2 = fail.clone();
    let sink = AuditSink::open_with(&dir.0, &root(), cfg, move |f| {
        Box::new(Faulty { file: f, fail: f2.clone(), sync_delay: Duration::ZERO, syncs: Arc::new(AtomicU64::new(0)) })
    })
    .unwrap();
    assert_eq!(sink.record(&event("Lost")).await, Err(AuditFailure::Write));
    assert_eq!(sink.reserve(1).err(), Some(AuditFailure::Write));
    fail.store(false, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(5);
    let reservation = loop {
        match sink.reserve(1) {
            Ok(r) => break r,
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e, AuditFailure::Write);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("the trail never became writable again: {e}"),
        }
    };
    sink.record_committed(&[event("CreateKey")], reservation).await.expect("recorded");
}

/// The disk fails during the very write of a committed change's record: the record goes to the outbox and the
/// request succeeds (its change happened); once the trail can be written again the writer appends the outbox
/// on its own, and the trail verifies with the record in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_record_the_trail_cannot_take_goes_to_the_outbox_and_then_to_the_trail() {
    let dir = TempDir::new("outbox");
    let outbox = dir.0.join("outbox");
    let fail = Arc::new(AtomicBool::new(false));
    let cfg = AuditConfig { digest_every: Duration::from_millis(50), outbox: Some(outbox.clone()), ..config() };
    let f2 = fail.clone();
    let sink = AuditSink::open_with(&dir.0.join("trail"), &root(), cfg, move |f| {
        Box::new(Faulty { file: f, fail: f2.clone(), sync_delay: Duration::ZERO, syncs: Arc::new(AtomicU64::new(0)) })
    })
    .unwrap();
    let reservation = sink.reserve(1).expect("writable");
    fail.store(true, Ordering::Relaxed); // the disk fails after the change committed
    sink.record_committed(&[event("CreateKey")], reservation).await.expect("kept in the outbox");
    assert_eq!(crate::outbox::pending(&outbox).len(), 1);
    fail.store(false, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !crate::outbox::pending(&outbox).is_empty() {
        assert!(Instant::now() < deadline, "the outbox was never appended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(sink);
    let page = crate::search::search(&dir.0.join("trail"), &crate::search::Filter::default(), 50, None).unwrap();
    let names: Vec<&str> = page.events.iter().map(|f| f.event["eventName"].as_str().unwrap()).collect();
    assert_eq!(names, ["CreateKey"]);
    verify_both(&dir.0.join("trail")).expect("the trail verifies");
}

/// A segment file that fails (after writing half the data, as a full disk might) while `fail` is set, and
/// whose fsync takes `sync_delay`.
struct Faulty {
    file: fs::File,
    fail: Arc<AtomicBool>,
    sync_delay: Duration,
    syncs: Arc<AtomicU64>,
}

impl SegmentFile for Faulty {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.fail.load(Ordering::Relaxed) {
            self.file.write_at(offset, &data[..data.len() / 2])?;
            return Err(io::Error::other("injected: no space left on device"));
        }
        self.file.write_at(offset, data)
    }
    fn sync(&mut self) -> io::Result<()> {
        std::thread::sleep(self.sync_delay);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.file.sync()
    }
    fn set_len_synced(&mut self, len: u64) -> io::Result<()> {
        if self.fail.load(Ordering::Relaxed) {
            return Err(io::Error::other("injected: still failing"));
        }
        self.file.set_len_synced(len)
    }
}
