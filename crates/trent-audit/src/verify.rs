//! `verify`: checks a trail from its files alone and names the first place where it was tampered with.
//!
//! Rules checked, in file order (segments by number, lines in order):
//! - every line is a complete record (a partial last line is a cut tail); zeros after the last line are the
//!   preallocated space of a segment that is still open (or whose writer crashed) and end the segment;
//! - `seq` counts up by one across segments (a gap is a removal, a step back or a repeat an insertion or a
//!   reordering);
//! - `prev` is the SHA-256 of the previous record's line (otherwise the previous record was changed);
//! - every digest carries a valid Ed25519 signature by the key in `public-key.pem`;
//! - the trail starts at seq 1, or at (or before) the `trailStart` of its latest `retention` digest;
//! - [`VerifyMode::Strict`] (a stopped server): the trail ends with a shutdown digest (otherwise its tail was
//!   cut, or the server is still running or crashed; a restart after a crash is sealed by a `recovered`
//!   digest and counted in the report);
//! - [`VerifyMode::Live`] (the server may be running): as CloudTrail's log validation checks what has been
//!   delivered, the trail is verified up to its last signed digest and the records after it are reported as
//!   not signed yet. A running (or crashed) server keeps its last segment open, ending in preallocated zeros;
//!   a trail without a shutdown digest whose last segment is closed (no zeros, not ending at a
//!   `segment-close` digest) had its tail cut, and that is still an error. What live verification cannot
//!   catch is a cut of the not-yet-signed records themselves: nothing has signed for them yet.

use std::fmt;
use std::fs;
use std::io::{BufRead as _, BufReader, Seek as _};
use std::path::Path;

use base64::Engine as _;

use crate::record::{self, DigestFields, DigestReason, ParsedRecord};
use crate::writer::list_segments;

/// How [`verify_with`] treats a trail that does not end with a shutdown digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// The server may be running: records after the last signed digest of an open trail are reported as not
    /// signed yet ([`VerifyReport::unsigned`]), not as an error.
    #[default]
    Live,
    /// The server is stopped: the trail must end with its shutdown digest.
    Strict,
}

/// A record's place: segment file, 1-based line, byte offset of the line's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub segment: String,
    pub line: u64,
    pub offset: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {} (byte {})", self.segment, self.line, self.offset)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub segments: usize,
    pub records: u64,
    pub events: u64,
    pub digests: u64,
    /// Restarts after an unclean stop, each sealed by a `recovered` digest.
    pub recoveries: u64,
    /// `seq` of the first record: 1, or later when retention deleted the oldest segments (signed for by a
    /// `retention` digest).
    pub trail_start: u64,
    /// Fingerprint of the signing key; compare it with the one published for this Trent.
    pub key_fingerprint: String,
    /// The trail ends with a shutdown digest: the server stopped cleanly and every record is signed.
    pub sealed: bool,
    /// Records after the last signed digest (only in [`VerifyMode::Live`]; 0 when the trail ends with a
    /// digest). Chained to the signed records but not signed for yet.
    pub unsigned: u64,
    /// The last digest: its seq and signing time.
    pub last_digest: Option<(u64, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read the trail: {0}")]
    Io(String),
    #[error("no usable public key: {0}")]
    PublicKey(String),
    #[error("{at}: record was changed (it is not a well-formed record)")]
    Malformed { at: Location },
    #[error("{at}: record seq {seq} was changed (its hash is not the one the next record, {next}, chains to)")]
    Changed { at: Location, seq: u64, next: Location },
    #[error("{at}: record(s) removed: expected seq {expected}, found {found}")]
    Removed { at: Location, expected: u64, found: u64 },
    #[error("{at}: records reordered: found seq {found} where seq {expected} belongs")]
    Reordered { at: Location, expected: u64, found: u64 },
    #[error("{at}: record inserted: found seq {found} where seq {expected} belongs")]
    Inserted { at: Location, expected: u64, found: u64 },
    #[error("{at}: digest signature is not valid for the published key")]
    BadSignature { at: Location },
    #[error("{at}: truncated: the last line is incomplete")]
    PartialLine { at: Location },
    #[error(
        "truncated tail: {after_digest} record(s) after the last digest and no shutdown digest (last record at {at}); the tail was cut, or the server is running or crashed"
    )]
    TruncatedTail { at: Location, after_digest: u64 },
    #[error(
        "truncated tail: {after_digest} record(s) after the last digest and no shutdown digest, but the last segment is closed (a running or crashed server keeps it open, ending in preallocated zeros); last record at {at}: the tail was cut"
    )]
    CutTail { at: Location, after_digest: u64 },
}

