//! Message header, versions 1 and 2: parse (defensively, from a stream) and serialize.
//!
//! v1: `01 | 80 | suite(2) | message id(16) | AAD | EDKs | content type(1) | 00000000 | iv len(1)=12 |
//! frame length(4)`, then authentication `IV(12) ‖ tag(16)`.
//! v2: `02 | suite(2) | message id(32) | AAD | EDKs | content type(1) | frame length(4) |
//! commit key(32)`, then authentication `tag(16)`.
//! AAD is `u16 length ‖ serialized encryption context`; EDKs are `u16 count ‖ entries`, each
//! `u16 len ‖ provider id ‖ u16 len ‖ provider info ‖ u16 len ‖ ciphertext`.

use std::io::Read;

use trent_crypto::esdk::{COMMIT_KEY_LEN, IV_LEN, TAG_LEN};

use crate::context::{self, EncryptionContext};
use crate::wire::{Source, put_u16_prefixed, u16_len};
use crate::{AlgorithmSuite, Error, Result};

const TYPE_CUSTOMER_AED: u8 = 0x80;

/// One encrypted copy of the data key, as a keyring wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedDataKey {
    /// Which kind of keyring wrote it (`aws-kms`, or a raw keyring's namespace).
    pub provider_id: String,
    /// Keyring-specific: a KMS key ARN, a raw key's name (plus IV details for raw AES).
    pub provider_info: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Framed (the only kind written) or non-framed (legacy, read only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    NonFramed,
    Framed,
}

/// The header body: everything up to the header authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBody {
    pub suite: AlgorithmSuite,
    /// 16 bytes for v1 messages, 32 for v2.
    pub message_id: Vec<u8>,
    /// The context stored in the message (required-only keys are not stored).
    pub encryption_context: EncryptionContext,
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    pub content_type: ContentType,
    /// 0 for non-framed bodies.
    pub frame_length: u32,
    /// v2 only: the commit key.
    pub commit_key: Option<[u8; COMMIT_KEY_LEN]>,
}

/// The header authentication fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderAuth {
    /// v1 only: the stored IV (all zero in every known writer).
    pub iv: Option<[u8; IV_LEN]>,
    pub tag: [u8; TAG_LEN],
}

impl HeaderBody {
    pub fn version(&self) -> u8 {
        self.suite.message_format_version()
    }

    /// Serializes the header body. Fails when a field exceeds the format's limits or the message id
    /// has the wrong length for the suite.
    pub fn serialize(&self) -> Result<Vec<u8>> {
        let v2 = self.suite.message_format_version() == 2;
        if self.message_id.len() != self.suite.message_id_len() {
            return Err(Error::Config("message id length does not match the suite".into()));
        }
        if self.encrypted_data_keys.is_empty() {
            return Err(Error::Config("a message needs at least one encrypted data key".into()));
        }
        let mut out = Vec::with_capacity(256);
        out.push(self.version());
        if !v2 {
            out.push(TYPE_CUSTOMER_AED);
        }
        out.extend_from_slice(&self.suite.id().to_be_bytes());
        out.extend_from_slice(&self.message_id);
        let aad = context::serialize(&self.encryption_context)?;
        put_u16_prefixed(&mut out, &aad, "encryption context")?;
        out.extend_from_slice(&u16_len(self.encrypted_data_keys.len(), "encrypted data key count")?.to_be_bytes());
        for edk in &self.encrypted_data_keys {
            put_u16_prefixed(&mut out, edk.provider_id.as_bytes(), "provider id")?;
            put_u16_prefixed(&mut out, &edk.provider_info, "provider info")?;
            put_u16_prefixed(&mut out, &edk.ciphertext, "encrypted data key")?;
        }
        out.push(match self.content_type {
            ContentType::NonFramed => 0x01,
            ContentType::Framed => 0x02,
        });
        if v2 {
            out.extend_from_slice(&self.frame_length.to_be_bytes());
            let commit = self.commit_key.ok_or_else(|| Error::Config("v2 header without commit key".into()))?;
            out.extend_from_slice(&commit);
        } else {
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.push(IV_LEN as u8);
            out.extend_from_slice(&self.frame_length.to_be_bytes());
        }
        Ok(out)
    }
}

impl HeaderAuth {
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(IV_LEN + TAG_LEN);
        if let Some(iv) = self.iv {
            out.extend_from_slice(&iv);
        }
        out.extend_from_slice(&self.tag);
        out
    }
}

