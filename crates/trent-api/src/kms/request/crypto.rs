//! Requests of the symmetric cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext)
//! and GenerateRandom.

use trent_core::KmsError;
use trent_core::model::DataKeySpec;
use trent_core::service::{DataKeySize, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, ReEncryptRequest};

use super::{
    DryRunnable, FromBody, algorithm, blob, context, grant_tokens, key_id, key_ref, optional_key_id, optional_key_ref,
    refuse_recipient, secret_blob,
};
use crate::error::ApiError;
use crate::kms::validate::Check;
use crate::kms::wire;

const MAX_PLAINTEXT: usize = 4096;
const MAX_CIPHERTEXT: usize = 6144;

impl FromBody for DryRunnable<EncryptRequest> {
    type Wire = wire::EncryptIn;
}

impl TryFrom<wire::EncryptIn> for DryRunnable<EncryptRequest> {
    type Error = ApiError;

    fn try_from(r: wire::EncryptIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let plaintext =
            secret_blob(&mut c, r.plaintext.as_deref().map(String::as_str), "plaintext", "Plaintext", MAX_PLAINTEXT)?;
        let algorithm = algorithm(&mut c, r.encryption_algorithm.as_deref(), "encryptionAlgorithm");
        grant_tokens(&mut c, &r.grant_tokens);
        let (key, plaintext, algorithm) = c.finish_with((key, plaintext, algorithm))?;
        let request =
            EncryptRequest { key: key_ref(&key)?, plaintext, context: context(r.encryption_context)?, algorithm };
        Ok(Self::new(request, r.dry_run))
    }
}

impl FromBody for DryRunnable<DecryptRequest> {
    type Wire = wire::DecryptIn;
}

impl TryFrom<wire::DecryptIn> for DryRunnable<DecryptRequest> {
    type Error = ApiError;

    fn try_from(r: wire::DecryptIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let ciphertext =
            blob(&mut c, r.ciphertext_blob.as_deref(), "ciphertextBlob", "CiphertextBlob", MAX_CIPHERTEXT)?;
        optional_key_id(&mut c, &r.key_id, "keyId");
        let algorithm = algorithm(&mut c, r.encryption_algorithm.as_deref(), "encryptionAlgorithm");
        grant_tokens(&mut c, &r.grant_tokens);
        let (ciphertext, algorithm) = c.finish_with((ciphertext, algorithm))?;
        refuse_recipient(&r.recipient)?;
        let key = optional_key_ref(r.key_id.as_deref())?;
        let request = DecryptRequest { ciphertext, context: context(r.encryption_context)?, key, algorithm };
        Ok(Self::new(request, r.dry_run))
    }
}

impl FromBody for DryRunnable<ReEncryptRequest> {
    type Wire = wire::ReEncryptIn;
}

impl TryFrom<wire::ReEncryptIn> for DryRunnable<ReEncryptRequest> {
    type Error = ApiError;

    fn try_from(r: wire::ReEncryptIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let ciphertext =
            blob(&mut c, r.ciphertext_blob.as_deref(), "ciphertextBlob", "CiphertextBlob", MAX_CIPHERTEXT)?;
        let destination = key_id(&mut c, &r.destination_key_id, "destinationKeyId");
        optional_key_id(&mut c, &r.source_key_id, "sourceKeyId");
        let source_algorithm = algorithm(&mut c, r.source_encryption_algorithm.as_deref(), "sourceEncryptionAlgorithm");
        let destination_algorithm =
            algorithm(&mut c, r.destination_encryption_algorithm.as_deref(), "destinationEncryptionAlgorithm");
        grant_tokens(&mut c, &r.grant_tokens);
        let ((ciphertext, destination), (source_algorithm, destination_algorithm)) =
            c.finish_with(((ciphertext, destination), (source_algorithm, destination_algorithm)))?;
        let source_key = optional_key_ref(r.source_key_id.as_deref())?;
        let destination_key = key_ref(&destination)?;
        let request = ReEncryptRequest {
            ciphertext,
            source_context: context(r.source_encryption_context)?,
            source_key,
            source_algorithm,
            destination_key,
            destination_context: context(r.destination_encryption_context)?,
            destination_algorithm,
        };
        Ok(Self::new(request, r.dry_run))
    }
}

impl FromBody for DryRunnable<GenerateDataKeyRequest> {
    type Wire = wire::GenerateDataKeyIn;
}

impl TryFrom<wire::GenerateDataKeyIn> for DryRunnable<GenerateDataKeyRequest> {
    type Error = ApiError;

    fn try_from(r: wire::GenerateDataKeyIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let bytes = c.optional_in_range(r.number_of_bytes, "numberOfBytes", 1, 1024);
        let spec = match r.key_spec.as_deref() {
            Some(s) => c.enumeration(Some(s), "keySpec", DataKeySpec::parse, DataKeySpec::enum_constraint).map(Some),
            None => Some(None),
        };
        grant_tokens(&mut c, &r.grant_tokens);
        let (key, bytes, spec) = c.finish_with((key, bytes, spec))?;
        refuse_recipient(&r.recipient)?;
        let size = DataKeySize::from_fields(spec, bytes)?;
        let request = GenerateDataKeyRequest { key: key_ref(&key)?, size, context: context(r.encryption_context)? };
        Ok(Self::new(request, r.dry_run))
    }
}

pub(crate) struct GenerateRandom {
    pub(crate) number_of_bytes: usize,
}

impl FromBody for GenerateRandom {
    type Wire = wire::GenerateRandomIn;
}

impl TryFrom<wire::GenerateRandomIn> for GenerateRandom {
    type Error = ApiError;

    fn try_from(r: wire::GenerateRandomIn) -> Result<Self, ApiError> {
        let Some(n) = r.number_of_bytes else {
            return Err(KmsError::Validation("NumberOfBytes is required.".into()).into());
        };
        let mut c = Check::default();
        let n = c.in_range(n, "numberOfBytes", 1, 1024);
        let number_of_bytes = c.finish_with(n)?;
        if r.custom_key_store_id.is_some() || r.recipient.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores and Recipient are not supported by Trent.".into(),
            )
            .into());
        }
        Ok(Self { number_of_bytes })
    }
}
