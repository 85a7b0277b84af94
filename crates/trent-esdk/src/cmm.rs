//! Materials managers: the layer between a message and its keyrings.

use std::collections::BTreeSet;
use std::sync::Arc;

use base64::Engine;
use trent_crypto::esdk::EcdsaSigner;

use crate::context::{PUBLIC_KEY_CONTEXT_KEY, check_no_reserved_keys};
use crate::keyring::Keyring;
use crate::{DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest, Error, Result};

/// Produces materials for encryption and decryption (the spec's CMM). A caching manager wraps another
/// one behind this same trait.
pub trait MaterialsManager: Send + Sync {
    fn get_encryption_materials(&self, request: EncryptionRequest) -> Result<EncryptionMaterials>;
    fn decrypt_materials(&self, request: DecryptionRequest) -> Result<DecryptionMaterials>;
}

/// The default materials manager: one keyring, per-message signing keys for signed suites.
pub struct DefaultMaterialsManager {
    keyring: Arc<dyn Keyring>,
}

impl DefaultMaterialsManager {
    pub fn new(keyring: Arc<dyn Keyring>) -> Self {
        Self { keyring }
    }
}

impl MaterialsManager for DefaultMaterialsManager {
    fn get_encryption_materials(&self, request: EncryptionRequest) -> Result<EncryptionMaterials> {
        let policy = request.commitment_policy;
        let suite = request.suite.unwrap_or_else(|| policy.default_suite());
        policy.check_encrypt(suite)?;
        check_no_reserved_keys(&request.encryption_context)?;
        let mut context = request.encryption_context;
        // The public key joins the context before the keyrings run, so KMS and raw AES bind it too.
        let signer = match suite.signature() {
            Some(curve) => {
                let signer = EcdsaSigner::generate(curve)?;
                let public = base64::engine::general_purpose::STANDARD.encode(signer.public_key_compressed()?);
                context.insert(PUBLIC_KEY_CONTEXT_KEY.to_owned(), public);
                Some(signer)
            }
            None => None,
        };
        let mut materials = EncryptionMaterials::new(suite, context, request.required_encryption_context_keys, signer)?;
        self.keyring.on_encrypt(&mut materials)?;
        if materials.plaintext_data_key().is_none() || materials.encrypted_data_keys().is_empty() {
            return Err(Error::Keyring("the keyring produced no data key or no encrypted data key".into()));
        }
        Ok(materials)
    }

    fn decrypt_materials(&self, request: DecryptionRequest) -> Result<DecryptionMaterials> {
        let suite = request.suite;
        request.commitment_policy.check_decrypt(suite)?;
        let mut context = request.encryption_context;
        let verification_key = match (suite.is_signed(), context.get(PUBLIC_KEY_CONTEXT_KEY)) {
            (true, Some(b64)) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|_| Error::Malformed("aws-crypto-public-key is not base64"))?,
            ),
            (true, None) => {
                return Err(Error::Malformed("signed message without aws-crypto-public-key"));
            }
            (false, Some(_)) => {
                return Err(Error::Malformed("unsigned message with aws-crypto-public-key"));
            }
            (false, None) => None,
        };
        // Reproduced pairs must match stored ones; pairs not stored were required-only at encryption
        // and are authenticated (header AAD, keyring AAD) without being stored.
        let mut required = BTreeSet::new();
        for (k, v) in request.reproduced_encryption_context.into_iter().flatten() {
            match context.get(&k) {
                Some(stored) if *stored == v => {}
                Some(_) => return Err(Error::EncryptionContextMismatch(k)),
                None => {
                    required.insert(k.clone());
                    context.insert(k, v);
                }
            }
        }
        let mut materials = DecryptionMaterials::new(suite, context, required, verification_key)?;
        let key = self.keyring.on_decrypt(&materials, &request.encrypted_data_keys)?;
        materials.set_plaintext_data_key(key)?;
        Ok(materials)
    }
}

/// Wraps another manager so that the configured context keys are authenticated but not stored in the
/// message: encryption requires them in the context, decryption in the reproduced context.
pub struct RequiredEncryptionContextManager {
    inner: Arc<dyn MaterialsManager>,
    required_keys: BTreeSet<String>,
}

impl RequiredEncryptionContextManager {
    pub fn new(inner: Arc<dyn MaterialsManager>, required_keys: BTreeSet<String>) -> Self {
        Self { inner, required_keys }
    }
}

impl MaterialsManager for RequiredEncryptionContextManager {
    fn get_encryption_materials(&self, mut request: EncryptionRequest) -> Result<EncryptionMaterials> {
        if let Some(k) = self.required_keys.iter().find(|k| !request.encryption_context.contains_key(*k)) {
            return Err(Error::InvalidEncryptionContext(format!("required key {k:?} is missing")));
        }
        request.required_encryption_context_keys.extend(self.required_keys.iter().cloned());
        let materials = self.inner.get_encryption_materials(request)?;
        if !self.required_keys.is_subset(materials.required_encryption_context_keys()) {
            return Err(Error::Config("the inner materials manager dropped required keys".into()));
        }
        Ok(materials)
    }

    fn decrypt_materials(&self, request: DecryptionRequest) -> Result<DecryptionMaterials> {
        let reproduced = request.reproduced_encryption_context.as_ref();
        if let Some(k) = self.required_keys.iter().find(|k| !reproduced.is_some_and(|r| r.contains_key(*k))) {
            return Err(Error::InvalidEncryptionContext(format!(
                "required key {k:?} is not in the reproduced context"
            )));
        }
        let materials = self.inner.decrypt_materials(request)?;
        if let Some(k) = self.required_keys.iter().find(|k| !materials.encryption_context().contains_key(*k)) {
            return Err(Error::InvalidEncryptionContext(format!("required key {k:?} lost by the inner manager")));
        }
        Ok(materials)
    }
}
