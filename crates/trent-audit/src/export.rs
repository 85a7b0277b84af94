//! Export of closed segments in CloudTrail's S3 delivery layout, so that log tooling written for CloudTrail
//! (Athena tables, SIEM collectors, `jq` scripts) reads Trent's trail unchanged.
//!
//! Each closed segment becomes one gzip file per (account, region, day) of its events, at
//! `AWSLogs/<account>/CloudTrail/<region>/<YYYY>/<MM>/<DD>/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_trent<segment>.json.gz`
//! (the time is the file's first event; CloudTrail puts a random string where Trent puts the segment
//! number, which makes the name deterministic and a re-export idempotent). The content is CloudTrail's
//! `{"Records":[...]}` document, or with [`ExportFormat::JsonLines`] one event per line. Events are copied as
//! recorded, byte for byte; digest records stay in the trail (they prove it, `trent audit verify` reads them).
//!
//! A segment counts as exported once all its files are renamed into place and a marker
//! `.trent-export/trail-NNNNNNNN.done` exists; retention deletes nothing that is not exported.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::AuditError;
use crate::files::{create_private_dir, last_line};
use crate::record::{self, ParsedRecord};
use crate::writer::{data_len, list_segments};

/// The directory name of events that carry no account (requests that failed authentication).
pub const UNKNOWN_ACCOUNT: &str = "unknown-account";
const STATE_DIR: &str = ".trent-export";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// `{"Records":[...]}`, as CloudTrail delivers.
    #[default]
    CloudTrail,
    /// One event per line.
    JsonLines,
}

impl ExportFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cloudtrail" => Some(Self::CloudTrail),
            "jsonl" => Some(Self::JsonLines),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    pub dir: PathBuf,
    pub format: ExportFormat,
}

/// What an export run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub segments: usize,
    pub files: usize,
    pub events: u64,
    /// Segments exported before (skipped).
    pub already: usize,
}

/// Exports every closed segment of the trail in `trail` that is not exported yet. A segment is closed when a
/// newer one exists or when its last record is a shutdown digest (the server stopped cleanly).
pub fn export_closed(trail: &Path, cfg: &ExportConfig) -> Result<ExportSummary, AuditError> {
    let mut segments = list_segments(trail)?;
    if let Some(&newest) = segments.last()
        && !ends_with_shutdown(&trail.join(record::segment_name(newest)))?
    {
        segments.pop();
    }
    export_segments(trail, cfg, &segments)
}

/// Exports those of `segments` (closed ones) that are not exported yet, in order; stops at the first failure.
pub(crate) fn export_segments(trail: &Path, cfg: &ExportConfig, segments: &[u64]) -> Result<ExportSummary, AuditError> {
    let mut summary = ExportSummary::default();
    for &n in segments {
        if is_exported(cfg, n) {
            summary.already += 1;
            continue;
        }
        let (files, events) = export_segment(trail, n, cfg)?;
        summary.segments += 1;
        summary.files += files;
        summary.events += events;
    }
    Ok(summary)
}

pub(crate) fn is_exported(cfg: &ExportConfig, segment: u64) -> bool {
    marker(cfg, segment).exists()
}

fn marker(cfg: &ExportConfig, segment: u64) -> PathBuf {
    cfg.dir
        .join(STATE_DIR)
        .join(format!("{}.done", record::segment_name(segment).trim_end_matches(record::SEGMENT_SUFFIX)))
}

/// Exports one segment; returns the number of files and events written.
fn export_segment(trail: &Path, segment: u64, cfg: &ExportConfig) -> Result<(usize, u64), AuditError> {
    let path = trail.join(record::segment_name(segment));
    let io_err = |e: io::Error, p: &Path| AuditError::Io(format!("{}: {e}", p.display()));
    let file = File::open(&path).map_err(|e| io_err(e, &path))?;
    // Group the events by (account, region, day), keeping their recorded text.
    let mut groups: BTreeMap<(String, String, String), Group> = BTreeMap::new();
    let mut events = 0u64;
    crate::search::for_each_event(file, |event, text| {
        let account = event
            .get("recipientAccountId")
            .and_then(|v| v.as_str())
            .or_else(|| event.get("userIdentity")?.get("accountId")?.as_str())
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or(UNKNOWN_ACCOUNT)
            .to_owned();
        let region = event
            .get("awsRegion")
            .and_then(|v| v.as_str())
            .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .unwrap_or("unknown-region")
            .to_owned();
        // eventTime is `YYYY-MM-DDTHH:MM:SSZ` (the writer's own format).
        let time =
            event.get("eventTime").and_then(|v| v.as_str()).filter(|t| t.len() >= 16).unwrap_or("1970-01-01T00:00");
        let day = time[..10].to_owned();
        let g = groups
            .entry((account, region, day))
            .or_insert_with(|| Group { first_time: time.to_owned(), events: Vec::new() });
        g.events.push(text);
        events += 1;
        ControlFlow::Continue(())
    })
    .map_err(|e| io_err(e, &path))?;
    let mut files = 0;
    for ((account, region, day), g) in &groups {
        let (y, m, d) = (&day[0..4], &day[5..7], &day[8..10]);
        let dir = cfg.dir.join("AWSLogs").join(account).join("CloudTrail").join(region).join(y).join(m).join(d);
        // Exported events name principals, access key ids, source IPs and encryption contexts: the export gets the
        // live trail's permissions (0700 directories, 0600 files), whatever the umask.
        create_private_dir(&dir)?;
        let stamp: String = g.first_time[..16].chars().filter(|c| c.is_ascii_digit() || *c == 'T').collect();
        let name = format!("{account}_CloudTrail_{region}_{stamp}Z_trent{segment:08}.json.gz");
        let target = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        write_gzip(&tmp, cfg.format, &g.events).map_err(|e| io_err(e, &tmp))?;
        fs::rename(&tmp, &target).map_err(|e| io_err(e, &target))?;
        files += 1;
    }
    let m = marker(cfg, segment);
    let state = cfg.dir.join(STATE_DIR);
    create_private_dir(&state)?;
    private_file(&m).and_then(|f| f.sync_all()).map_err(|e| io_err(e, &m))?;
    Ok((files, events))
}

struct Group {
    first_time: String,
    events: Vec<String>,
}

/// Creates (or truncates) a file with mode 0600. A leftover from an interrupted export is removed first, since
/// the mode applies only to a file this call creates.
fn private_file(path: &Path) -> io::Result<File> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut o = fs::OpenOptions::new();
    o.create_new(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

fn write_gzip(path: &Path, format: ExportFormat, events: &[String]) -> io::Result<()> {
    let file = private_file(path)?;
    let mut gz = GzEncoder::new(io::BufWriter::new(file), Compression::default());
    match format {
        ExportFormat::CloudTrail => {
            gz.write_all(b"{\"Records\":[")?;
            for (i, e) in events.iter().enumerate() {
                if i > 0 {
                    gz.write_all(b",")?;
                }
                gz.write_all(e.as_bytes())?;
            }
            gz.write_all(b"]}")?;
        }
        ExportFormat::JsonLines => {
            for e in events {
                gz.write_all(e.as_bytes())?;
                gz.write_all(b"\n")?;
            }
        }
    }
    let file = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Whether the segment's last record is a shutdown digest.
fn ends_with_shutdown(path: &Path) -> Result<bool, AuditError> {
    let bytes = fs::read(path).map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    Ok(last_line(&bytes[..data_len(&bytes)]).and_then(ParsedRecord::parse).is_some_and(|r| r.is_shutdown_digest()))
}
