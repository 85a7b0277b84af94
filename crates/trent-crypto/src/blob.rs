//! The KMS ciphertext blob, format version 1 (see `docs/design/ciphertext-blob.md`).
//!
//! ```text
//! offset  size  field
//! 0       1     format version, 0x01
//! 1       16    KMS key id (UUID bytes)
//! 17      4     backing-key version (big-endian u32)
//! 21      32    salt, random per message
//! 53      n     AES-256-GCM ciphertext
//! 53+n    16    GCM tag
//! ```
//!
//! Per-message key: `HKDF-SHA256(ikm = backing key, salt = salt, info = INFO || header[0..21])`.
//! Since every message has its own key, the GCM nonce is the constant zero nonce; the caller never
//! supplies one. Associated data: the 53-byte header followed by the canonical encryption context.

use std::collections::BTreeMap;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;

use crate::{BackingKey, CryptoError, KEY_LEN, SecretBytes, random_array};

/// Stored forever: DO NOT CHANGE THIS VALUE.
pub const FORMAT_V1: u8 = 0x01;
const INFO_V1: &[u8] = b"trent/kms/blob/v1\0";
const KEY_ID_LEN: usize = 16;
const SALT_LEN: usize = 32;
const TAG_LEN: usize = 16;
const IDENTITY_LEN: usize = 1 + KEY_ID_LEN + 4;
/// Bytes before the ciphertext.
pub const HEADER_LEN: usize = IDENTITY_LEN + SALT_LEN;
/// Bytes a blob adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// A parsed, not yet authenticated, blob: which key and version claim to have made it.
#[derive(Debug, Clone, Copy)]
pub struct Blob<'a> {
    bytes: &'a [u8],
    key_id: [u8; KEY_ID_LEN],
    version: u32,
}

impl<'a> Blob<'a> {
    /// Reads the header. Fails on anything that is not a v1 blob of plausible length; says nothing
    /// about authenticity, which only [`Blob::open`] establishes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CryptoError> {
        if bytes.len() < OVERHEAD || bytes[0] != FORMAT_V1 {
            return Err(CryptoError::Malformed);
        }
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&bytes[1..1 + KEY_ID_LEN]);
        let mut v = [0u8; 4];
        v.copy_from_slice(&bytes[1 + KEY_ID_LEN..IDENTITY_LEN]);
        Ok(Self { bytes, key_id, version: u32::from_be_bytes(v) })
    }

    pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
        self.key_id
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// Authenticates and decrypts under `key` (which must be the version the header names) and the
    /// canonical encryption context `context_aad` (see [`canonical_context`]).
    pub fn open(&self, key: &BackingKey, context_aad: &[u8]) -> Result<SecretBytes, CryptoError> {
        let header = &self.bytes[..HEADER_LEN];
        let salt = &header[IDENTITY_LEN..];
        let cipher = message_key(key, &header[..IDENTITY_LEN], salt)?;
        let mut buf = SecretBytes::new(self.bytes[HEADER_LEN..].to_vec());
        let aad = aad(header, context_aad);
        let len = cipher
            .open_in_place(zero_nonce(), Aad::from(aad.as_slice()), buf.expose_secret_mut())
            .map_err(|_| CryptoError::Authentication)?
            .len();
        buf.expose_secret_mut().truncate(len);
        Ok(buf)
    }
}

/// Encrypts `plaintext` under version `version` of key `key_id`, with a fresh random salt.
pub fn seal(
    key: &BackingKey,
    key_id: [u8; KEY_ID_LEN],
    version: u32,
    plaintext: &[u8],
    context_aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let salt: [u8; SALT_LEN] = random_array()?;
    seal_with_salt(key, key_id, version, &salt, plaintext, context_aad)
}

/// Deterministic core of [`seal`]; crate-private so that only tests can pick the salt.
pub(crate) fn seal_with_salt(
    key: &BackingKey,
    key_id: [u8; KEY_ID_LEN],
    version: u32,
    salt: &[u8; SALT_LEN],
    plaintext: &[u8],
    context_aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&key_id);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(salt);
    let cipher = message_key(key, &out[..IDENTITY_LEN], salt)?;
    let aad = aad(&out[..HEADER_LEN], context_aad);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .seal_in_place_separate_tag(zero_nonce(), Aad::from(aad.as_slice()), &mut out[HEADER_LEN..])
        .map_err(|_| CryptoError::Internal)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Canonical, order-independent encoding of an encryption context for use as associated data:
