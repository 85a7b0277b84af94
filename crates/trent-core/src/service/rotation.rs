//! Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations,
//! and the scheduler's automatic rotations. A rotation adds a backing-key version; encryption uses the newest,
//! decryption the version the blob names; the key id and ARN never change.
//!
//! Keys with imported material (EXTERNAL) rotate on demand only, and only into material imported beforehand
//! with ImportType NEW_KEY_MATERIAL (PENDING_ROTATION): the rotation makes it CURRENT and the previous
//! material NON_CURRENT. Rotations complete before the call returns, so GetKeyRotationStatus never reports
//! an on-demand rotation in progress (`OnDemandRotationStartDate`).

use std::sync::Arc;

use trent_crypto::BackingKey;

use super::keys::ListPage;
use super::{Action, Caller, Kms, PageRequest};
use crate::KmsError;
use crate::cache::{LiveKey, LiveVersion, Material};
use crate::ids::KeyRef;
use crate::model::{
    ExpirationModel, ImportedMaterial, KeyMaterialState, KeyRecord, KeySpec, KeyState, MaterialImportState, Origin,
    RotationSchedule, RotationType, Timestamp,
};

/// AWS's bounds and default for RotationPeriodInDays.
const MIN_ROTATION_DAYS: u32 = 90;
const MAX_ROTATION_DAYS: u32 = 2560;
const DEFAULT_ROTATION_DAYS: u32 = 365;
/// AWS's quota of on-demand rotations per key.
const MAX_ON_DEMAND_ROTATIONS: usize = 25;

#[derive(Debug, Clone)]
pub struct RotationStatus {
    pub key_arn: String,
    pub enabled: bool,
    pub period_days: Option<u32>,
    pub next_rotation: Option<Timestamp>,
    /// When an on-demand rotation still in progress started. Always `None`: Trent's rotations complete
    /// before RotateKeyOnDemand returns.
    pub on_demand_started: Option<Timestamp>,
}

/// One ListKeyRotations entry: a key material of the key.
#[derive(Debug, Clone)]
pub struct RotationEntry {
    pub key_arn: String,
    pub material_id: String,
    pub state: KeyMaterialState,
    /// When and how it became current; `None` for the first material and material pending rotation.
    pub rotation: Option<(Timestamp, RotationType)>,
    /// Imported material (EXTERNAL keys) only.
    pub imported: Option<ImportedEntry>,
}

#[derive(Debug, Clone)]
pub struct ImportedEntry {
    pub description: Option<String>,
    pub import_state: MaterialImportState,
    pub expiration: ExpirationModel,
    pub valid_to: Option<Timestamp>,
}

impl RotationEntry {
    fn imported(key_arn: &str, m: &ImportedMaterial) -> Self {
        Self {
            key_arn: key_arn.to_owned(),
            material_id: m.material_id.clone(),
            state: m.state,
            // Imported material only rotates on demand.
            rotation: m.rotated.map(|t| (t, RotationType::OnDemand)),
            imported: Some(ImportedEntry {
                description: m.description.clone(),
                import_state: m.import_state(),
                expiration: m.expiration,
                valid_to: m.valid_to,
            }),
        }
    }
}

impl Kms {
    pub fn enable_key_rotation(&self, caller: &Caller, key: &KeyRef, period_days: Option<u32>) -> Result<(), KmsError> {
        let days = period_days.unwrap_or(DEFAULT_ROTATION_DAYS);
        if !(MIN_ROTATION_DAYS..=MAX_ROTATION_DAYS).contains(&days) {
            return Err(KmsError::validation_one(
                &days.to_string(),
                "rotationPeriodInDays",
                if days < MIN_ROTATION_DAYS {
                    "Member must have value greater than or equal to 90"
                } else {
                    "Member must have value less than or equal to 2560"
                },
            ));
        }
        let live = self.resolve_direct(caller, key, Action::EnableKeyRotation)?;
        automatically_rotatable(&live)?;
        let next = self.clock.now().plus_days(days);
        self.update_key(&live, |r| {
            require_enabled(r.state, &live.arn)?;
            r.rotation = Some(RotationSchedule { period_days: days, next });
            Ok(())
        })?;
        tracing::info!(key = %live.arn, days, "automatic rotation enabled");
        Ok(())
    }

    pub fn disable_key_rotation(&self, caller: &Caller, key: &KeyRef) -> Result<(), KmsError> {
        let live = self.resolve_direct(caller, key, Action::DisableKeyRotation)?;
        automatically_rotatable(&live)?;
        self.update_key(&live, |r| {
            require_enabled(r.state, &live.arn)?;
            r.rotation = None;
            Ok(())
        })?;
        Ok(())
    }

