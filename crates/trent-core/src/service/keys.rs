//! Key lifecycle: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, Enable/DisableKey,
//! Schedule/CancelKeyDeletion.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::policy::{default_key_policy, validate_policy};
use super::tags::validate_new_tags;
use super::{Action, Caller, Kms, PageRequest, refuse_pending_deletion};
use crate::KmsError;
use crate::ids::{KeyId, KeyRef, key_arn};
use crate::model::{KeyRecord, KeySpec, KeyState, KeyUsage, Origin, Timestamp};
use crate::specs;

/// CreateKey, parsed. `None` means the caller left the field out.
#[derive(Debug, Clone, Default)]
pub struct CreateKeyRequest {
    pub description: Option<String>,
    pub key_spec: Option<KeySpec>,
    /// The deprecated spelling of `key_spec`; sending both is an error.
    pub customer_master_key_spec: Option<KeySpec>,
    pub key_usage: Option<KeyUsage>,
    pub origin: Option<Origin>,
    pub policy: Option<String>,
    pub bypass_policy_lockout_safety_check: bool,
    pub tags: Vec<(String, String)>,
    pub multi_region: bool,
    pub custom_key_store_id: Option<String>,
    pub xks_key_id: Option<String>,
}

/// What DescribeKey and CreateKey report about a key.
#[derive(Debug, Clone)]
pub struct KeyMetadata {
    pub record: KeyRecord,
    pub arn: String,
    pub current_material_id: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScheduleDeletionResponse {
    pub key_arn: String,
    pub deletion_date: Timestamp,
    pub key_state: KeyState,
    pub pending_window_days: u32,
}

/// AWS's service rule for the deletion window (the model allows 1..=365; the service enforces 7..=30).
const MIN_PENDING_DAYS: u32 = 7;
const MAX_PENDING_DAYS: u32 = 30;
const DEFAULT_PENDING_DAYS: u32 = 30;

impl Kms {
    pub fn create_key(&self, caller: &Caller, req: CreateKeyRequest) -> Result<KeyMetadata, KmsError> {
        let extra = super::Extra::tags(&req.tags)
            .with("kms:BypassPolicyLockoutSafetyCheck", vec![req.bypass_policy_lockout_safety_check.to_string()]);
        let requested_spec = req.key_spec.or(req.customer_master_key_spec).unwrap_or(KeySpec::SymmetricDefault);
        let extra = extra
            .with("kms:KeySpec", vec![requested_spec.to_string()])
            .with("kms:KeyUsage", vec![req.key_usage.unwrap_or(KeyUsage::EncryptDecrypt).to_string()])
            .with("kms:KeyOrigin", vec![req.origin.unwrap_or(Origin::AwsKms).to_string()]);
        self.authorize_account_with(caller, Action::CreateKey, &extra)?;
        if req.key_spec.is_some() && req.customer_master_key_spec.is_some() {
            return Err(KmsError::Validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated."
                    .into(),
            ));
        }
        let spec = req.key_spec.or(req.customer_master_key_spec).unwrap_or(KeySpec::SymmetricDefault);
        if !specs::supported(spec) {
            return Err(KmsError::UnsupportedOperation(format!(
                "KeySpec {spec} is not supported by Trent (SM2 exists only in China Regions; ML-DSA is not available yet)."
            )));
        }
        let usage = match req.key_usage {
            Some(u) => u,
            None if spec == KeySpec::SymmetricDefault => KeyUsage::EncryptDecrypt,
            None => {
                return Err(KmsError::Validation(
                    "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.".into(),
                ));
            }
        };
        if !specs::allowed_usages(spec).contains(&usage) {
            return Err(KmsError::Validation(format!("KeyUsage {usage} is not compatible with KeySpec {spec}")));
        }
        let origin = req.origin.unwrap_or(Origin::AwsKms);
        if !matches!(origin, Origin::AwsKms | Origin::External) {
            return Err(KmsError::UnsupportedOperation(format!(
                "Origin {origin} is not supported by Trent. Use AWS_KMS or EXTERNAL."
            )));
        }
        if origin == Origin::External && spec != KeySpec::SymmetricDefault {
            return Err(KmsError::UnsupportedOperation(format!(
                "Importing key material for {spec} keys is not supported by this version of Trent."
            )));
        }
        if req.multi_region {
            return Err(KmsError::UnsupportedOperation("Multi-Region keys are not supported by Trent.".into()));
        }
        if req.custom_key_store_id.is_some() || req.xks_key_id.is_some() {
            return Err(KmsError::UnsupportedOperation("Custom key stores are not supported by Trent.".into()));
        }
        let tags = validate_new_tags(&BTreeMap::new(), &req.tags)?;
        let key_id = KeyId::random();
        let policy = match req.policy {
            Some(p) => {
                validate_policy(&p)?;
                let arn = key_arn(&self.region, &caller.account, &key_id);
                self.check_new_key_policy(caller, &p, &arn, &caller.account, req.bypass_policy_lockout_safety_check)?;
                p
            }
            None => default_key_policy(&caller.account),
        };

