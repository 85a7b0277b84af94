//! Message body pieces shared by encryption and decryption: key derivation and the body AAD.

use trent_crypto::SecretBytes;
use trent_crypto::esdk::{self, COMMIT_KEY_LEN, GcmKey};

use crate::suite::Kdf;
use crate::{AlgorithmSuite, Result};

/// First 4 bytes of the final frame.
pub(crate) const FINAL_FRAME_MARKER: u32 = 0xFFFF_FFFF;
/// Largest non-framed content (2^36 - 32 bytes, the GCM limit).
pub(crate) const MAX_NON_FRAMED_LEN: u64 = (1 << 36) - 32;
/// Largest frame length written; Python rejects larger frames on decrypt.
pub const MAX_FRAME_LENGTH: u32 = i32::MAX as u32;

/// The body AAD's content string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyPart {
    Frame,
    FinalFrame,
    SingleBlock,
}

/// `message id ‖ content string ‖ u32 sequence ‖ u64 plaintext length`. The message id is the full
/// id (32 bytes in v2 messages, despite the spec table's "16").
pub(crate) fn body_aad(message_id: &[u8], part: BodyPart, seq: u32, len: u64) -> Vec<u8> {
    let s: &[u8] = match part {
        BodyPart::Frame => b"AWSKMSEncryptionClient Frame",
        BodyPart::FinalFrame => b"AWSKMSEncryptionClient Final Frame",
        BodyPart::SingleBlock => b"AWSKMSEncryptionClient Single Block",
    };
    let mut aad = Vec::with_capacity(message_id.len() + s.len() + 12);
    aad.extend_from_slice(message_id);
    aad.extend_from_slice(s);
    aad.extend_from_slice(&seq.to_be_bytes());
    aad.extend_from_slice(&len.to_be_bytes());
    aad
}

/// The content key of one message, and for committing suites its commit key.
pub(crate) struct MessageKey {
    pub(crate) key: GcmKey,
    pub(crate) commit_key: Option<[u8; COMMIT_KEY_LEN]>,
}

/// Derives the message key from the plaintext data key. `net_v4_0_0` reproduces ESDK-.NET 4.0.0's
/// bug (HKDF info without the message id), only for its retry on decryption.
pub(crate) fn derive_message_key(
    suite: AlgorithmSuite,
    data_key: &SecretBytes,
    message_id: &[u8],
    net_v4_0_0: bool,
) -> Result<MessageKey> {
    match suite.kdf() {
        Kdf::Identity => Ok(MessageKey { key: GcmKey::new(data_key)?, commit_key: None }),
        Kdf::Hkdf(hash) => {
            let mut info = suite.id().to_be_bytes().to_vec();
            if !net_v4_0_0 {
                info.extend_from_slice(message_id);
            }
            let k = esdk::hkdf(hash, &[], data_key, &info, suite.data_key_len())?;
            Ok(MessageKey { key: GcmKey::new(&k)?, commit_key: None })
        }
        Kdf::CommittingHkdfSha512 => {
            let (k, commit) = esdk::derive_committing_keys(data_key, message_id, suite.id())?;
            Ok(MessageKey { key: GcmKey::new(&k)?, commit_key: Some(commit) })
        }
    }
}
