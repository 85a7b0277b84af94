//! Imported key material (bring your own key): GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial, and the scheduler's expiry of material past its ValidTo.
//!
//! Symmetric keys only for now. As in AWS since 2025, a key can have several materials: the first one imported
//! is CURRENT; ImportType NEW_KEY_MATERIAL brings another, PENDING_ROTATION until RotateKeyOnDemand makes it
//! CURRENT (the previous one becomes NON_CURRENT and still decrypts). A re-import (EXISTING_KEY_MATERIAL, the
//! default once a key has material) must bring material the key already has: it restores deleted or expired
//! material, or changes its expiry. Each material has a KeyMaterialId derived from the key and the material,
//! and the key is usable only while every CURRENT and NON_CURRENT material is present.

use std::sync::Arc;

use trent_crypto::import::{ImportWrappingKey, key_material_id, material_fingerprint};
use trent_crypto::{BackingKey, KEY_LEN, import as wrap, random_array};

use super::{Action, Caller, Kms};
use crate::KmsError;
use crate::cache::{LiveKey, LiveVersion, Material};
use crate::ids::{KeyId, KeyRef};
use crate::model::{
    ExpirationModel, ImportParamsRecord, ImportType, ImportedMaterial, KeyMaterialState, KeyRecord, KeySpec, KeyState,
    Origin, Timestamp, WrappingAlgorithm, WrappingKeySpec,
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
    /// `None`: NEW_KEY_MATERIAL for a key that never had material, EXISTING_KEY_MATERIAL after that.
    pub import_type: Option<ImportType>,
    /// For a re-import: the id the material must have.
    pub material_id: Option<String>,
    /// Kept from the previous import of the same material when `None`.
    pub description: Option<String>,
}

/// What ImportKeyMaterial and DeleteImportedKeyMaterial answer.
#[derive(Debug, Clone)]
pub struct MaterialRef {
    pub key_arn: String,
    /// `None` only when DeleteImportedKeyMaterial found no material at all.
    pub material_id: Option<String>,
}

/// The ids a material can have in a key: the key-bound id, and the material-only fingerprint that materials
/// imported before ids were bound to keys keep.
struct MaterialIds {
    id: String,
    legacy: String,
}

impl MaterialIds {
    fn matches(&self, m: &ImportedMaterial) -> bool {
        m.material_id == self.id || m.material_id == self.legacy
    }

    fn position(&self, r: &KeyRecord) -> Option<usize> {
        r.materials.iter().position(|m| self.matches(m))
    }
}