    pub fn key_rotation_status(&self, caller: &Caller, key: &KeyRef) -> Result<RotationStatus, KmsError> {
        let live = self.resolve_direct(caller, key, Action::GetKeyRotationStatus)?;
        rotatable(&live)?;
        let r = live.record.rotation;
        Ok(RotationStatus {
            key_arn: live.arn.clone(),
            enabled: r.is_some(),
            period_days: r.map(|r| r.period_days),
            next_rotation: r.map(|r| r.next),
            on_demand_started: None,
        })
    }

    /// Returns the key ARN.
    pub fn rotate_key_on_demand(&self, caller: &Caller, key: &KeyRef) -> Result<String, KmsError> {
        let live = self.resolve_direct(caller, key, Action::RotateKeyOnDemand)?;
        rotatable(&live)?;
        require_enabled(live.record.state, &live.arn)?;
        if live.record.origin == Origin::External {
            self.rotate_into_imported(&live)?;
            return Ok(live.arn.clone());
        }
        let on_demand = live.versions.values().filter(|v| v.rotation == Some(RotationType::OnDemand)).count();
        if on_demand >= MAX_ON_DEMAND_ROTATIONS {
            return Err(KmsError::LimitExceeded(format!(
                "{} has reached the maximum number of on-demand rotations ({MAX_ON_DEMAND_ROTATIONS}).",
                live.arn
            )));
        }
        self.rotate(&live, RotationType::OnDemand)?;
        Ok(live.arn.clone())
    }

    /// `all_material`: IncludeKeyMaterial ALL_KEY_MATERIAL, which adds the first material and material pending
    /// rotation to the completed rotations.
    pub fn list_key_rotations(
        &self,
        caller: &Caller,
        key: &KeyRef,
        page: &PageRequest,
        all_material: bool,
    ) -> Result<ListPage<RotationEntry>, KmsError> {
        let live = self.resolve_direct(caller, key, Action::ListKeyRotations)?;
        rotatable(&live)?;
        let after = match &page.marker {
            Some(m) => m.parse::<u32>().map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
            None => 0,
        };
        // Entries in version order, the order the materials came to the key; the marker is a version.
        let mut entries: Vec<(u32, RotationEntry)> = if live.record.origin == Origin::External {
            live.record
                .materials
                .iter()
                .filter(|m| all_material || m.rotated.is_some())
                .map(|m| (m.version, RotationEntry::imported(&live.arn, m)))
                .collect()
        } else {
            let current = live.record.current_version;
            self.store
                .key_versions(&live.record.key_id)?
                .into_iter()
                .filter(|v| all_material || v.rotation.is_some())
                .map(|v| {
                    let entry = RotationEntry {
                        key_arn: live.arn.clone(),
                        material_id: v.material_id,
                        state: if v.version == current {
                            KeyMaterialState::Current
                        } else {
                            KeyMaterialState::NonCurrent
                        },
                        rotation: v.rotation.map(|t| (v.created, t)),
                        imported: None,
                    };
                    (v.version, entry)
                })
                .collect()
        };
        entries.retain(|(v, _)| *v > after);
        let limit = page.limit();
        let next_marker = (entries.len() > limit).then(|| entries[limit - 1].0.to_string());
        let items = entries.into_iter().take(limit).map(|(_, e)| e).collect();
        Ok(ListPage { items, next_marker })
    }

    /// On-demand rotation of a key with imported material: the material pending rotation becomes CURRENT,
    /// the current one NON_CURRENT (it still decrypts). Nothing is unwrapped or stored but the key record: the
    /// pending material's version is already loaded.
    fn rotate_into_imported(&self, live: &LiveKey) -> Result<(), KmsError> {
        let arn = &live.arn;
        let rotations = live.record.materials.iter().filter(|m| m.rotated.is_some()).count();
        if rotations >= MAX_ON_DEMAND_ROTATIONS {
            return Err(KmsError::LimitExceeded(format!(
                "{arn} has reached the maximum number of on-demand rotations ({MAX_ON_DEMAND_ROTATIONS})."
            )));
        }
        let pending =
            |r: &KeyRecord| r.materials.iter().position(|m| m.state == KeyMaterialState::PendingRotation && m.imported);
        let Some(i) = pending(&live.record) else {
            // AWS's text (recorded against AWS by LocalStack's snapshot tests).
            return Err(KmsError::InvalidState(format!(
                "No available key material pending rotation for the key: {arn}."
            )));
        };
        let version = live.record.materials[i].version;
        if !live.versions.contains_key(&version) {
            return Err(KmsError::internal(format!("{arn} version {version} is pending rotation but not loaded")));
        }
        let expected = live.record.current_version;
        let now = self.clock.now();
        let fresh = self.update_key(live, |r| {
            require_enabled(r.state, arn)?;
            if r.current_version != expected || pending(r) != Some(i) {
                return Err(KmsError::Conflict(format!("{arn} is already being rotated.")));
            }
            for m in r.materials.iter_mut() {
                if m.state == KeyMaterialState::Current {
                    m.state = KeyMaterialState::NonCurrent;
                }
            }
            let m = &mut r.materials[i];
            m.state = KeyMaterialState::Current;
            m.rotated = Some(now);
            r.current_version = version;
            Ok(())
        })?;
        tracing::info!(key = %arn, version, material = ?fresh.current_material_id(), "imported key material rotated in");
        Ok(())
    }

