//! Encryption context: serialization and the reserved `aws-crypto-` keys.
//!
//! Serialized form (empty context → zero bytes): `u16 count`, then per pair, in ascending order of
//! the keys' UTF-8 bytes, `u16 len ‖ key ‖ u16 len ‖ value`. `String`'s `Ord` is byte order, so a
//! `BTreeMap<String, String>` iterates in exactly the order the format wants.

use std::collections::{BTreeMap, BTreeSet};

use crate::wire::{Source, put_u16_prefixed};
use crate::{Error, Result};

/// Key-value pairs bound to a message as authenticated data.
pub type EncryptionContext = BTreeMap<String, String>;

/// Keys with this prefix belong to the SDK; callers may not set them.
pub const RESERVED_PREFIX: &str = "aws-crypto-";
/// Where the default materials manager stores the signing public key (base64 of the SEC1 compressed
/// point) for signed suites.
pub const PUBLIC_KEY_CONTEXT_KEY: &str = "aws-crypto-public-key";

/// The encryption context's serialization (see the module doc). Fails beyond the format's limits.
pub fn serialize(context: &EncryptionContext) -> Result<Vec<u8>> {
    if context.is_empty() {
        return Ok(Vec::new());
    }
    let count =
        u16::try_from(context.len()).map_err(|_| Error::InvalidEncryptionContext("more than 65535 pairs".into()))?;
    let mut out = Vec::new();
    out.extend_from_slice(&count.to_be_bytes());
    for (k, v) in context {
        put_u16_prefixed(&mut out, k.as_bytes(), "encryption context key")?;
        put_u16_prefixed(&mut out, v.as_bytes(), "encryption context value")?;
    }
    // The header stores this behind a u16 length.
    if out.len() > usize::from(u16::MAX) {
        return Err(Error::InvalidEncryptionContext("serialized form exceeds 65535 bytes".into()));
    }
    Ok(out)
}

/// Parses a serialized, non-empty context (the header's AAD field when its length is not 0). Rejects a
/// zero count, duplicate keys, invalid UTF-8 and trailing bytes. Order is not enforced: the header
/// is authenticated as stored, so a non-canonical order cannot be exploited.
pub fn parse(bytes: &[u8]) -> Result<EncryptionContext> {
    let mut slice = bytes;
    let mut src = Source::new(&mut slice);
    let count = src.u16()?;
    if count == 0 {
        return Err(Error::Malformed("encryption context with zero pairs must be empty"));
    }
    let mut context = EncryptionContext::new();
    for _ in 0..count {
        let k = utf8(src.u16_prefixed()?)?;
        let v = utf8(src.u16_prefixed()?)?;
        if context.insert(k, v).is_some() {
            return Err(Error::Malformed("duplicate encryption context key"));
        }
    }
    drop(src);
    if !slice.is_empty() {
        return Err(Error::Malformed("bytes after the encryption context pairs"));
    }
    Ok(context)
}

fn utf8(b: Vec<u8>) -> Result<String> {
    String::from_utf8(b).map_err(|_| Error::Malformed("encryption context is not UTF-8"))
}

/// Fails when the caller's context uses a reserved key.
pub(crate) fn check_no_reserved_keys(context: &EncryptionContext) -> Result<()> {
    match context.keys().find(|k| k.starts_with(RESERVED_PREFIX)) {
        Some(k) => {
            Err(Error::InvalidEncryptionContext(format!("key {k:?} uses the reserved prefix {RESERVED_PREFIX:?}")))
        }
        None => Ok(()),
    }
}

/// `context` restricted to `keys`.
pub(crate) fn restrict(context: &EncryptionContext, keys: &BTreeSet<String>) -> EncryptionContext {
    context.iter().filter(|(k, _)| keys.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ec(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_is_zero_bytes() {
        assert!(serialize(&EncryptionContext::new()).unwrap().is_empty());
    }

    #[test]
    fn known_bytes_and_order() {
        let s = serialize(&ec(&[("b", "2"), ("a", "1")])).unwrap();
        assert_eq!(s, b"\x00\x02\x00\x01a\x00\x011\x00\x01b\x00\x012");
        assert_eq!(parse(&s).unwrap(), ec(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn sorts_by_utf8_bytes_not_utf16() {
        // U+FF61 (UTF-8 EF BD A1) sorts before U+1F600 (F0 9F 98 80) by UTF-8 bytes, but after it by
        // UTF-16 code units (FF61 > D83D). The format wants UTF-8 byte order.
        let s = serialize(&ec(&[("\u{1F600}", "x"), ("\u{FF61}", "y")])).unwrap();
        let first_key = &s[4..7];
        assert_eq!(first_key, "\u{FF61}".as_bytes());
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse(b"\x00\x00").is_err());
        assert!(parse(b"\x00\x01\x00\x01a").is_err());
        assert!(parse(b"\x00\x02\x00\x01a\x00\x011\x00\x01a\x00\x012").is_err());
        assert!(parse(b"\x00\x01\x00\x01\xff\x00\x011").is_err());
        assert!(parse(b"\x00\x01\x00\x01a\x00\x011x").is_err());
        assert!(parse(b"").is_err());
    }

    #[test]
    fn reserved_prefix_and_limits() {
        assert!(check_no_reserved_keys(&ec(&[("aws-crypto-public-key", "x")])).is_err());
        assert!(check_no_reserved_keys(&ec(&[("aws-crypto", "x")])).is_ok());
        let big = "v".repeat(65535);
        assert!(serialize(&ec(&[("k", &big)])).is_err());
    }
}