/// `u16 count || (u16 len || key || u16 len || value)*`, pairs in byte order of their keys (the order of
/// a `BTreeMap<String, String>`). An empty and an absent context encode identically.
pub fn canonical_context(context: &BTreeMap<String, String>) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(2 + context.iter().map(|(k, v)| 4 + k.len() + v.len()).sum::<usize>());
    let count = u16::try_from(context.len()).map_err(|_| CryptoError::Malformed)?;
    out.extend_from_slice(&count.to_be_bytes());
    for (k, v) in context {
        for part in [k, v] {
            let len = u16::try_from(part.len()).map_err(|_| CryptoError::Malformed)?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    Ok(out)
}

fn message_key(key: &BackingKey, identity: &[u8], salt: &[u8]) -> Result<LessSafeKey, CryptoError> {
    let mut okm = SecretBytes::zeroed(KEY_LEN);
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(key.ikm())
        .expand(&[INFO_V1, identity], hkdf::HKDF_SHA256)
        .and_then(|m| m.fill(okm.expose_secret_mut()))
        .map_err(|_| CryptoError::Internal)?;
    let unbound = UnboundKey::new(&aead::AES_256_GCM, okm.expose_secret()).map_err(|_| CryptoError::Internal)?;
    Ok(LessSafeKey::new(unbound))
}

/// Each message key encrypts exactly one message, so a fixed nonce never repeats under a key.
fn zero_nonce() -> Nonce {
    Nonce::assume_unique_for_key([0u8; NONCE_LEN])
}

fn aad(header: &[u8], context_aad: &[u8]) -> Vec<u8> {
    let mut a = Vec::with_capacity(header.len() + context_aad.len());
    a.extend_from_slice(header);
    a.extend_from_slice(context_aad);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> BackingKey {
        BackingKey::from_secret(SecretBytes::new(vec![b; 32])).unwrap()
    }

    fn ctx(pairs: &[(&str, &str)]) -> Vec<u8> {
        canonical_context(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    #[test]
    fn round_trip_with_context() {
        let k = key(1);
        let id = [9u8; 16];
        let c = ctx(&[("purpose", "test"), ("a", "b")]);
        let blob = seal(&k, id, 3, b"hello", &c).unwrap();
        assert_eq!(blob.len(), OVERHEAD + 5);
        let parsed = Blob::parse(&blob).unwrap();
        assert_eq!(parsed.key_id(), id);
        assert_eq!(parsed.version(), 3);
        assert_eq!(parsed.open(&k, &c).unwrap().expose_secret(), b"hello");
    }

    #[test]
    fn context_is_order_independent_and_exact() {
        let k = key(1);
        let blob = seal(&k, [0; 16], 1, b"x", &ctx(&[("a", "1"), ("b", "2")])).unwrap();
        let p = Blob::parse(&blob).unwrap();
        assert!(p.open(&k, &ctx(&[("b", "2"), ("a", "1")])).is_ok());
        for wrong in [vec![], vec![("a", "1")], vec![("a", "1"), ("b", "3")], vec![("A", "1"), ("b", "2")]] {
            assert_eq!(p.open(&k, &ctx(&wrong)).unwrap_err(), CryptoError::Authentication);
        }
    }

    #[test]
    fn context_encoding_is_unambiguous() {
        // "ab"="c" must not collide with "a"="bc".
        assert_ne!(ctx(&[("ab", "c")]), ctx(&[("a", "bc")]));
        assert_eq!(ctx(&[]), vec![0, 0]);
    }

    #[test]
    fn every_tampered_byte_is_detected() {
        let k = key(2);
        let blob = seal(&k, [1; 16], 1, b"secret data", &ctx(&[])).unwrap();
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 0x01;
            let ok = Blob::parse(&t).and_then(|p| p.open(&k, &ctx(&[])));
            assert!(ok.is_err(), "flip at byte {i} went unnoticed");
        }
    }

    #[test]
    fn wrong_key_and_truncation_fail() {
        let blob = seal(&key(1), [1; 16], 1, b"abc", &ctx(&[])).unwrap();
        assert!(Blob::parse(&blob).unwrap().open(&key(2), &ctx(&[])).is_err());
        assert_eq!(Blob::parse(&blob[..OVERHEAD - 1]).unwrap_err(), CryptoError::Malformed);
        let mut v2 = blob.clone();
        v2[0] = 0x02;
        assert_eq!(Blob::parse(&v2).unwrap_err(), CryptoError::Malformed);
    }

    #[test]
    fn salts_are_fresh() {
        let k = key(1);
        let a = seal(&k, [0; 16], 1, b"same", &ctx(&[])).unwrap();
        let b = seal(&k, [0; 16], 1, b"same", &ctx(&[])).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn deterministic_with_fixed_salt() {
        let k = key(1);
        let a = seal_with_salt(&k, [0; 16], 1, &[5; 32], b"same", &ctx(&[])).unwrap();
        let b = seal_with_salt(&k, [0; 16], 1, &[5; 32], b"same", &ctx(&[])).unwrap();
        assert_eq!(a, b);
    }
}

/// Golden vectors: blobs written by earlier releases must decrypt forever. The file is generated once
/// (`cargo test -p trent-crypto -- --ignored print_golden` prints a fresh one) and never regenerated.
#[cfg(test)]
mod golden {
    use super::*;

    struct Vector {
        key: Vec<u8>,
        key_id: [u8; 16],
        version: u32,
        context: BTreeMap<String, String>,
        plaintext: Vec<u8>,
        blob: Vec<u8>,
    }

    fn unhex(s: &str) -> Vec<u8> {
        ::hex::decode(s).unwrap()
    }

    /// Line format: `key_hex key_id_hex version context plaintext_hex blob_hex`, context as `k=v&k=v` or `-`.
    fn vectors() -> Vec<Vector> {
        include_str!("../tests/vectors/blob-v1.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let context = if f[3] == "-" {
                    BTreeMap::new()
                } else {
                    f[3].split('&')
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap();
                            (k.to_string(), v.to_string())
                        })
                        .collect()
                };
                Vector {
                    key: unhex(f[0]),
                    key_id: unhex(f[1]).try_into().unwrap(),
                    version: f[2].parse().unwrap(),
                    context,
                    plaintext: if f[4] == "-" { vec![] } else { unhex(f[4]) },
                    blob: unhex(f[5]),
                }
            })
            .collect()
    }

    #[test]
    fn golden_blobs_still_decrypt() {
        let vs = vectors();
        assert!(vs.len() >= 4);
        for v in vs {
            let key = BackingKey::from_secret(SecretBytes::new(v.key.clone())).unwrap();
            let aad = canonical_context(&v.context).unwrap();
            let blob = Blob::parse(&v.blob).unwrap();
            assert_eq!(blob.key_id(), v.key_id);
            assert_eq!(blob.version(), v.version);
            assert_eq!(blob.open(&key, &aad).unwrap().expose_secret(), v.plaintext.as_slice());
            // And the format is deterministic given the salt: today's code writes the same bytes.
            let salt: [u8; 32] = v.blob[IDENTITY_LEN..HEADER_LEN].try_into().unwrap();
            assert_eq!(seal_with_salt(&key, v.key_id, v.version, &salt, &v.plaintext, &aad).unwrap(), v.blob);
        }
    }

    #[test]
    #[ignore = "prints new golden vectors; run by hand only when adding a format version"]
    fn print_golden() {
        let cases: [(&[u8], u32, &str, &[u8]); 4] = [
            (&[0x11; 32], 1, "-", b"hello"),
            (&[0x22; 32], 2, "purpose=test&app=trent", b"\x00\x01\x02 binary"),
            (&[0x33; 32], 7, "unicode=\u{e9}t\u{e9}", &[0xab; 100]),
            (&[0x44; 32], 4294967295, "a=", &[0x5a; 4096]),
        ];
        for (k, version, ctx, pt) in cases {
            let key = BackingKey::from_secret(SecretBytes::new(k.to_vec())).unwrap();
            let context: BTreeMap<String, String> = if ctx == "-" {
                BTreeMap::new()
            } else {
                ctx.split('&')
                    .map(|kv| {
                        let (a, b) = kv.split_once('=').unwrap();
                        (a.into(), b.into())
                    })
                    .collect()
            };
            let key_id: [u8; 16] = crate::random_array().unwrap();
            let blob = seal(&key, key_id, version, pt, &canonical_context(&context).unwrap()).unwrap();
            let hex = crate::digest::hex;
            println!("{} {} {} {} {} {}", hex(k), hex(&key_id), version, ctx, hex(pt), hex(&blob));
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn context() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map(".{0,12}", ".{0,12}", 0..6)
    }

    proptest! {
        #[test]
        fn seal_open_round_trips(pt in prop::collection::vec(any::<u8>(), 0..512), ctx in context(), version in any::<u32>()) {
            let key = BackingKey::from_secret(SecretBytes::new(vec![7; 32])).unwrap();
            let aad = canonical_context(&ctx).unwrap();
            let blob = seal(&key, [3; 16], version, &pt, &aad).unwrap();
            let parsed = Blob::parse(&blob).unwrap();
            prop_assert_eq!(parsed.version(), version);
            let opened = parsed.open(&key, &aad).unwrap();
            prop_assert_eq!(opened.expose_secret(), pt.as_slice());
        }

        /// Two different contexts never share an encoding, so no context can stand in for another.
        #[test]
        fn canonical_context_is_injective(a in context(), b in context()) {
            prop_assume!(a != b);
            prop_assert_ne!(canonical_context(&a).unwrap(), canonical_context(&b).unwrap());
        }

        /// Arbitrary bytes never panic the parser, and never authenticate.
        #[test]
        fn arbitrary_bytes_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let key = BackingKey::from_secret(SecretBytes::new(vec![7; 32])).unwrap();
            if let Ok(b) = Blob::parse(&bytes) {
                prop_assert!(b.open(&key, &[0, 0]).is_err());
            }
        }
    }
}
