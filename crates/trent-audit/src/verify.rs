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
//! - the trail ends with a shutdown digest (otherwise its tail was cut, or the server is still running or
//!   crashed; a restart after a crash is sealed by a `recovered` digest and counted in the report).

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::Path;

use base64::Engine as _;

use crate::record::{self, DigestFields, DigestReason, ParsedRecord};
use crate::writer::list_segments;

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
    #[error("truncated tail: {after_digest} record(s) after the last digest and no shutdown digest (last record at {at}); the tail was cut, or the server is running or crashed")]
    TruncatedTail { at: Location, after_digest: u64 },
}

struct Entry {
    at: Location,
    hash: [u8; 32],
    record: Option<ParsedRecord>,
}

/// Verifies the trail in `dir` (segments plus `public-key.pem`).
pub fn verify(dir: &Path) -> Result<VerifyReport, VerifyError> {
    let pem = fs::read_to_string(dir.join(record::PUBLIC_KEY_FILE))
        .map_err(|e| VerifyError::PublicKey(format!("{}: {e}", dir.join(record::PUBLIC_KEY_FILE).display())))?;
    let public_key = record::parse_public_key_pem(&pem)
        .ok_or_else(|| VerifyError::PublicKey(format!("{} is not an Ed25519 public key", record::PUBLIC_KEY_FILE)))?;
    let fingerprint = record::key_fingerprint(&public_key);
    let segments = list_segments(dir).map_err(|e| VerifyError::Io(e.to_string()))?;

    let mut entries = Vec::new();
    for &n in &segments {
        let name = record::segment_name(n);
        let bytes = fs::read(dir.join(&name)).map_err(|e| VerifyError::Io(format!("{name}: {e}")))?;
        let mut offset = 0usize;
        let mut line_no = 0u64;
        while offset < bytes.len() {
            if bytes[offset] == 0 && bytes[offset..].iter().all(|&b| b == 0) {
                // The preallocated space of a segment still being written (or whose writer crashed).
                break;
            }
            line_no += 1;
            let at = Location { segment: name.clone(), line: line_no, offset: offset as u64 };
            let Some(len) = bytes[offset..].iter().position(|&b| b == b'\n') else {
                return Err(VerifyError::PartialLine { at });
            };
            let line = &bytes[offset..offset + len];
            entries.push(Entry { at, hash: record::hash_line(line), record: ParsedRecord::parse(line) });
            offset += len + 1;
        }
    }

    // Where each seq occurs, to tell a removal from a reordering or an insertion.
    let mut positions: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if let Some(r) = &e.record {
            positions.entry(r.seq).or_default().push(i);
        }
    }

    // Retention deletes the oldest segments after a signed digest named the first record kept. The trail may
    // start there (or earlier: deletion may have stopped part-way); that record's `prev` is taken as found.
    let retention_start = entries.iter().rev().find_map(|e| {
        let d = e.record.as_ref()?.digest.as_ref()?;
        (DigestReason::parse(&d.reason) == Some(DigestReason::Retention)).then_some(d.trail_start).flatten()
    });
    let first_seq = entries.first().and_then(|e| e.record.as_ref()).map(|r| r.seq);
    let base = match (first_seq, retention_start) {
        (Some(first), Some(start)) if first > 1 && first <= start => first,
        _ => 1,
    };

    let mut report = VerifyReport {
        segments: segments.len(),
        records: 0,
        events: 0,
        digests: 0,
        recoveries: 0,
        trail_start: base,
        key_fingerprint: fingerprint.clone(),
    };
    let mut expected_prev = record::GENESIS;
    let mut last_clean = true;
    let mut after_digest = 0u64;
    for (i, e) in entries.iter().enumerate() {
        let expected = base + i as u64;
        let Some(r) = &e.record else { return Err(VerifyError::Malformed { at: e.at.clone() }) };
        if i == 0 && base > 1 {
            expected_prev = record::decode_hex32(&r.prev).unwrap_or_default();
        }
        if r.seq != expected {
            return Err(misplaced(&entries, &positions, i, expected, r.seq));
        }
        if record::decode_hex32(&r.prev) != Some(expected_prev) {
            return Err(match i.checked_sub(1) {
                Some(p) => VerifyError::Changed { at: entries[p].at.clone(), seq: expected - 1, next: e.at.clone() },
                None => VerifyError::Malformed { at: e.at.clone() },
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
                return Err(VerifyError::BadSignature { at: e.at.clone() });
            }
            report.digests += 1;
            if reason == Some(DigestReason::Recovered) {
                report.recoveries += 1;
            }
            last_clean = reason == Some(DigestReason::Shutdown);
            after_digest = 0;
        } else {
            report.events += 1;
            last_clean = false;
            after_digest += 1;
        }
        report.records += 1;
        expected_prev = e.hash;
    }
    if let Some(last) = entries.last().filter(|_| !last_clean) {
        return Err(VerifyError::TruncatedTail { at: last.at.clone(), after_digest });
    }
    Ok(report)
}

/// Classifies a record whose `seq` is not the expected one.
fn misplaced(entries: &[Entry], positions: &HashMap<u64, Vec<usize>>, i: usize, expected: u64, found: u64) -> VerifyError {
    let at = entries[i].at.clone();
    let seq_of = |j: usize| entries.get(j).and_then(|e| e.record.as_ref()).map(|r| r.seq);
    let occurrences = positions.get(&found).map_or(0, Vec::len);
    let expected_later = positions.get(&expected).is_some_and(|v| v.iter().any(|&j| j > i));
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
    if seq_of(i + 1) == Some(expected) && seq_of(i + 2).is_none_or(|s| s == found + 1) && found == expected + 1 {
        VerifyError::Reordered { at, expected, found }
    } else if seq_of(i + 1) == Some(expected) {
        VerifyError::Inserted { at, expected, found }
    } else {
        VerifyError::Reordered { at, expected, found }
    }
}