        let record = KeyRecord {
            key_id,
            account: caller.account.clone(),
            region: self.region.clone(),
            description: req.description.unwrap_or_default(),
            key_spec: spec,
            key_usage: usage,
            origin,
            // A key for imported material has none until ImportKeyMaterial.
            state: if origin == Origin::External { KeyState::PendingImport } else { KeyState::Enabled },
            created: self.clock.now(),
            deletion_date: None,
            pending_window_days: None,
            policy,
            tags,
            current_version: if origin == Origin::External { 0 } else { 1 },
            rotation: None,
            materials: Vec::new(),
            key_manager: crate::model::KeyManager::Customer,
        };
        let arn = key_arn(&record.region, &record.account, &key_id);
        let version = match origin {
            Origin::External => None,
            _ => {
                let material = specs::generate_material(spec, usage)?;
                Some(self.new_version_record_for(&arn, key_id, 1, &material)?)
            }
        };
        self.store.create_key(&record, version.as_ref())?;
        tracing::info!(key_id = %key_id, %origin, "key created");
        Ok(KeyMetadata { record, arn, current_material_id: version.map(|v| v.material_id) })
    }

    pub fn describe_key(&self, caller: &Caller, key: &KeyRef) -> Result<KeyMetadata, KmsError> {
        let live = self.resolve(caller, key, Action::DescribeKey)?;
        Ok(metadata(&live))
    }

    pub fn list_keys(&self, caller: &Caller, page: &PageRequest) -> Result<ListPage<(KeyId, String)>, KmsError> {
        self.authorize_account(caller, Action::ListKeys)?;
        let after = match &page.marker {
            Some(m) => Some(KeyId::parse(m).ok_or_else(|| KmsError::InvalidMarker("Invalid marker".into()))?),
            None => None,
        };
        let limit = page.limit();
        // One extra row tells whether another page exists without a count query.
        let mut ids = self.store.list_keys(&caller.account, after.as_ref(), limit + 1)?;
        let next_marker = if ids.len() > limit {
            ids.truncate(limit);
            ids.last().map(|id| id.to_string())
        } else {
            None
        };
        let items = ids.into_iter().map(|id| (id, key_arn(&self.region, &caller.account, &id))).collect();
        Ok(ListPage { items, next_marker })
    }

    pub fn update_key_description(&self, caller: &Caller, key: &KeyRef, description: String) -> Result<(), KmsError> {
        let live = self.resolve_direct(caller, key, Action::UpdateKeyDescription)?;
        self.update_key(&live, |r| {
            refuse_pending_deletion_record(r, &live.arn)?;
            r.description = description.clone();
            Ok(())
        })?;
        Ok(())
    }

    pub fn enable_key(&self, caller: &Caller, key: &KeyRef) -> Result<(), KmsError> {
        self.set_enabled(caller, key, true)
    }

    pub fn disable_key(&self, caller: &Caller, key: &KeyRef) -> Result<(), KmsError> {
        self.set_enabled(caller, key, false)
    }

