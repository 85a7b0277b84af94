//! Cryptographic operations on symmetric keys: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext),
//! GenerateRandom. These run on the hot path: cached keys only, no store access after the first use.

use std::sync::Arc;

use trent_crypto::asymmetric::OaepHash;
use trent_crypto::blob::{self, Blob};
use trent_crypto::{SecretBytes, random_secret};

use super::{Action, Caller, Extra, Kms, require_usable, require_usage};
use crate::KmsError;
use crate::cache::{LiveKey, Material};
use crate::context::EncryptionContext;
use crate::ids::{KeyId, KeyRef};
use crate::model::{DataKeySpec, EncryptionAlgorithm, KeySpec, KeyUsage};
use crate::specs;

/// Debug is safe: secret fields are `SecretBytes`, whose Debug is redacted.
#[derive(Debug)]
pub struct EncryptRequest {
    pub key: KeyRef,
    pub plaintext: SecretBytes,
    pub context: EncryptionContext,
    pub algorithm: Option<EncryptionAlgorithm>,
}

/// Debug is safe: secret fields are `SecretBytes`, whose Debug is redacted.
#[derive(Debug)]
pub struct EncryptResponse {
    pub ciphertext: Vec<u8>,
    pub key_arn: String,
    pub algorithm: EncryptionAlgorithm,
    pub material_id: String,
}

/// Debug is safe: secret fields are `SecretBytes`, whose Debug is redacted.
#[derive(Debug)]
pub struct DecryptRequest {
    pub ciphertext: Vec<u8>,
    pub context: EncryptionContext,
    pub key: Option<KeyRef>,
    pub algorithm: Option<EncryptionAlgorithm>,
}

/// Debug is safe: secret fields are `SecretBytes`, whose Debug is redacted.
#[derive(Debug)]
pub struct DecryptResponse {
    pub plaintext: SecretBytes,
    pub key_arn: String,
    pub algorithm: EncryptionAlgorithm,
    pub material_id: String,
}

/// Debug is safe: secret fields are `SecretBytes`, whose Debug is redacted.
#[derive(Debug)]
pub struct ReEncryptRequest {
    pub ciphertext: Vec<u8>,
    pub source_context: EncryptionContext,
    pub source_key: Option<KeyRef>,
    pub source_algorithm: Option<EncryptionAlgorithm>,
    pub destination_key: KeyRef,
    pub destination_context: EncryptionContext,
    pub destination_algorithm: Option<EncryptionAlgorithm>,
}

/// Debug is safe: secret fields are `SecretBytes`, whose Debug is redacted.
#[derive(Debug)]
pub struct ReEncryptResponse {
    pub ciphertext: Vec<u8>,
    pub source_key_arn: String,
    pub key_arn: String,
    pub source_algorithm: EncryptionAlgorithm,
    pub destination_algorithm: EncryptionAlgorithm,
    pub source_material_id: String,
    pub destination_material_id: String,
}

/// GenerateDataKey takes exactly one of KeySpec and NumberOfBytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKeySize {
    Spec(DataKeySpec),
    Bytes(usize),
}

impl DataKeySize {
    pub fn from_fields(spec: Option<DataKeySpec>, bytes: Option<usize>) -> Result<Self, KmsError> {
        match (spec, bytes) {
            (Some(s), None) => Ok(Self::Spec(s)),
            (None, Some(n)) => Ok(Self::Bytes(n)),
            _ => Err(KmsError::Validation("Please specify either number of bytes or key spec.".into())),
        }
    }

    fn len(self) -> usize {
        match self {
            Self::Spec(s) => s.byte_len(),
            Self::Bytes(n) => n,
        }
    }
}

/// Debug is safe: secret fields are `SecretBytes`, whose Debug is redacted.
#[derive(Debug)]
pub struct GenerateDataKeyRequest {
    pub key: KeyRef,
    pub size: DataKeySize,
    pub context: EncryptionContext,
}

/// Debug is safe: secret fields are `SecretBytes`, whose Debug is redacted.
#[derive(Debug)]
pub struct GenerateDataKeyResponse {
    pub ciphertext: Vec<u8>,
    /// `None` for GenerateDataKeyWithoutPlaintext.
    pub plaintext: Option<SecretBytes>,
    pub key_arn: String,
    pub material_id: String,
}