impl Kms {
    pub fn get_parameters_for_import(
        &self,
        caller: &Caller,
        key: &KeyRef,
        algorithm: WrappingAlgorithm,
        spec: WrappingKeySpec,
    ) -> Result<ImportParameters, KmsError> {
        let live = self.resolve_direct(caller, key, Action::GetParametersForImport)?;
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
        req: ImportMaterialRequest,
    ) -> Result<MaterialRef, KmsError> {
        let live = self.resolve_direct(caller, key, Action::ImportKeyMaterial)?;
        require_external(&live)?;
        if live.record.state == KeyState::PendingDeletion {
            return Err(KmsError::InvalidState(format!("{} is pending deletion.", live.arn)));
        }
        if req.import_type == Some(ImportType::NewKeyMaterial) && req.material_id.is_some() {
            return Err(KmsError::Validation(
                "KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL.".into(),
            ));
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
        let ids = MaterialIds {
            id: key_material_id(&live.record.key_id.to_string(), &material),
            legacy: material_fingerprint(&material),
        };
        if let Some(given) = &req.material_id
            && *given != ids.id
            && *given != ids.legacy
        {
            return Err(KmsError::IncorrectKeyMaterial(format!(
                "The key material you are trying to import does not match the key material ID {given}."
            )));
        }
        let backing = BackingKey::from_secret(material).map_err(KmsError::internal)?;
        // A KeyMaterialId names material the key already has: a re-import whatever the key holds.
        let import_type = req.import_type.unwrap_or(if live.record.materials.is_empty() && req.material_id.is_none() {
            ImportType::NewKeyMaterial
        } else {
            ImportType::ExistingKeyMaterial
        });
        let imported = Imported { backing, ids, expiration, valid_to, description: req.description };
        let material_id = match import_type {
            ImportType::NewKeyMaterial => self.import_new_material(&live, imported)?,
            ImportType::ExistingKeyMaterial => self.reimport_material(&live, imported)?,
        };
        tracing::info!(key = %live.arn, material = %material_id, ?import_type, "key material imported");
        Ok(MaterialRef { key_arn: live.arn.clone(), material_id: Some(material_id) })
    }

    /// NEW_KEY_MATERIAL: the key's first material (CURRENT, the key becomes usable), or a further one, pending
    /// rotation. Returns its KeyMaterialId.
    fn import_new_material(&self, live: &LiveKey, new: Imported) -> Result<String, KmsError> {
        let arn = &live.arn;
        let refuse = |r: &KeyRecord| -> Result<(), KmsError> {
            if new.ids.position(r).is_some() {
                return Err(KmsError::IncorrectKeyMaterial(format!(
                    "The key material is already associated with {arn}. To reimport it, use ImportType EXISTING_KEY_MATERIAL."
                )));
            }
            if let Some(p) = r.materials.iter().find(|m| m.state == KeyMaterialState::PendingRotation) {
                // AWS's text (recorded against AWS by LocalStack's snapshot tests).
                return Err(KmsError::InvalidState(format!(
                    "New key material (id: {}) cannot be imported into KMS key {arn}, because another key material (id: {}) is pending rotation.",
                    new.ids.id, p.material_id
                )));
            }
            Ok(())
        };
        refuse(&live.record)?;
        let first = live.record.materials.is_empty();
        // Versions are never reused while a material names them; a deleted pending material's version may
        // come back, which is safe: nothing was ever encrypted under pending material.
        let version =
            live.record.materials.iter().map(|m| m.version).max().unwrap_or(0).max(live.record.current_version) + 1;
        let mut record = self.new_version_record(arn, live.record.key_id, version, &new.backing)?;
        record.material_id = new.ids.id.clone();
        let entry = ImportedMaterial {
            version,
            material_id: new.ids.id.clone(),
            description: new.description.clone(),
            state: if first { KeyMaterialState::Current } else { KeyMaterialState::PendingRotation },
            imported: true,
            expiration: new.expiration,
            valid_to: new.valid_to,
            rotated: None,
        };
        let guard = self.cache.write_guard();
        let updated = self
            .store
            .add_key_version(&live.record.key_id, &record, &mut |r| {
                // Re-checked on the freshest record: a concurrent import may have won.
                refuse(r)?;
                if r.materials.is_empty() != first {
                    return Err(KmsError::Conflict(format!("{arn} is being imported into concurrently.")));
                }
                if first {
                    r.current_version = version;
                    if r.state == KeyState::PendingImport {
                        r.state = KeyState::Enabled;
                    }
                }
                r.materials.push(entry.clone());
                Ok(())
            })?
            .ok_or_else(|| KmsError::NotFound(format!("Key '{arn}' does not exist")))?;
        let mut versions = live.versions.clone();
        versions.insert(
            version,
            Arc::new(LiveVersion {
                material: Material::Symmetric(new.backing),
                material_id: new.ids.id.clone(),
                rotation: None,
            }),
        );
        self.cache.put_key(Arc::new(LiveKey { versions, ..live.with_record(updated) }), &guard);
        Ok(new.ids.id)
    }

    /// EXISTING_KEY_MATERIAL: material the key already has, brought back after a deletion or an expiry, or
    /// re-imported to change its expiry and description. Returns its KeyMaterialId.
    fn reimport_material(&self, live: &LiveKey, again: Imported) -> Result<String, KmsError> {
        let arn = &live.arn;
        let Some(i) = again.ids.position(&live.record) else {
            return Err(KmsError::IncorrectKeyMaterial(
                "The key material you are trying to import is different from the key material previously imported into this KMS key.".into(),
            ));
        };
        let known = live.record.materials[i].clone();
        let mut change = |r: &mut KeyRecord| -> Result<(), KmsError> {
            let Some(i) = again.ids.position(r) else {
                return Err(KmsError::Conflict(format!("Key material of {arn} changed concurrently.")));
            };
            if r.materials[i].imported != known.imported {
                return Err(KmsError::Conflict(format!("Key material of {arn} changed concurrently.")));
            }
            let m = &mut r.materials[i];
            m.imported = true;
            m.expiration = again.expiration;
            m.valid_to = again.valid_to;
            if let Some(d) = &again.description {
                m.description = Some(d.clone());
            }
            // Usable again once every material bound to the key is back; a Disabled key stays disabled.
            if r.state == KeyState::PendingImport && r.materials.iter().all(|m| m.imported || !m.is_permanent()) {
                r.state = KeyState::Enabled;
            }
            Ok(())
        };
        if known.imported {
            // The material is present: only its expiry and description change.
            self.update_key(live, &mut change)?;
            return Ok(known.material_id);
        }
        let mut record = self.new_version_record(arn, live.record.key_id, known.version, &again.backing)?;
        record.material_id = known.material_id.clone();
        let guard = self.cache.write_guard();
        let updated = self
            .store
            .add_key_version(&live.record.key_id, &record, &mut change)?
            .ok_or_else(|| KmsError::NotFound(format!("Key '{arn}' does not exist")))?;
        let mut versions = live.versions.clone();
        versions.insert(
            known.version,
            Arc::new(LiveVersion {
                material: Material::Symmetric(again.backing),
                material_id: known.material_id.clone(),
                rotation: None,
            }),
        );
        self.cache.put_key(Arc::new(LiveKey { versions, ..live.with_record(updated) }), &guard);
        Ok(known.material_id)
    }

    /// Deletes one material: the one named, or the current one. Deleting material bound to the key (CURRENT
    /// or NON_CURRENT) makes the key PendingImport (unless it is pending deletion) until the same material is
    /// imported again; deleting
    /// material pending rotation removes it from the key, which then takes different material in its place.
    pub fn delete_imported_key_material(
        &self,
        caller: &Caller,
        key: &KeyRef,
        material_id: Option<&str>,
    ) -> Result<MaterialRef, KmsError> {
        let live = self.resolve_direct(caller, key, Action::DeleteImportedKeyMaterial)?;
        require_external(&live)?;
        // Allowed while the key is pending deletion, as in AWS: the material goes now, the key state stays.
        let target =
            match material_id {
                Some(id) => live.record.materials.iter().find(|m| m.material_id == id).ok_or_else(|| {
                    KmsError::NotFound(format!("Key material {id} is not associated with {}.", live.arn))
                })?,
                None => match live.record.current_material() {
                    Some(m) => m,
                    // Nothing was ever imported: nothing to delete, as AWS leaves a PendingImport key.
                    None => return Ok(MaterialRef { key_arn: live.arn.clone(), material_id: None }),
                },
            };
        let (version, id) = (target.version, target.material_id.clone());
        self.erase_material_if(&live, version, None)?;
        tracing::info!(key = %live.arn, material = %id, "imported key material deleted");
        Ok(MaterialRef { key_arn: live.arn.clone(), material_id: Some(id) })
    }

    /// Erases material whose ValidTo has passed. Returns the ARNs of the keys that lost material.
    pub(super) fn expire_imported_material(&self) -> Result<Vec<String>, KmsError> {
        let now = self.clock.now();
        let due = self.store.keys_with_expiring_material(now.0)?;
        self.expire_listed_material(&due, now)
    }

    /// Erases those materials of the keys in `ids` whose ValidTo is still passed at `now`, re-checked inside
    /// the store transaction that erases each: material re-imported (with a new ValidTo, or none) after the
    /// list was made must survive. Only the expired materials go; the key's others stay. Returns the keys
    /// that lost material.
    pub(super) fn expire_listed_material(&self, ids: &[KeyId], now: Timestamp) -> Result<Vec<String>, KmsError> {
        let mut done = Vec::new();
        for id in ids {
            let Some(live) = self.live_key(id)? else { continue };
            let due: Vec<u32> = live
                .record
                .materials
                .iter()
                .filter(|m| m.imported && m.valid_to.is_some_and(|t| t <= now))
                .map(|m| m.version)
                .collect();
            let mut erased = false;
            for version in due {
                // Each erase replaces the cached key; read it again so the next one starts from it.
                let Some(live) = self.live_key(id)? else { break };
                if self.erase_material_if(&live, version, Some(now))? {
                    tracing::info!(key = %live.arn, version, "imported key material expired");
                    erased = true;
                }
            }
            if erased {
                done.push(live.arn.clone());
            }
        }
        Ok(done)
    }

    /// Erases the material of one version; with `expired_by`, only if it is still imported with its ValidTo
    /// at or before that time when the transaction runs. Returns whether it erased.
    fn erase_material_if(&self, live: &LiveKey, version: u32, expired_by: Option<Timestamp>) -> Result<bool, KmsError> {
        let guard = self.cache.write_guard();
        let mut not_due = false;
        let result = self.store.delete_key_version(&live.record.key_id, version, &mut |r| {
            let position = r.materials.iter().position(|m| m.version == version);
            let due = position.is_some_and(|i| {
                let m = &r.materials[i];
                expired_by.is_none_or(|now| m.imported && m.valid_to.is_some_and(|t| t <= now))
            });
            let Some(i) = position.filter(|_| due) else {
                // Abort the transaction; the marker tells this refusal from a store error.
                not_due = true;
                return Err(KmsError::Conflict("imported material no longer due to be erased".into()));
            };
            if r.materials[i].is_permanent() {
                let m = &mut r.materials[i];
                m.imported = false;
                m.valid_to = None;
                if r.state != KeyState::PendingDeletion {
                    r.state = KeyState::PendingImport;
                }
            } else {
                // Pending rotation material is not bound to the key: it leaves the key entirely.
                r.materials.remove(i);
            }
            Ok(())
        });
        let updated = match result {
            Err(_) if not_due => return Ok(false),
            other => other?.ok_or_else(|| KmsError::NotFound(format!("Key '{}' does not exist", live.arn)))?,
        };
        let mut versions = live.versions.clone();
        versions.remove(&version);
        self.cache.put_key(Arc::new(LiveKey { versions, ..live.with_record(updated) }), &guard);
        Ok(true)
    }
}

/// Material unwrapped from an ImportKeyMaterial request, with what the request says about it.
struct Imported {
    backing: BackingKey,
    ids: MaterialIds,
    expiration: ExpirationModel,
    valid_to: Option<Timestamp>,
    description: Option<String>,
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