    fn set_enabled(&self, caller: &Caller, key: &KeyRef, enabled: bool) -> Result<(), KmsError> {
        let live = self.resolve_direct(caller, key, if enabled { Action::EnableKey } else { Action::DisableKey })?;
        self.refuse_aws_managed(caller, &live, if enabled { "EnableKey" } else { "DisableKey" })?;
        let arn = live.arn.clone();
        self.update_key(&live, |r| {
            match r.state {
                KeyState::Enabled | KeyState::Disabled => {}
                KeyState::PendingDeletion => {
                    return Err(KmsError::InvalidState(format!("{arn} is pending deletion.")));
                }
                KeyState::PendingImport => return Err(KmsError::InvalidState(format!("{arn} is pending import."))),
                other => return Err(KmsError::InvalidState(format!("{arn} is {}.", other.as_str().to_lowercase()))),
            }
            r.state = if enabled { KeyState::Enabled } else { KeyState::Disabled };
            Ok(())
        })?;
        tracing::info!(key = %arn, enabled, "key state changed");
        Ok(())
    }

    pub fn schedule_key_deletion(
        &self,
        caller: &Caller,
        key: &KeyRef,
        pending_window_days: Option<u32>,
    ) -> Result<ScheduleDeletionResponse, KmsError> {
        let days = pending_window_days.unwrap_or(DEFAULT_PENDING_DAYS);
        if !(MIN_PENDING_DAYS..=MAX_PENDING_DAYS).contains(&days) {
            return Err(KmsError::Validation(format!(
                "PendingWindowInDays must be between {MIN_PENDING_DAYS} and {MAX_PENDING_DAYS}"
            )));
        }
        let live = self.resolve_direct(caller, key, Action::ScheduleKeyDeletion)?;
        self.refuse_aws_managed(caller, &live, "ScheduleKeyDeletion")?;
        refuse_pending_deletion(&live)?;
        let deletion_date = self.clock.now().plus_days(days);
        let updated = self.update_key(&live, |r| {
            refuse_pending_deletion_record(r, &live.arn)?;
            r.state = KeyState::PendingDeletion;
            r.deletion_date = Some(deletion_date);
            r.pending_window_days = Some(days);
            Ok(())
        })?;
        tracing::info!(key = %updated.arn, days, "key scheduled for deletion");
        Ok(ScheduleDeletionResponse {
            key_arn: updated.arn.clone(),
            deletion_date,
            key_state: KeyState::PendingDeletion,
            pending_window_days: days,
        })
    }

    /// Returns the key ARN. The key comes back Disabled, as in AWS.
    pub fn cancel_key_deletion(&self, caller: &Caller, key: &KeyRef) -> Result<String, KmsError> {
        let live = self.resolve_direct(caller, key, Action::CancelKeyDeletion)?;
        let arn = live.arn.clone();
        self.update_key(&live, |r| {
            if r.state != KeyState::PendingDeletion {
                return Err(KmsError::InvalidState(format!("{arn} is not pending deletion.")));
            }
            r.state = KeyState::Disabled;
            r.deletion_date = None;
            r.pending_window_days = None;
            Ok(())
        })?;
        tracing::info!(key = %arn, "key deletion cancelled");
        Ok(arn)
    }
}

pub(super) fn metadata(live: &Arc<crate::cache::LiveKey>) -> KeyMetadata {
    KeyMetadata {
        record: live.record.clone(),
        arn: live.arn.clone(),
        // An imported key names its CURRENT material even while that material is deleted or expired.
        current_material_id: match live.record.current_material() {
            Some(m) => Some(m.material_id.clone()),
            None => live.current_material_id().map(str::to_owned),
        },
    }
}

/// The same check as `refuse_pending_deletion`, inside a store transaction on the freshest record.
pub(super) fn refuse_pending_deletion_record(r: &KeyRecord, arn: &str) -> Result<(), KmsError> {
    if r.state == KeyState::PendingDeletion {
        return Err(KmsError::InvalidState(format!("{arn} is pending deletion.")));
    }
    Ok(())
}
