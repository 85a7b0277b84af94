//! Advanced-tier SecureString values (up to 8 KB) are envelope-encrypted, as AWS does: a fresh 256-bit data key
//! from KMS GenerateDataKey (as the caller, through Parameter Store, with the `PARAMETER_ARN` encryption
//! context) seals the value with AES-256-GCM in the crypto core, which picks the IV. Only the data key's KMS
//! ciphertext and the sealed value are stored.
//!
//! Stored format: `"TSE1" || u16 BE length of the data key blob || data key blob || IV (12) || ciphertext ‖ tag`,
//! the parameter ARN as associated data. Standard-tier values are plain KMS blobs, which start with 0x01, so the
//! two never collide.

use trent_crypto::SecretBytes;
use trent_crypto::esdk::{GcmKey, ParsedIv, unwrap_with_iv, wrap_with_random_iv};

use super::SsmError;
use crate::context::EncryptionContext;
use crate::ids::KeyRef;
use crate::model::DataKeySpec;
use crate::service::{Caller, DataKeySize, DecryptRequest, DelegatedCall, GenerateDataKeyRequest, Kms};

const MAGIC: &[u8; 4] = b"TSE1";
const IV_LEN: usize = 12;

pub(super) fn is_envelope(stored: &[u8]) -> bool {
    stored.starts_with(MAGIC)
}

pub(super) fn seal(
    kms: &Kms,
    caller: &Caller,
    key: KeyRef,
    key_id: &str,
    context: EncryptionContext,
    arn: &str,
    plaintext: &SecretBytes,
) -> Result<Vec<u8>, SsmError> {
    let request =
        GenerateDataKeyRequest { key, size: DataKeySize::Spec(DataKeySpec::Aes256), context: context.clone() };
    let result = kms.generate_data_key(caller, request, true);
    caller.note_delegated(DelegatedCall::new("GenerateDataKey", Some(key_id.to_owned()), &context, &result, |r| {
        &r.key_arn
    }));
    let dk = result?;
    let data_key = dk.plaintext.ok_or_else(|| SsmError::internal("GenerateDataKey returned no plaintext"))?;
    let gcm = GcmKey::new(&data_key).map_err(SsmError::internal)?;
    let (iv, sealed) = wrap_with_random_iv(&gcm, plaintext, arn.as_bytes()).map_err(SsmError::internal)?;
    let blob_len = u16::try_from(dk.ciphertext.len()).map_err(SsmError::internal)?;
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + dk.ciphertext.len() + IV_LEN + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&blob_len.to_be_bytes());
    out.extend_from_slice(&dk.ciphertext);
    out.extend_from_slice(&iv);
    out.extend_from_slice(&sealed);
    Ok(out)
}

pub(super) fn open(
    kms: &Kms,
    caller: &Caller,
    context: EncryptionContext,
    arn: &str,
    stored: &[u8],
) -> Result<SecretBytes, SsmError> {
    let damaged = || SsmError::internal("stored SecureString envelope is damaged");
    let rest = stored.strip_prefix(MAGIC.as_slice()).ok_or_else(damaged)?;
    let (len, rest) = rest.split_at_checked(2).ok_or_else(damaged)?;
    let blob_len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let (blob, rest) = rest.split_at_checked(blob_len).ok_or_else(damaged)?;
    let (iv, sealed) = rest.split_at_checked(IV_LEN).ok_or_else(damaged)?;
    let request = DecryptRequest { ciphertext: blob.to_vec(), context: context.clone(), key: None, algorithm: None };
    let result = kms.decrypt(caller, request);
    caller.note_delegated(DelegatedCall::new("Decrypt", None, &context, &result, |r| &r.key_arn));
    let data_key = result?.plaintext;
    let gcm = GcmKey::new(&data_key).map_err(SsmError::internal)?;
    let iv = ParsedIv::from_message_bytes(iv).map_err(|_| damaged())?;
    unwrap_with_iv(&gcm, &iv, sealed, arn.as_bytes()).map_err(|_| damaged())
}