impl Kms {
    pub fn encrypt(&self, caller: &Caller, req: EncryptRequest) -> Result<EncryptResponse, KmsError> {
        let extra = Extra::context(&req.context, req.algorithm.map(|a| a.as_str()));
        let live = self.resolve_with(caller, &req.key, Action::Encrypt, &extra)?;
        require_encryption_key(&live, "Encrypt")?;
        check_algorithm(&live, req.algorithm)?;
        self.stop_if_dry_run(caller)?;
        let (ciphertext, material_id, algorithm) =
            encrypt_with(&live, req.plaintext.expose_secret(), &req.context, req.algorithm, "Encrypt")?;
        Ok(EncryptResponse { ciphertext, key_arn: live.arn.clone(), algorithm, material_id })
    }

    pub fn decrypt(&self, caller: &Caller, req: DecryptRequest) -> Result<DecryptResponse, KmsError> {
        let (live, plaintext, material_id, algorithm) =
            self.open(caller, &req.ciphertext, &req.context, req.key.as_ref(), req.algorithm, "Decrypt")?;
        // `None`: a dry run, stopped before decrypting.
        let Some(plaintext) = plaintext else { return self.stop_if_dry_run(caller).and(Err(dry_run_escaped())) };
        Ok(DecryptResponse { plaintext, key_arn: live.arn.clone(), algorithm, material_id })
    }

    pub fn re_encrypt(&self, caller: &Caller, req: ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        let (source, plaintext, source_material_id, source_algorithm) = self.open(
            caller,
            &req.ciphertext,
            &req.source_context,
            req.source_key.as_ref(),
            req.source_algorithm,
            "ReEncrypt",
        )?;
        let extra = Extra::context(&req.destination_context, req.destination_algorithm.map(|a| a.as_str()));
        let dest = self.resolve_with(caller, &req.destination_key, Action::ReEncryptTo, &extra)?;
        require_encryption_key(&dest, "ReEncrypt")?;
        check_algorithm(&dest, req.destination_algorithm)?;
        self.stop_if_dry_run(caller)?;
        // Only a dry run leaves the source undecrypted, and it stopped above.
        let plaintext = plaintext.ok_or_else(dry_run_escaped)?;
        let (ciphertext, destination_material_id, destination_algorithm) = encrypt_with(
            &dest,
            plaintext.expose_secret(),
            &req.destination_context,
            req.destination_algorithm,
            "ReEncrypt",
        )?;
        Ok(ReEncryptResponse {
            ciphertext,
            source_key_arn: source.arn.clone(),
            key_arn: dest.arn.clone(),
            source_algorithm,
            destination_algorithm,
            source_material_id,
            destination_material_id,
        })
    }

    pub fn generate_data_key(
        &self,
        caller: &Caller,
        req: GenerateDataKeyRequest,
        with_plaintext: bool,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        let op = if with_plaintext { "GenerateDataKey" } else { "GenerateDataKeyWithoutPlaintext" };
        let action = if with_plaintext { Action::GenerateDataKey } else { Action::GenerateDataKeyWithoutPlaintext };
        let live = self.resolve_with(caller, &req.key, action, &Extra::context(&req.context, None))?;
        require_symmetric_encryption_key(&live, op)?;
        self.stop_if_dry_run(caller)?;
        let data_key = random_secret(req.size.len()).map_err(KmsError::internal)?;
        let (ciphertext, material_id) = seal(&live, data_key.expose_secret(), &req.context)?;
        Ok(GenerateDataKeyResponse {
            ciphertext,
            plaintext: with_plaintext.then_some(data_key),
            key_arn: live.arn.clone(),
            material_id,
        })
    }

    pub fn generate_random(&self, caller: &Caller, number_of_bytes: usize) -> Result<SecretBytes, KmsError> {
        self.authorize_account(caller, Action::GenerateRandom)?;
        random_secret(number_of_bytes).map_err(KmsError::internal)
    }

