//! Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations,
//! and the scheduler's automatic rotations. A rotation adds a backing-key version; encryption uses the newest,
//! decryption the version the blob names; the key id and ARN never change.

use std::sync::Arc;

use trent_crypto::BackingKey;

use super::keys::ListPage;
use super::{Action, Caller, Kms, PageRequest};
use crate::KmsError;
use crate::cache::{LiveKey, LiveVersion, Material};
use crate::ids::KeyRef;
use crate::model::{KeySpec, KeyState, Origin, RotationSchedule, RotationType, Timestamp};

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
}

#[derive(Debug, Clone)]
pub struct RotationEntry {
    pub key_arn: String,
    pub material_id: String,
    pub date: Timestamp,
    pub rotation_type: RotationType,
}

impl Kms {
    pub fn enable_key_rotation(
        &self,
        caller: &Caller,
        key: &KeyRef,
        raw: &str,
        period_days: Option<u32>,
    ) -> Result<(), KmsError> {
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
        let live = self.resolve_key_only(caller, key, raw, Action::EnableKeyRotation)?;
        rotatable(&live)?;
        let next = self.clock.now().plus_days(days);
        self.update_key(&live, |r| {
            require_enabled(r.state, &live.arn)?;
            r.rotation = Some(RotationSchedule { period_days: days, next });
            Ok(())
        })?;
        tracing::info!(key = %live.arn, days, "automatic rotation enabled");
        Ok(())
    }

    pub fn disable_key_rotation(&self, caller: &Caller, key: &KeyRef, raw: &str) -> Result<(), KmsError> {
        let live = self.resolve_key_only(caller, key, raw, Action::DisableKeyRotation)?;
        rotatable(&live)?;
        self.update_key(&live, |r| {
            require_enabled(r.state, &live.arn)?;
            r.rotation = None;
            Ok(())
        })?;
        Ok(())
    }

    pub fn key_rotation_status(&self, caller: &Caller, key: &KeyRef, raw: &str) -> Result<RotationStatus, KmsError> {
        let live = self.resolve_key_only(caller, key, raw, Action::GetKeyRotationStatus)?;
        rotatable(&live)?;
        let r = live.record.rotation;
        Ok(RotationStatus {
            key_arn: live.arn.clone(),
            enabled: r.is_some(),
            period_days: r.map(|r| r.period_days),
            next_rotation: r.map(|r| r.next),
        })
    }

    /// Returns the key ARN.
    pub fn rotate_key_on_demand(&self, caller: &Caller, key: &KeyRef, raw: &str) -> Result<String, KmsError> {
        let live = self.resolve_key_only(caller, key, raw, Action::RotateKeyOnDemand)?;
        rotatable(&live)?;
        require_enabled(live.record.state, &live.arn)?;
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

    pub fn list_key_rotations(
        &self,
        caller: &Caller,
        key: &KeyRef,
        raw: &str,
        page: &PageRequest,
    ) -> Result<ListPage<RotationEntry>, KmsError> {
        let live = self.resolve_key_only(caller, key, raw, Action::ListKeyRotations)?;
        rotatable(&live)?;
        let after = match &page.marker {
            Some(m) => m.parse::<u32>().map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
            None => 0,
        };
        // Rotations are the versions after the first, in the order they were made.
        let mut versions: Vec<_> = self.store.key_versions(&live.record.key_id)?;
        versions.retain(|v| v.rotation.is_some() && v.version > after);
        let limit = page.limit();
        let next_marker = (versions.len() > limit).then(|| versions[limit - 1].version.to_string());
        let items = versions
            .into_iter()
            .take(limit)
            .filter_map(|v| {
                Some(RotationEntry {
                    key_arn: live.arn.clone(),
                    material_id: v.material_id,
                    date: v.created,
                    rotation_type: v.rotation?,
                })
            })
            .collect();
        Ok(ListPage { items, next_marker })
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

/// Automatic and on-demand rotation exist only for symmetric keys with KMS-generated material.
fn rotatable(live: &LiveKey) -> Result<(), KmsError> {
    if live.record.origin != Origin::AwsKms {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            live.arn, live.record.origin
        )));
    }
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
