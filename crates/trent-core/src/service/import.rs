//! Imported key material (bring your own key): GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial, and the scheduler's expiry of material past its ValidTo.
//!
//! Symmetric keys only for now. The first import fixes the material's fingerprint; later imports (after a
//! deletion or an expiry) must bring the same material, as in AWS.

use std::collections::HashMap;
use std::sync::Arc;

use trent_crypto::import::{ImportWrappingKey, material_fingerprint};
use trent_crypto::{BackingKey, KEY_LEN, import as wrap, random_array};

use super::{Action, Caller, Kms};
use crate::KmsError;
use crate::cache::{LiveKey, LiveVersion, Material};
use crate::ids::{KeyId, KeyRef};
use crate::model::{
    ExpirationModel, ImportParamsRecord, ImportState, KeySpec, KeyState, Origin, Timestamp, WrappingAlgorithm,
    WrappingKeySpec,
};

/// How long the public key and import token of GetParametersForImport stay valid: 24 hours.
const PARAMETERS_VALID_MS: i64 = Timestamp::DAY_MS;
/// ValidTo may be at most 365 days ahead.
const MAX_VALID_TO_DAYS: u32 = 365;
const TOKEN_LEN: usize = 32;

#[derive(Debug, Clone)]
pub struct ImportParameters {
    pub key_arn: String,
    pub import_token: Vec<u8>,
    pub public_key: Vec<u8>,
    pub valid_to: Timestamp,
}

/// Debug is safe: the encrypted material is ciphertext.
#[derive(Debug)]
pub struct ImportMaterialRequest {
    pub import_token: Vec<u8>,
    pub encrypted_key_material: Vec<u8>,
    pub expiration: Option<ExpirationModel>,
    pub valid_to: Option<Timestamp>,
}