/// One record as read from a segment.
struct Entry {
    at: Location,
    hash: [u8; 32],
    record: Option<ParsedRecord>,
}

/// The records of a trail in order (segments by number, lines in order), read one line at a time so that
/// verifying a trail of any size needs memory for one record, not for the trail.
struct Records<'a> {
    dir: &'a Path,
    segments: std::iter::Copied<std::slice::Iter<'a, u64>>,
    current: Option<(String, BufReader<fs::File>)>,
    line_no: u64,
    offset: u64,
    line: Vec<u8>,
    /// Live mode: the last segment may be written while it is read, so its records end at the first zero
    /// byte (what follows is being written or not yet written, and unsigned either way).
    live: bool,
    /// The last segment was open: its records ended in zeros.
    last_open: bool,
    /// Re-reads of the open segment's end after data showed up behind its zeros.
    rereads: u32,
}

/// How often live verification reads the open segment's end again when data follows zeros (a batch being
/// written as it is read) before calling it tampering: 1 s in all.
const LIVE_REREADS: u32 = 50;

impl<'a> Records<'a> {
    fn new(dir: &'a Path, segments: &'a [u64], live: bool) -> Self {
        Self {
            dir,
            segments: segments.iter().copied(),
            current: None,
            line_no: 0,
            offset: 0,
            line: Vec::new(),
            live,
            last_open: false,
            rereads: 0,
        }
    }

    fn next_entry(&mut self) -> Result<Option<Entry>, VerifyError> {
        loop {
            let Some((name, reader)) = self.current.as_mut() else {
                let Some(n) = self.segments.next() else { return Ok(None) };
                let name = record::segment_name(n);
                let file = fs::File::open(self.dir.join(&name)).map_err(|e| VerifyError::Io(format!("{name}: {e}")))?;
                self.current = Some((name, BufReader::with_capacity(1 << 16, file)));
                (self.line_no, self.offset) = (0, 0);
                continue;
            };
            self.line.clear();
            let n = reader.read_until(b'\n', &mut self.line).map_err(|e| VerifyError::Io(format!("{name}: {e}")))?;
            if n == 0 {
                self.current = None;
                continue;
            }
            let at = Location { segment: name.clone(), line: self.line_no + 1, offset: self.offset };
            let last = self.segments.len() == 0;
            if self.live
                && last
                && let Some(nul) = self.line.iter().position(|&b| b == 0)
            {
                // The open segment of a running server: records end at the zeros, which run to the end of the
                // file (no newline follows them, so `line` holds the rest of the file). A line cut short by
                // zeros is a batch being written right now (unsigned; the next run sees it whole).
                if self.line[nul..].iter().all(|&b| b == 0) {
                    self.last_open = true;
                    self.current = None;
                    continue;
                }
                // Data after zeros: a batch landed while this was read, or something was written into them
                // (a NUL cannot hide signed records behind it). Read this place again; what stays is tampering.
                if self.rereads < LIVE_REREADS {
                    self.rereads += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    reader
                        .seek(std::io::SeekFrom::Start(self.offset))
                        .map_err(|e| VerifyError::Io(format!("{name}: {e}")))?;
                    continue;
                }
                return Err(VerifyError::Malformed { at });
            }
            if self.line[0] == 0 {
                // The preallocated space of a segment still being written (or whose writer crashed): zeros
                // to the end of the file, or something was written into it.
                let mut rest_zero = self.line.iter().all(|&b| b == 0);
                let mut buf = [0u8; 1 << 16];
                while rest_zero {
                    let k =
                        std::io::Read::read(reader, &mut buf).map_err(|e| VerifyError::Io(format!("{name}: {e}")))?;
                    if k == 0 {
                        break;
                    }
                    rest_zero = buf[..k].iter().all(|&b| b == 0);
                }
                if !rest_zero {
                    return Err(VerifyError::Malformed { at });
                }
                self.last_open = last;
                self.current = None;
                continue;
            }
            self.line_no += 1;
            self.offset += n as u64;
            let Some(line) = self.line.strip_suffix(b"\n") else {
                return Err(VerifyError::PartialLine { at });
            };
            return Ok(Some(Entry { at, hash: record::hash_line(line), record: ParsedRecord::parse(line) }));
        }
    }
}