/// Reads a header body from `input`, returning it with its exact bytes. Checks every length and
/// fixed field, and fails as soon as the EDK count exceeds `max_edks`.
pub fn read_header_body<R: Read>(input: &mut R, max_edks: Option<usize>) -> Result<(HeaderBody, Vec<u8>)> {
    let mut src = Source::new(input);
    let version = src.u8()?;
    if version != 1 && version != 2 {
        if version == b'A' {
            return Err(Error::Malformed("input looks base64-encoded; decode it first"));
        }
        return Err(Error::UnsupportedVersion(version));
    }
    if version == 1 && src.u8()? != TYPE_CUSTOMER_AED {
        return Err(Error::Malformed("unknown message type"));
    }
    let suite = AlgorithmSuite::from_id(src.u16()?)?;
    if suite.message_format_version() != version {
        return Err(Error::Malformed("algorithm suite does not match the message format version"));
    }
    let message_id = src.bytes(suite.message_id_len())?;
    let aad = src.u16_prefixed()?;
    let encryption_context = if aad.is_empty() { EncryptionContext::new() } else { context::parse(&aad)? };
    let count = usize::from(src.u16()?);
    if count == 0 {
        return Err(Error::Malformed("no encrypted data keys"));
    }
    if let Some(max) = max_edks
        && count > max
    {
        return Err(Error::TooManyEncryptedDataKeys { count, max });
    }
    let mut encrypted_data_keys = Vec::with_capacity(count.min(16));
    for _ in 0..count {
        let provider_id =
            String::from_utf8(src.u16_prefixed()?).map_err(|_| Error::Malformed("provider id is not UTF-8"))?;
        let provider_info = src.u16_prefixed()?;
        let ciphertext = src.u16_prefixed()?;
        encrypted_data_keys.push(EncryptedDataKey { provider_id, provider_info, ciphertext });
    }
    let content_type = match src.u8()? {
        0x01 => ContentType::NonFramed,
        0x02 => ContentType::Framed,
        _ => return Err(Error::Malformed("unknown content type")),
    };
    let (frame_length, commit_key) = if version == 1 {
        if src.array::<4>()? != [0, 0, 0, 0] {
            return Err(Error::Malformed("reserved header field is not zero"));
        }
        if usize::from(src.u8()?) != IV_LEN {
            return Err(Error::Malformed("IV length does not match the suite"));
        }
        (src.u32()?, None)
    } else {
        (src.u32()?, Some(src.array::<COMMIT_KEY_LEN>()?))
    };
    match (content_type, frame_length) {
        (ContentType::NonFramed, 0) => {}
        (ContentType::NonFramed, _) => {
            return Err(Error::Malformed("non-framed message with a frame length"));
        }
        (ContentType::Framed, 0) => {
            return Err(Error::Malformed("framed message with frame length 0"));
        }
        (ContentType::Framed, _) => {}
    }
    let body = HeaderBody {
        suite,
        message_id,
        encryption_context,
        encrypted_data_keys,
        content_type,
        frame_length,
        commit_key,
    };
    Ok((body, src.record))
}

/// Reads the header authentication that follows a header body of `suite`.
pub fn read_header_auth<R: Read>(input: &mut R, suite: AlgorithmSuite) -> Result<HeaderAuth> {
    let mut src = Source::new(input);
    let iv = if suite.message_format_version() == 1 { Some(src.array::<IV_LEN>()?) } else { None };
    Ok(HeaderAuth { iv, tag: src.array()? })
}

/// Parses a complete header (body and authentication) at the start of `bytes`, without
/// authenticating it. Returns the header and the number of bytes it occupies. For inspection and
/// tests; decryption reads headers through [`crate::Decryptor`].
pub fn parse_header(bytes: &[u8]) -> Result<(HeaderBody, HeaderAuth, usize)> {
    let mut slice = bytes;
    let (body, raw) = read_header_body(&mut slice, None)?;
    let auth = read_header_auth(&mut slice, body.suite)?;
    let used = raw.len() + if auth.iv.is_some() { IV_LEN + TAG_LEN } else { TAG_LEN };
    Ok((body, auth, used))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn body(suite: AlgorithmSuite) -> HeaderBody {
        HeaderBody {
            suite,
            message_id: vec![7; suite.message_id_len()],
            encryption_context: [("a".to_string(), "b".to_string())].into_iter().collect(),
            encrypted_data_keys: vec![EncryptedDataKey {
                provider_id: "p".into(),
                provider_info: b"info".to_vec(),
                ciphertext: vec![1, 2, 3],
            }],
            content_type: ContentType::Framed,
            frame_length: 4096,
            commit_key: suite.is_committing().then_some([9; 32]),
        }
    }

    #[test]
    fn round_trip_v1_and_v2() {
        for suite in AlgorithmSuite::ALL {
            let b = body(suite);
            let bytes = b.serialize().unwrap();
            let (parsed, raw) = read_header_body(&mut bytes.as_slice(), None).unwrap();
            assert_eq!(parsed, b);
            assert_eq!(raw, bytes);
            // Every strict prefix is truncated, never a panic or a success.
            for n in 0..bytes.len() {
                assert!(read_header_body(&mut &bytes[..n], None).is_err());
            }
        }
    }

    #[test]
    fn edk_limit_applies_when_count_is_read() {
        let b = body(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey);
        let bytes = b.serialize().unwrap();
        assert!(matches!(
            read_header_body(&mut bytes.as_slice(), Some(0)),
            Err(Error::TooManyEncryptedDataKeys { count: 1, max: 0 })
        ));
        assert!(read_header_body(&mut bytes.as_slice(), Some(1)).is_ok());
    }

    #[test]
    fn rejects_bad_fixed_fields() {
        let v1 = body(AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256).serialize().unwrap();
        let n = v1.len();
        let mut bad = v1.clone();
        bad[1] = 0x81; // type
        assert!(read_header_body(&mut bad.as_slice(), None).is_err());
        let mut bad = v1.clone();
        bad[n - 5] = 13; // IV length
        assert!(read_header_body(&mut bad.as_slice(), None).is_err());
        let mut bad = v1.clone();
        bad[n - 7] = 1; // reserved
        assert!(read_header_body(&mut bad.as_slice(), None).is_err());
        let mut bad = v1.clone();
        bad[0] = 2; // v2 version with a v1 suite
        assert!(read_header_body(&mut bad.as_slice(), None).is_err());
        let mut bad = v1;
        bad[0] = b'A';
        assert!(matches!(read_header_body(&mut bad.as_slice(), None), Err(Error::Malformed(_))));
    }
}