    /// Authenticates and decrypts: for a symmetric blob the key comes from the blob and a KeyId in the request
    /// must agree; RSA ciphertext names no key, so the request's KeyId picks it. For a dry run it stops after
    /// authorization and validation and returns no plaintext: the caller (ReEncrypt) may have more to check.
    #[allow(clippy::type_complexity)]
    pub(super) fn open(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        context: &EncryptionContext,
        expected: Option<&KeyRef>,
        algorithm: Option<EncryptionAlgorithm>,
        op: &str,
    ) -> Result<(Arc<LiveKey>, Option<SecretBytes>, String, EncryptionAlgorithm), KmsError> {
        let action = if op == "ReEncrypt" { Action::ReEncryptFrom } else { Action::Decrypt };
        let extra = Extra::context(context, algorithm.map(|a| a.as_str()));
        let named = expected.map(|k| self.resolve_with(caller, k, action, &extra)).transpose()?;
        if let Some(named) = named.as_ref().filter(|k| k.record.key_spec != KeySpec::SymmetricDefault) {
            if caller.dry_run {
                require_encryption_key(named, op)?;
                let algorithm = check_algorithm(named, algorithm)?;
                reject_context(context)?;
                let material_id = named.current().map(|(_, v)| v.material_id.clone()).unwrap_or_default();
                return Ok((named.clone(), None, material_id, algorithm));
            }
            let (plaintext, material_id, algorithm) = rsa_decrypt(named, ciphertext, context, algorithm, op)?;
            return Ok((named.clone(), Some(plaintext), material_id, algorithm));
        }
        let parsed = Blob::parse(ciphertext).map_err(|_| KmsError::InvalidCiphertext)?;
        let blob_key = KeyId::from_bytes(parsed.key_id());
        if let Some(named) = &named
            && named.record.key_id != blob_key
        {
            return Err(KmsError::IncorrectKey(
                "The key ID in the request does not identify a CMK that can perform this operation.".into(),
            ));
        }
        let live = match self.live_key(&blob_key)? {
            Some(k) => k,
            // A missing key and a key the caller may not use look the same to the caller, as in AWS.
            None => return Err(ciphertext_key_denied()),
        };
        if named.is_none() {
            self.authorize_key(caller, action, &live, &extra).map_err(|e| match e {
                KmsError::AccessDenied(_) => ciphertext_key_denied(),
                other => other,
            })?;
            self.note_resolved(caller, &live);
        }
        require_symmetric_encryption_key(&live, op)?;
        check_algorithm(&live, algorithm)?;
        let version = live.versions.get(&parsed.version()).ok_or(KmsError::InvalidCiphertext)?;
        let Material::Symmetric(key) = &version.material else { return Err(KmsError::InvalidCiphertext) };
        let aad = context.aad();
        let material_id = version.material_id.clone();
        if caller.dry_run {
            return Ok((live, None, material_id, EncryptionAlgorithm::SymmetricDefault));
        }
        let plaintext = parsed.open(key, aad).map_err(|_| KmsError::InvalidCiphertext)?;
        Ok((live, Some(plaintext), material_id, EncryptionAlgorithm::SymmetricDefault))
    }
}

/// A dry run that got past its stop: a bug. Fails closed rather than answering with half a result.
fn dry_run_escaped() -> KmsError {
    KmsError::internal("a dry run reached execution")
}

fn ciphertext_key_denied() -> KmsError {
    KmsError::AccessDenied(
        "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.".into(),
    )
}

/// Usable, and made for encryption (any spec).
fn require_encryption_key(live: &LiveKey, op: &str) -> Result<(), KmsError> {
    require_usable(live)?;
    require_usage(live, KeyUsage::EncryptDecrypt, op)
}

/// Data keys and symmetric blobs need a symmetric encryption key.
pub(super) fn require_symmetric_encryption_key(live: &LiveKey, op: &str) -> Result<(), KmsError> {
    require_encryption_key(live, op)?;
    if live.record.key_spec != KeySpec::SymmetricDefault {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key spec is {} which is not valid for {op}.",
            live.arn, live.record.key_spec
        )));
    }
    Ok(())
}

