//! Wire shapes: request members as AWS names them, and encoders for responses. Unknown request members
//! from newer SDKs are ignored (no `deny_unknown_fields`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trent_core::model::Timestamp;
use trent_core::service::KeyMetadata;

use crate::error::ApiError;
pub(crate) use crate::json::{B64, SecretB64, parse};

pub(crate) fn to_body(v: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(|e| ApiError::Kms(trent_core::KmsError::internal(e)))
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagIn {
    pub(crate) tag_key: Option<String>,
    pub(crate) tag_value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct CreateKeyIn {
    pub(crate) description: Option<String>,
    pub(crate) key_spec: Option<String>,
    pub(crate) customer_master_key_spec: Option<String>,
    pub(crate) key_usage: Option<String>,
    pub(crate) origin: Option<String>,
    pub(crate) policy: Option<String>,
    pub(crate) bypass_policy_lockout_safety_check: Option<bool>,
    pub(crate) tags: Option<Vec<TagIn>>,
    pub(crate) multi_region: Option<bool>,
    pub(crate) custom_key_store_id: Option<String>,
    pub(crate) xks_key_id: Option<String>,
}

/// Requests whose only member of interest is `KeyId` (DescribeKey, EnableKey, ...).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct KeyIdIn {
    pub(crate) key_id: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct UpdateKeyDescriptionIn {
    pub(crate) key_id: Option<String>,
    pub(crate) description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ScheduleKeyDeletionIn {
    pub(crate) key_id: Option<String>,
    pub(crate) pending_window_in_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ListIn {
    pub(crate) key_id: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
}

/// Debug is not derived: `plaintext` is secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct EncryptIn {
    pub(crate) key_id: Option<String>,
    pub(crate) plaintext: Option<zeroize::Zeroizing<String>>,
    pub(crate) encryption_context: Option<BTreeMap<String, String>>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) encryption_algorithm: Option<String>,
    pub(crate) dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DecryptIn {
    pub(crate) ciphertext_blob: Option<String>,
    pub(crate) encryption_context: Option<BTreeMap<String, String>>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) key_id: Option<String>,
    pub(crate) encryption_algorithm: Option<String>,
    pub(crate) recipient: Option<serde_json::Value>,
    pub(crate) dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ReEncryptIn {
    pub(crate) ciphertext_blob: Option<String>,
    pub(crate) source_encryption_context: Option<BTreeMap<String, String>>,
    pub(crate) source_key_id: Option<String>,
    pub(crate) destination_key_id: Option<String>,
    pub(crate) destination_encryption_context: Option<BTreeMap<String, String>>,
    pub(crate) source_encryption_algorithm: Option<String>,
    pub(crate) destination_encryption_algorithm: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct GenerateDataKeyIn {
    pub(crate) key_id: Option<String>,
    pub(crate) encryption_context: Option<BTreeMap<String, String>>,
    pub(crate) number_of_bytes: Option<i64>,
    pub(crate) key_spec: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) recipient: Option<serde_json::Value>,
    pub(crate) dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct GenerateRandomIn {
    pub(crate) number_of_bytes: Option<i64>,
    pub(crate) custom_key_store_id: Option<String>,
    pub(crate) recipient: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct AliasIn {
    pub(crate) alias_name: Option<String>,
    pub(crate) target_key_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct TagResourceIn {
    pub(crate) key_id: Option<String>,
    pub(crate) tags: Option<Vec<TagIn>>,
    pub(crate) tag_keys: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct KeyPolicyIn {
    pub(crate) key_id: Option<String>,
    pub(crate) policy_name: Option<String>,
    pub(crate) policy: Option<String>,
    pub(crate) bypass_policy_lockout_safety_check: Option<bool>,
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
}

/// Epoch seconds, fractional, as AWS JSON protocols send timestamps.
pub(crate) fn epoch(t: Timestamp) -> f64 {
    t.epoch_seconds_f64()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyMetadataOut<'a> {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: &'a str,
    key_id: String,
    arn: &'a str,
    creation_date: f64,
    enabled: bool,
    description: &'a str,
    key_usage: &'static str,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<u32>,
    origin: &'static str,
    key_manager: &'static str,
    customer_master_key_spec: &'static str,
    key_spec: &'static str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    encryption_algorithms: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    signing_algorithms: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    mac_algorithms: &'static [&'static str],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    key_agreement_algorithms: &'static [&'static str],
    multi_region: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_key_material_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<f64>,
}

impl<'a> KeyMetadataOut<'a> {
    pub(crate) fn new(m: &'a KeyMetadata) -> Self {
        let r = &m.record;
        let algorithms = trent_core::specs::algorithms(r.key_spec, r.key_usage);
        Self {
            aws_account_id: r.account.as_str(),
            key_id: r.key_id.to_string(),
            arn: &m.arn,
            creation_date: epoch(r.created),
            enabled: r.state == trent_core::model::KeyState::Enabled,
            description: &r.description,
            key_usage: r.key_usage.as_str(),
            key_state: r.state.as_str(),
            deletion_date: r.deletion_date.map(epoch),
            pending_deletion_window_in_days: r.pending_window_days,
            origin: r.origin.as_str(),
            key_manager: r.key_manager.as_str(),
            customer_master_key_spec: r.key_spec.as_str(),
            key_spec: r.key_spec.as_str(),
            encryption_algorithms: algorithms.encryption,
            signing_algorithms: algorithms.signing,
            mac_algorithms: algorithms.mac,
            key_agreement_algorithms: algorithms.key_agreement,
            multi_region: false,
            current_key_material_id: m.current_material_id.as_deref(),
            // Present for imported material once imported, as AWS reports it; ValidTo is the earliest expiry
            // of the materials bound to the key.
            expiration_model: r.expiration_model().map(|e| e.as_str()),
            valid_to: r.earliest_valid_to().map(epoch),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct RotationIn {
    pub(crate) key_id: Option<String>,
    pub(crate) rotation_period_in_days: Option<i64>,
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
    pub(crate) include_key_material: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ImportIn {
    pub(crate) key_id: Option<String>,
    pub(crate) wrapping_algorithm: Option<String>,
    pub(crate) wrapping_key_spec: Option<String>,
    pub(crate) import_token: Option<String>,
    pub(crate) encrypted_key_material: Option<String>,
    pub(crate) valid_to: Option<f64>,
    pub(crate) expiration_model: Option<String>,
    pub(crate) import_type: Option<String>,
    pub(crate) key_material_id: Option<String>,
    pub(crate) key_material_description: Option<String>,
}

/// A ListKeyRotations entry. The import members are present only for keys with imported material.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RotationOut<'a> {
    key_id: &'a str,
    key_material_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_material_description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    import_state: Option<&'static str>,
    key_material_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_model: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_to: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotation_type: Option<&'static str>,
}

impl<'a> RotationOut<'a> {
    pub(crate) fn new(e: &'a trent_core::service::RotationEntry) -> Self {
        let i = e.imported.as_ref();
        Self {
            key_id: &e.key_arn,
            key_material_id: &e.material_id,
            key_material_description: i.and_then(|i| i.description.as_deref()),
            import_state: i.map(|i| i.import_state.as_str()),
            key_material_state: e.state.as_str(),
            expiration_model: i.map(|i| i.expiration.as_str()),
            valid_to: i.and_then(|i| i.valid_to).map(epoch),
            rotation_date: e.rotation.map(|(t, _)| epoch(t)),
            rotation_type: e.rotation.map(|(_, t)| t.as_str()),
        }
    }
}

/// Debug is not derived: `message` may be secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct SignIn {
    pub(crate) key_id: Option<String>,
    pub(crate) message: Option<zeroize::Zeroizing<String>>,
    pub(crate) message_type: Option<String>,
    pub(crate) signature: Option<String>,
    pub(crate) signing_algorithm: Option<String>,
    pub(crate) mac_algorithm: Option<String>,
    pub(crate) mac: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DeriveIn {
    pub(crate) key_id: Option<String>,
    pub(crate) key_agreement_algorithm: Option<String>,
    pub(crate) public_key: Option<String>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
    pub(crate) recipient: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DataKeyPairIn {
    pub(crate) key_id: Option<String>,
    pub(crate) key_pair_spec: Option<String>,
    pub(crate) encryption_context: Option<BTreeMap<String, String>>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) dry_run: Option<bool>,
    pub(crate) recipient: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct ConstraintsIn {
    pub(crate) encryption_context_subset: Option<BTreeMap<String, String>>,
    pub(crate) encryption_context_equals: Option<BTreeMap<String, String>>,
}

/// The members of every grant operation (CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
/// RevokeGrant).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct GrantIn {
    pub(crate) key_id: Option<String>,
    pub(crate) grantee_principal: Option<String>,
    pub(crate) retiring_principal: Option<String>,
    pub(crate) operations: Option<Vec<String>>,
    pub(crate) constraints: Option<ConstraintsIn>,
    pub(crate) grant_tokens: Option<Vec<String>>,
    pub(crate) name: Option<String>,
    pub(crate) grant_id: Option<String>,
    pub(crate) grant_token: Option<String>,
    pub(crate) limit: Option<i64>,
    pub(crate) marker: Option<String>,
    pub(crate) dry_run: Option<bool>,
}