/// Verifies the trail in `dir` (segments plus `public-key.pem`) of a stopped server ([`VerifyMode::Strict`]).
pub fn verify(dir: &Path) -> Result<VerifyReport, VerifyError> {
    verify_with(dir, VerifyMode::Strict, &mut |_, _| {})
}

/// As [`verify`] in the given mode, calling `progress(segments done, segments in all)` as it moves from one
/// segment to the next (a long trail takes seconds per gigabyte).
pub fn verify_with(
    dir: &Path,
    mode: VerifyMode,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<VerifyReport, VerifyError> {
    let pem = fs::read_to_string(dir.join(record::PUBLIC_KEY_FILE))
        .map_err(|e| VerifyError::PublicKey(format!("{}: {e}", dir.join(record::PUBLIC_KEY_FILE).display())))?;
    let public_key = record::parse_public_key_pem(&pem)
        .ok_or_else(|| VerifyError::PublicKey(format!("{} is not an Ed25519 public key", record::PUBLIC_KEY_FILE)))?;
    let fingerprint = record::key_fingerprint(&public_key);
    let segments = list_segments(dir).map_err(|e| VerifyError::Io(e.to_string()))?;

    let mut report = VerifyReport {
        segments: segments.len(),
        records: 0,
        events: 0,
        digests: 0,
        recoveries: 0,
        trail_start: 1,
        key_fingerprint: fingerprint.clone(),
        sealed: false,
        unsigned: 0,
        last_digest: None,
    };
    let mut records = Records::new(dir, &segments, mode == VerifyMode::Live);
    // The trail starts at seq 1, or later when retention deleted the oldest segments; that is accepted at
    // the end if a signed retention digest covers the first record found (whose `prev` is then taken as
    // found: its predecessor is gone).
    let mut first: Option<(u64, Location)> = None;
    let mut retention_start: Option<u64> = None;
    let mut expected_prev = record::GENESIS;
    let mut expected = 1u64;
    let mut previous: Option<Location> = None;
    let mut last: Option<Location> = None;
    let mut last_clean = true;
    let mut last_reason = None;
    let mut after_digest = 0u64;
    let mut index = 0u64;
    let mut segments_done = 0usize;
    progress(0, segments.len());
    while let Some(e) = records.next_entry()? {
        if last.as_ref().is_some_and(|l| l.segment != e.at.segment) {
            segments_done += 1;
            progress(segments_done, segments.len());
        }
        let Some(r) = &e.record else { return Err(VerifyError::Malformed { at: e.at }) };
        if first.is_none() {
            first = Some((r.seq, e.at.clone()));
            if r.seq > 1 {
                expected = r.seq;
                expected_prev = record::decode_hex32(&r.prev).unwrap_or_default();
            }
        }
        if r.seq != expected {
            return Err(misplaced(dir, &segments, index, e.at, expected, r.seq));
        }
        if record::decode_hex32(&r.prev) != Some(expected_prev) {
            return Err(match previous {
                Some(p) => VerifyError::Changed { at: p, seq: expected - 1, next: e.at },
                None => VerifyError::Malformed { at: e.at },
            });
        }
        if let Some(d) = &r.digest {
            let fields = DigestFields {
                seq: r.seq,
                prev: &r.prev,
                reason: &d.reason,
                time: &d.time,
                first_seq: d.first_seq,
                last_seq: d.last_seq,
                trail_start: d.trail_start,
            };
            let sig = base64::engine::general_purpose::STANDARD.decode(&d.signature).unwrap_or_default();
            let reason = DigestReason::parse(&d.reason);
            if d.key_fingerprint != fingerprint
                || reason.is_none()
                || d.last_seq + 1 != r.seq
                || !trent_crypto::signing::verify_ed25519(&public_key, &fields.signed_message(), &sig)
            {
                return Err(VerifyError::BadSignature { at: e.at });
            }
            report.digests += 1;
            match reason {
                Some(DigestReason::Recovered) => report.recoveries += 1,
                Some(DigestReason::Retention) => retention_start = d.trail_start.or(retention_start),
                _ => {}
            }
            last_clean = reason == Some(DigestReason::Shutdown);
            last_reason = reason;
            report.last_digest = Some((r.seq, d.time.clone()));
            after_digest = 0;
        } else {
            report.events += 1;
            last_clean = false;
            after_digest += 1;
        }
        report.records += 1;
        expected_prev = e.hash;
        expected += 1;
        index += 1;
        previous = Some(e.at.clone());
        last = Some(e.at);
    }
    if let Some((seq, at)) = first.filter(|(seq, _)| *seq > 1) {
        if retention_start.is_none_or(|start| seq > start) {
            return Err(VerifyError::Removed { at, expected: 1, found: seq });
        }
        report.trail_start = seq;
    }
    progress(segments.len(), segments.len());
    report.sealed = last.is_some() && last_clean;
    if let Some(at) = last.filter(|_| !last_clean) {
        match mode {
            VerifyMode::Strict => return Err(VerifyError::TruncatedTail { at, after_digest }),
            // Open: the writer's segment ends in zeros. A `segment-close` digest last: the writer is between
            // segments (the next one is empty or not created yet). Anything else no writer leaves behind.
            VerifyMode::Live
                if records.last_open || (after_digest == 0 && last_reason == Some(DigestReason::SegmentClose)) =>
            {
                report.unsigned = after_digest;
            }
            VerifyMode::Live => return Err(VerifyError::CutTail { at, after_digest }),
        }
    }
    Ok(report)
}

/// Classifies a record whose `seq` is not the expected one: a second pass over the trail looks up where
/// `found` and `expected` occur and which seqs follow the record.
fn misplaced(dir: &Path, segments: &[u64], i: u64, at: Location, expected: u64, found: u64) -> VerifyError {
    let mut occurrences = 0u64;
    let mut expected_later = false;
    let (mut next1, mut next2) = (None, None);
    let mut records = Records::new(dir, segments, false);
    let mut j = 0u64;
    // A read error in this pass only weakens the classification; the record stays misplaced.
    while let Ok(Some(e)) = records.next_entry() {
        let seq = e.record.as_ref().map(|r| r.seq);
        if seq == Some(found) {
            occurrences += 1;
        }
        if j > i && seq == Some(expected) {
            expected_later = true;
        }
        if j == i + 1 {
            next1 = seq;
        }
        if j == i + 2 {
            next2 = seq;
        }
        j += 1;
    }
    if found < expected || occurrences > 1 {
        // A seq seen before, or twice: a copy was inserted (or a record moved back).
        return VerifyError::Inserted { at, expected, found };
    }
    if !expected_later {
        return VerifyError::Removed { at, expected, found };
    }
    // `expected` comes later. If the very next record is `expected` and the one after continues after
    // `found`, two records were swapped; if the next is `expected` and the run simply continues, this record
    // is extra.
    if next1 == Some(expected) && next2.is_none_or(|s| s == found + 1) && found == expected + 1 {
        VerifyError::Reordered { at, expected, found }
    } else if next1 == Some(expected) {
        VerifyError::Inserted { at, expected, found }
    } else {
        VerifyError::Reordered { at, expected, found }
    }
}