/// The algorithm must be one the key offers; a symmetric key defaults to SYMMETRIC_DEFAULT, an RSA key has no
/// default.
fn check_algorithm(live: &LiveKey, algorithm: Option<EncryptionAlgorithm>) -> Result<EncryptionAlgorithm, KmsError> {
    let algorithm = algorithm.unwrap_or(EncryptionAlgorithm::SymmetricDefault);
    let offered = specs::algorithms(live.record.key_spec, live.record.key_usage).encryption;
    if !offered.contains(&algorithm.as_str()) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm {algorithm} is incompatible with key spec {}.",
            live.record.key_spec
        )));
    }
    Ok(algorithm)
}

/// Encrypts under the key's current material: a v1 blob for a symmetric key, RSA-OAEP for an RSA key.
fn encrypt_with(
    live: &LiveKey,
    plaintext: &[u8],
    context: &EncryptionContext,
    algorithm: Option<EncryptionAlgorithm>,
    op: &str,
) -> Result<(Vec<u8>, String, EncryptionAlgorithm), KmsError> {
    require_encryption_key(live, op)?;
    let algorithm = check_algorithm(live, algorithm)?;
    if algorithm == EncryptionAlgorithm::SymmetricDefault {
        let (ciphertext, material_id) = seal(live, plaintext, context)?;
        return Ok((ciphertext, material_id, algorithm));
    }
    reject_context(context)?;
    let (_, current) =
        live.current().ok_or_else(|| KmsError::internal(format!("{} has no current key material", live.arn)))?;
    let Material::Private(key) = &current.material else {
        return Err(KmsError::internal(format!("{} has no private key", live.arn)));
    };
    let hash = oaep_hash(algorithm)?;
    let max = key.max_plaintext_len(hash).unwrap_or(0);
    if plaintext.len() > max {
        return Err(KmsError::Validation(format!(
            "Algorithm {algorithm} and key spec {} cannot encrypt data larger than {max} bytes.",
            live.record.key_spec
        )));
    }
    let ciphertext = key.encrypt(hash, plaintext).map_err(KmsError::internal)?;
    Ok((ciphertext, current.material_id.clone(), algorithm))
}

fn rsa_decrypt(
    live: &LiveKey,
    ciphertext: &[u8],
    context: &EncryptionContext,
    algorithm: Option<EncryptionAlgorithm>,
    op: &str,
) -> Result<(SecretBytes, String, EncryptionAlgorithm), KmsError> {
    require_encryption_key(live, op)?;
    let algorithm = check_algorithm(live, algorithm)?;
    reject_context(context)?;
    let (_, current) =
        live.current().ok_or_else(|| KmsError::internal(format!("{} has no current key material", live.arn)))?;
    let Material::Private(key) = &current.material else { return Err(KmsError::InvalidCiphertext) };
    let plaintext = key.decrypt(oaep_hash(algorithm)?, ciphertext).map_err(|_| KmsError::InvalidCiphertext)?;
    Ok((plaintext, current.material_id.clone(), algorithm))
}

fn oaep_hash(algorithm: EncryptionAlgorithm) -> Result<OaepHash, KmsError> {
    match algorithm {
        EncryptionAlgorithm::RsaesOaepSha1 => Ok(OaepHash::Sha1),
        EncryptionAlgorithm::RsaesOaepSha256 => Ok(OaepHash::Sha256),
        other => Err(KmsError::UnsupportedOperation(format!("{other} is not supported by Trent."))),
    }
}

/// Encryption context exists only for symmetric encryption.
fn reject_context(context: &EncryptionContext) -> Result<(), KmsError> {
    if !context.is_empty() {
        return Err(KmsError::Validation("EncryptionContext is not supported with asymmetric KMS keys.".into()));
    }
    Ok(())
}

/// Seals under the key's current backing version.
pub(super) fn seal(
    live: &LiveKey,
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<(Vec<u8>, String), KmsError> {
    let (version, current) =
        live.current().ok_or_else(|| KmsError::internal(format!("{} has no current backing key", live.arn)))?;
    let Material::Symmetric(key) = &current.material else {
        return Err(KmsError::internal(format!("{} is not a symmetric key", live.arn)));
    };
    let material_id = &current.material_id;
    let ciphertext = blob::seal(key, live.record.key_id.as_bytes(), version, plaintext, context.aad())
        .map_err(KmsError::internal)?;
    Ok((ciphertext, material_id.to_owned()))
}