impl Kms {
    pub fn get_parameters_for_import(
        &self,
        caller: &Caller,
        key: &KeyRef,
        raw: &str,
        algorithm: WrappingAlgorithm,
        spec: WrappingKeySpec,
    ) -> Result<ImportParameters, KmsError> {
        let live = self.resolve_key_only(caller, key, raw, Action::GetParametersForImport)?;
        require_external(&live)?;
        if live.record.state == KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!("{} is pending deletion.", live.arn)));
        }
        let spec = match spec {
            WrappingKeySpec::Rsa2048 => wrap::WrappingKeySpec::Rsa2048,
            WrappingKeySpec::Rsa3072 => wrap::WrappingKeySpec::Rsa3072,
            WrappingKeySpec::Rsa4096 => wrap::WrappingKeySpec::Rsa4096,
            WrappingKeySpec::Sm2 => {
                return Err(KmsError::UnsupportedOperation(
                    "SM2 wrapping keys are only available in China Regions.".into(),
                ));
            }
        };
        if algorithm == WrappingAlgorithm::Sm2Pke {
            return Err(KmsError::UnsupportedOperation("SM2PKE is only available in China Regions.".into()));
        }
        let wrapping = ImportWrappingKey::generate(spec).map_err(KmsError::internal)?;
        let token = random_array::<TOKEN_LEN>().map_err(KmsError::internal)?.to_vec();
        let pkcs8 = wrapping.to_pkcs8().map_err(KmsError::internal)?;
        let wrapped_private_key = self.root.wrap(&pkcs8, &import_binding(&live.arn)).map_err(KmsError::internal)?;
        let valid_to = Timestamp(self.clock.now().0 + PARAMETERS_VALID_MS);
        self.store.put_import_params(&ImportParamsRecord {
            key_id: live.record.key_id,
            token: token.clone(),
            wrapping_algorithm: algorithm,
            wrapped_private_key,
            valid_to,
        })?;
        Ok(ImportParameters {
            key_arn: live.arn.clone(),
            import_token: token,
            public_key: wrapping.public_key_der().map_err(KmsError::internal)?,
            valid_to,
        })
    }

    pub fn import_key_material(
        &self,
        caller: &Caller,
        key: &KeyRef,
        raw: &str,
        req: ImportMaterialRequest,
    ) -> Result<String, KmsError> {
        let live = self.resolve_key_only(caller, key, raw, Action::ImportKeyMaterial)?;
        require_external(&live)?;
        if live.record.state != KeyState::PendingImport {
            return Err(KmsError::InvalidState(format!(
                "{} is {} and already has key material. Delete the imported key material first.",
                live.arn,
                live.record.state.as_str()
            )));
        }
        let now = self.clock.now();
        let expiration = req.expiration.unwrap_or(ExpirationModel::KeyMaterialExpires);
        let valid_to = match (expiration, req.valid_to) {
            (ExpirationModel::KeyMaterialExpires, None) => {
                return Err(KmsError::Validation(
                    "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES".into(),
                ));
            }
            (ExpirationModel::KeyMaterialDoesNotExpire, Some(_)) => {
                return Err(KmsError::Validation(
                    "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE".into(),
                ));
            }
            (_, Some(t)) if t <= now || t > now.plus_days(MAX_VALID_TO_DAYS) => {
                return Err(KmsError::Validation(format!(
                    "ValidTo must be in the future and at most {MAX_VALID_TO_DAYS} days from now."
                )));
            }
            (_, t) => t,
        };

        let params = self
            .store
            .import_params(&live.record.key_id)?
            .filter(|p| trent_crypto::digest::constant_time_eq(&p.token, &req.import_token))
            .ok_or_else(|| {
                KmsError::InvalidImportToken("Import token is invalid or does not belong to this KMS key.".into())
            })?;
        if params.valid_to <= now {
            return Err(KmsError::ExpiredImportToken(
                "The import token has expired. Call GetParametersForImport for new parameters.".into(),
            ));
        }
        let pkcs8 = self
            .root
            .unwrap(&params.wrapped_private_key, &import_binding(&live.arn))
            .map_err(|e| KmsError::internal(format!("unwrapping import key of {}: {e}", live.arn)))?;
        let wrapping = ImportWrappingKey::from_pkcs8(&pkcs8).map_err(KmsError::internal)?;
        let algorithm = match params.wrapping_algorithm {
            WrappingAlgorithm::RsaesPkcs1V15 => wrap::WrappingAlgorithm::RsaesPkcs1V15,
            WrappingAlgorithm::RsaesOaepSha1 => wrap::WrappingAlgorithm::RsaesOaepSha1,
            WrappingAlgorithm::RsaesOaepSha256 => wrap::WrappingAlgorithm::RsaesOaepSha256,
            WrappingAlgorithm::RsaAesKeyWrapSha1 => wrap::WrappingAlgorithm::RsaAesKeyWrapSha1,
            WrappingAlgorithm::RsaAesKeyWrapSha256 => wrap::WrappingAlgorithm::RsaAesKeyWrapSha256,
            WrappingAlgorithm::Sm2Pke => return Err(KmsError::internal("SM2PKE import parameters were stored")),
        };
        let material = wrapping
            .unwrap_material(algorithm, &req.encrypted_key_material)
            .map_err(|_| KmsError::InvalidCiphertext)?;
        if material.len() != KEY_LEN {
            return Err(KmsError::IncorrectKeyMaterial(format!(
                "Key material for a {} key must be 256 bits (32 bytes); got {} bytes.",
                KeySpec::SymmetricDefault,
                material.len()
            )));
        }
        let fingerprint = material_fingerprint(&material);
        if let Some(previous) = &live.record.import
            && !trent_crypto::digest::constant_time_eq(previous.fingerprint.as_bytes(), fingerprint.as_bytes())
        {
            return Err(KmsError::IncorrectKeyMaterial(
                    "The key material you are trying to import is different from the key material previously imported into this KMS key.".into(),
                ));
        }
        let backing = BackingKey::from_secret(material).map_err(KmsError::internal)?;
        // A key has one imported material, always version 1: a re-import must bring the same material (checked
        // above), so blobs made before a deletion or expiry decrypt again afterwards, as in AWS.
        let version = 1;
        let mut record = self.new_version_record(&live.arn, live.record.key_id, version, &backing)?;
        record.material_id = fingerprint.clone();
        let guard = self.cache.write_guard();
        let updated = self
            .store
            .add_key_version(&live.record.key_id, &record, &mut |r| {
                if r.state != KeyState::PendingImport {
                    return Err(KmsError::Conflict(format!("{} already has key material.", live.arn)));
                }
                r.state = KeyState::Enabled;
                r.current_version = version;
                r.import = Some(ImportState { fingerprint: fingerprint.clone(), expiration, valid_to });
                Ok(())
            })?
            .ok_or_else(|| KmsError::NotFound(format!("Key '{}' does not exist", live.arn)))?;
        let mut versions = HashMap::new();
        versions.insert(
            version,
            Arc::new(LiveVersion { material: Material::Symmetric(backing), material_id: fingerprint, rotation: None }),
        );
        self.cache.put_key(Arc::new(LiveKey { versions, ..live.with_record(updated) }), &guard);
        tracing::info!(key = %live.arn, "key material imported");
        Ok(live.arn.clone())
    }

    /// Deletes the key material; the key goes to PendingImport until the same material is imported again.
    pub fn delete_imported_key_material(&self, caller: &Caller, key: &KeyRef, raw: &str) -> Result<String, KmsError> {
        let live = self.resolve_key_only(caller, key, raw, Action::DeleteImportedKeyMaterial)?;
        require_external(&live)?;
        if live.record.state == KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!("{} is pending deletion.", live.arn)));
        }
        self.erase_material(&live)?;
        tracing::info!(key = %live.arn, "imported key material deleted");
        Ok(live.arn.clone())
    }

    /// Erases material whose ValidTo has passed. Returns the ARNs of the keys that lost their material.
    pub(super) fn expire_imported_material(&self) -> Result<Vec<String>, KmsError> {
        let now = self.clock.now();
        let due = self.store.keys_with_expiring_material(now.0)?;
        self.expire_listed_material(&due, now)
    }

    /// Erases the material of those of `ids` whose ValidTo is still passed at `now`, re-checked inside the
    /// store transaction that erases it: material re-imported (with a new ValidTo, or none) after the list was
    /// made must survive. Returns the keys actually erased.
    pub(super) fn expire_listed_material(&self, ids: &[KeyId], now: Timestamp) -> Result<Vec<String>, KmsError> {
        let mut done = Vec::new();
        for id in ids {
            if let Some(live) = self.live_key(id)?
                && self.erase_material_if(&live, Some(now))?
            {
                tracing::info!(key = %live.arn, "imported key material expired");
                done.push(live.arn.clone());
            }
        }
        Ok(done)
    }

    fn erase_material(&self, live: &LiveKey) -> Result<(), KmsError> {
        self.erase_material_if(live, None).map(|_| ())
    }

    /// Erases the key's material; with `expired_by`, only if its ValidTo is at or before that time when the
    /// transaction runs. Returns whether it erased.
    fn erase_material_if(&self, live: &LiveKey, expired_by: Option<Timestamp>) -> Result<bool, KmsError> {
        let guard = self.cache.write_guard();
        let mut not_due = false;
        let result = self.store.delete_key_versions(&live.record.key_id, &mut |r| {
            if let Some(now) = expired_by
                && r.import.as_ref().and_then(|i| i.valid_to).is_none_or(|t| t > now)
            {
                // Abort the transaction; the marker tells this refusal from a store error.
                not_due = true;
                return Err(KmsError::Conflict("imported material no longer due to expire".into()));
            }
            if r.state != KeyState::PendingDeletion {
                r.state = KeyState::PendingImport;
            }
            if let Some(i) = r.import.as_mut() {
                i.valid_to = None;
            }
            Ok(())
        });
        let updated = match result {
            Err(_) if not_due => return Ok(false),
            other => other?.ok_or_else(|| KmsError::NotFound(format!("Key '{}' does not exist", live.arn)))?,
        };
        self.cache.put_key(Arc::new(LiveKey { versions: HashMap::new(), ..live.with_record(updated) }), &guard);
        Ok(true)
    }
}

fn require_external(live: &LiveKey) -> Result<(), KmsError> {
    if live.record.origin != Origin::External {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            live.arn, live.record.origin
        )));
    }
    if live.record.key_spec != KeySpec::SymmetricDefault {
        return Err(KmsError::UnsupportedOperation(format!(
            "Importing material for {} keys is not supported by this version of Trent.",
            live.record.key_spec
        )));
    }
    Ok(())
}

/// Associated data for the stored import wrapping key.
fn import_binding(arn: &str) -> Vec<u8> {
    format!("import-wrapping-key:{arn}").into_bytes()
}