    /// Adds a new backing-key version. Only one of several racing rotations of the same key succeeds: the
    /// store transaction refuses a version if another one was added since `live` was read.
    fn rotate(&self, live: &LiveKey, rotation: RotationType) -> Result<Arc<LiveKey>, KmsError> {
        let expected = live.record.current_version;
        let next_version = expected + 1;
        let backing = BackingKey::generate().map_err(KmsError::internal)?;
        let mut version = self.new_version_record(&live.arn, live.record.key_id, next_version, &backing)?;
        version.rotation = Some(rotation);
        let now = self.clock.now();
        let guard = self.cache.write_guard();
        let updated = self
            .store
            .add_key_version(&live.record.key_id, &version, &mut |r| {
                if r.current_version != expected {
                    return Err(KmsError::Conflict(format!("{} is already being rotated.", live.arn)));
                }
                r.current_version = next_version;
                if rotation == RotationType::Automatic
                    && let Some(s) = r.rotation.as_mut()
                {
                    // The next rotation is one period after this one, however late this one ran.
                    s.next = now.plus_days(s.period_days);
                }
                Ok(())
            })?
            .ok_or_else(|| KmsError::NotFound(format!("Key '{}' does not exist", live.arn)))?;
        let mut versions = live.versions.clone();
        versions.insert(
            next_version,
            Arc::new(LiveVersion {
                material: Material::Symmetric(backing),
                material_id: version.material_id.clone(),
                rotation: Some(rotation),
            }),
        );
        let fresh = Arc::new(LiveKey { versions, ..live.with_record(updated) });
        self.cache.put_key(fresh.clone(), &guard);
        tracing::info!(key = %live.arn, version = next_version, ?rotation, "key rotated");
        Ok(fresh)
    }

    /// Rotates every key whose automatic rotation is due. Returns the ARNs of the keys rotated.
    pub(super) fn run_due_rotations(&self) -> Result<Vec<String>, KmsError> {
        let due = self.store.keys_due_for_rotation(self.clock.now().0)?;
        let mut done = Vec::new();
        for id in due {
            let Some(live) = self.live_key(&id)? else { continue };
            // A disabled or pending key keeps its schedule; AWS rotates it once it is enabled again.
            if live.record.state != KeyState::Enabled {
                continue;
            }
            match self.rotate(&live, RotationType::Automatic) {
                Ok(_) => done.push(live.arn.clone()),
                // Another node (or a concurrent on-demand rotation) got there first; the next run sees it.
                Err(KmsError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// On-demand rotation and the rotation listing exist for symmetric keys with KMS-generated or imported
/// material.
fn rotatable(live: &LiveKey) -> Result<(), KmsError> {
    if !matches!(live.record.origin, Origin::AwsKms | Origin::External) {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            live.arn, live.record.origin
        )));
    }
    symmetric(live)
}

/// Automatic rotation exists only for symmetric keys with KMS-generated material.
fn automatically_rotatable(live: &LiveKey) -> Result<(), KmsError> {
    if live.record.origin != Origin::AwsKms {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            live.arn, live.record.origin
        )));
    }
    symmetric(live)
}

fn symmetric(live: &LiveKey) -> Result<(), KmsError> {
    if live.record.key_spec != KeySpec::SymmetricDefault {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} key spec is {} which is not valid for this operation.",
            live.arn, live.record.key_spec
        )));
    }
    Ok(())
}

fn require_enabled(state: KeyState, arn: &str) -> Result<(), KmsError> {
    match state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{arn} is disabled."))),
        KeyState::PendingDeletion => Err(KmsError::InvalidState(format!("{arn} is pending deletion."))),
        KeyState::PendingImport => Err(KmsError::InvalidState(format!("{arn} is pending import."))),
        other => Err(KmsError::InvalidState(format!("{arn} is {}.", other.as_str().to_lowercase()))),
    }
}
