//! The on-disk record format, shared by the writer and the verifier.
//!
//! A trail is a directory of segment files `trail-NNNNNNNN.jsonl`, numbered from 1, appended to only. Each
//! line is one record:
//!
//! ```text
//! {"seq":7,"prev":"<hex SHA-256 of the line of record 6>","event":{...CloudTrail record...}}
//! {"seq":8,"prev":"<hex SHA-256 of the line of record 7>","digest":{"time":..,"reason":..,"firstSeq":..,
//!   "lastSeq":..,"keyFingerprint":..,"signature":"<base64 Ed25519>"}}
//! ```
//!
//! `seq` counts records across all segments from 1; the first record's `prev` is 64 zeros. The hash of a
//! record is SHA-256 over its line's bytes without the newline, so any change to a record breaks the link
//! from the next one. A digest signs its own `seq` and `prev`, which commits to every record before it.

use base64::Engine as _;
use serde::Deserialize;

/// `prev` of the first record of a trail.
pub const GENESIS: [u8; 32] = [0u8; 32];
/// Domain separation of the digest signature.
const DIGEST_CONTEXT: &str = "trent-audit-digest-v1";

pub const SEGMENT_PREFIX: &str = "trail-";
pub const SEGMENT_SUFFIX: &str = ".jsonl";
pub const PUBLIC_KEY_FILE: &str = "public-key.pem";
pub const SIGNING_KEY_FILE: &str = "signing-key.wrapped";

pub fn segment_name(number: u64) -> String {
    format!("{SEGMENT_PREFIX}{number:08}{SEGMENT_SUFFIX}")
}

/// The segment number in a file name, if it is a segment.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(SEGMENT_PREFIX)?.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn hash_line(line: &[u8]) -> [u8; 32] {
    trent_crypto::digest::sha256(line)
}

/// Why a digest was written. `Shutdown` must end a trail that was closed cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestReason {
    /// Every N records or T seconds.
    Interval,
    /// The writer started after an unclean stop: signs the chain head it found, so that the gap is visible
    /// and named in the report instead of looking like a cut.
    Recovered,
    /// The segment is full or old enough and the writer moves on to the next one.
    SegmentClose,
    /// Segments older than the retention period are about to be deleted: `trailStart` names the first record
    /// the trail keeps, so that the missing head is signed for instead of looking like a removal.
    Retention,
    /// The writer stopped cleanly; always the last record of a clean trail.
    Shutdown,
}

impl DigestReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interval => "interval",
            Self::Recovered => "recovered",
            Self::SegmentClose => "segment-close",
            Self::Retention => "retention",
            Self::Shutdown => "shutdown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "interval" => Self::Interval,
            "recovered" => Self::Recovered,
            "segment-close" => Self::SegmentClose,
            "retention" => Self::Retention,
            "shutdown" => Self::Shutdown,
            _ => return None,
        })
    }
}

/// The fields of a digest that its signature covers.
pub struct DigestFields<'a> {
    pub seq: u64,
    pub prev: &'a str,
    pub reason: &'a str,
    pub time: &'a str,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Only in a retention digest: the first record the trail keeps.
    pub trail_start: Option<u64>,
}

impl DigestFields<'_> {
    pub fn signed_message(&self) -> Vec<u8> {
        let mut m = format!(
            "{DIGEST_CONTEXT}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.seq, self.prev, self.reason, self.time, self.first_seq, self.last_seq
        );
        if let Some(start) = self.trail_start {
            m.push_str(&format!("\ntrailStart={start}"));
        }
        m.into_bytes()
    }
}

/// An event line, built by concatenation around the already-serialized event (no second serialization).
pub fn event_line(seq: u64, prev: &[u8; 32], event_json: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"prev\":\"");
    out.extend_from_slice(trent_crypto::digest::hex(prev).as_bytes());
    out.extend_from_slice(b"\",\"event\":");
    out.extend_from_slice(event_json.as_bytes());
    out.push(b'}');
}

/// A digest line, signed with `sign`.
pub fn digest_line(fields: &DigestFields<'_>, key_fingerprint: &str, sign: impl FnOnce(&[u8]) -> [u8; 64]) -> Vec<u8> {
    let signature = base64::engine::general_purpose::STANDARD.encode(sign(&fields.signed_message()));
    let mut digest = serde_json::json!({
        "time": fields.time,
        "reason": fields.reason,
        "firstSeq": fields.first_seq,
        "lastSeq": fields.last_seq,
        "keyFingerprint": key_fingerprint,
        "signature": signature,
    });
    if let Some(start) = fields.trail_start {
        digest["trailStart"] = start.into();
    }
    format!("{{\"seq\":{},\"prev\":\"{}\",\"digest\":{digest}}}", fields.seq, fields.prev).into_bytes()
}

/// A record as read back. The event's content is not interpreted: its bytes are covered by the hash.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParsedRecord {
    pub seq: u64,
    pub prev: String,
    #[serde(default)]
    pub event: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub digest: Option<ParsedDigest>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParsedDigest {
    pub time: String,
    pub reason: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub key_fingerprint: String,
    pub signature: String,
    #[serde(default)]
    pub trail_start: Option<u64>,
}

impl ParsedRecord {
    /// A shutdown digest: the record that ends a cleanly closed trail.
    pub fn is_shutdown_digest(&self) -> bool {
        self.digest.as_ref().is_some_and(|d| DigestReason::parse(&d.reason) == Some(DigestReason::Shutdown))
    }

    pub fn parse(line: &[u8]) -> Option<Self> {
        let r: Self = serde_json::from_slice(line).ok()?;
        // Exactly one of the two kinds.
        (r.event.is_some() != r.digest.is_some()).then_some(r)
    }
}

/// Short fingerprint of a public key: the first 16 bytes of its SHA-256, hex.
pub fn key_fingerprint(public_key: &[u8]) -> String {
    trent_crypto::digest::hex(&trent_crypto::digest::sha256(public_key)[..16])
}

/// `-----BEGIN PUBLIC KEY-----` PEM of an Ed25519 key (SPKI, RFC 8410).
pub fn public_key_pem(public_key: &[u8; 32]) -> String {
    let mut der = trent_crypto::signing::ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(public_key);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

/// The raw Ed25519 key in such a PEM.
pub fn parse_public_key_pem(pem: &str) -> Option<[u8; 32]> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    let key = der.strip_prefix(&trent_crypto::signing::ED25519_SPKI_PREFIX[..])?;
    key.try_into().ok()
}

pub fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(3), "trail-00000003.jsonl");
        assert_eq!(parse_segment_name("trail-00000003.jsonl"), Some(3));
        assert_eq!(parse_segment_name("trail-3.jsonl"), None);
        assert_eq!(parse_segment_name("public-key.pem"), None);
    }

    #[test]
    fn event_line_parses_back() {
        let mut out = Vec::new();
        event_line(5, &[0xab; 32], r#"{"eventName":"Encrypt"}"#, &mut out);
        let r = ParsedRecord::parse(&out).unwrap();
        assert_eq!(r.seq, 5);
        assert_eq!(decode_hex32(&r.prev), Some([0xab; 32]));
        assert!(r.event.is_some() && r.digest.is_none());
    }

    #[test]
    fn pem_round_trip() {
        let pem = public_key_pem(&[7; 32]);
        assert_eq!(parse_public_key_pem(&pem), Some([7; 32]));
    }
}
