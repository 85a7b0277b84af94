//! The lenient reading of a JSON-protocol body (KMS, SSM, CloudTrail: PascalCase members) into the trail's
//! allow-listed request parameters and response elements. Only for what has no typed facts: a KMS request
//! whose body did not parse into its operation's request, a request refused before its operation ran, the
//! SSM and CloudTrail operations, and the KMS handlers not yet on the typed path (`Operation::audit_from_json`).
//! A KMS operation that ran records what its handler noted (`kms::KmsFacts`), without reading JSON again.
//!
//! Members are read one by one so that a wrong-typed member costs only itself: one such member
//! (`"Limit": "zz"` on DisableKey) used to fail the whole parse and erase the event's parameters and, through
//! the key id, its resources (security review finding 8). Anything not named here (Plaintext,
//! CiphertextBlob, GrantTokens, Policy, SSM's Value...) is skipped by the parser and never copied.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use trent_audit::event::{KeyMetadata, Tag};
use trent_audit::{RequestParameters, ResponseElements};

/// One allow-listed member, or `None` when the request gave it a value of the wrong type.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(serde_json::from_value(value).ok())
}

/// Whether a body is a JSON object (serde would also read an array positionally into a struct).
fn is_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagJson {
    tag_key: String,
    #[serde(default)]
    tag_value: Option<String>,
}

/// The members read, each by its wire name; serde skips every other member without copying it (a secret
/// member is never even held in a `Value`).
macro_rules! allow_listed {
    ($($field:ident: $ty:ty = $name:literal,)+) => {
        #[derive(Deserialize)]
        struct Members {
            $(#[serde(rename = $name, default, deserialize_with = "lenient")] $field: Option<$ty>,)+
            #[serde(rename = "Tags", default, deserialize_with = "lenient")]
            tags: Option<Vec<TagJson>>,
        }

        impl From<Members> for RequestParameters {
            fn from(m: Members) -> Self {
                let tags = m.tags.map(|t| t.into_iter().map(|t| Tag { key: t.tag_key, value: t.tag_value }).collect());
                Self { $($field: m.$field,)+ tags }
            }
        }
    };
}

allow_listed! {
    key_id: String = "KeyId",
    encryption_context: BTreeMap<String, String> = "EncryptionContext",
    encryption_algorithm: String = "EncryptionAlgorithm",
    key_spec: String = "KeySpec",
    key_usage: String = "KeyUsage",
    origin: String = "Origin",
    description: String = "Description",
    number_of_bytes: u64 = "NumberOfBytes",
    alias_name: String = "AliasName",
    target_key_id: String = "TargetKeyId",
    source_key_id: String = "SourceKeyId",
    destination_key_id: String = "DestinationKeyId",
    source_encryption_context: BTreeMap<String, String> = "SourceEncryptionContext",
    destination_encryption_context: BTreeMap<String, String> = "DestinationEncryptionContext",
    source_encryption_algorithm: String = "SourceEncryptionAlgorithm",
    destination_encryption_algorithm: String = "DestinationEncryptionAlgorithm",
    pending_window_in_days: u64 = "PendingWindowInDays",
    rotation_period_in_days: u64 = "RotationPeriodInDays",
    policy_name: String = "PolicyName",
    tag_keys: Vec<String> = "TagKeys",
    wrapping_algorithm: String = "WrappingAlgorithm",
    wrapping_key_spec: String = "WrappingKeySpec",
    expiration_model: String = "ExpirationModel",
    import_type: String = "ImportType",
    key_material_id: String = "KeyMaterialId",
    key_material_description: String = "KeyMaterialDescription",
    include_key_material: String = "IncludeKeyMaterial",
    signing_algorithm: String = "SigningAlgorithm",
    mac_algorithm: String = "MacAlgorithm",
    key_pair_spec: String = "KeyPairSpec",
    limit: u64 = "Limit",
    multi_region: bool = "MultiRegion",
    bypass_policy_lockout_safety_check: bool = "BypassPolicyLockoutSafetyCheck",
    dry_run: bool = "DryRun",
    user_name: String = "UserName",
    role_name: String = "RoleName",
    role_arn: String = "RoleArn",
    role_session_name: String = "RoleSessionName",
    duration_seconds: u64 = "DurationSeconds",
    path: String = "Path",
    path_prefix: String = "PathPrefix",
    access_key_id: String = "AccessKeyId",
    status: String = "Status",
}

/// The allow-listed members of a JSON request body; `None` if the body is not a JSON object (the request then
/// fails validation, and the event still records the call and its error).
pub(crate) fn request_parameters(body: &[u8]) -> Option<RequestParameters> {
    if !is_object(body) {
        return None;
    }
    serde_json::from_slice::<Members>(body).ok().map(RequestParameters::from)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadataJson {
    #[serde(rename = "AWSAccountId", default)]
    aws_account_id: Option<String>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    arn: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    key_usage: Option<String>,
    #[serde(default)]
    key_state: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    key_manager: Option<String>,
    #[serde(default)]
    key_spec: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResponseJson {
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    key_state: Option<String>,
    #[serde(default)]
    deletion_date: Option<f64>,
    #[serde(default)]
    pending_window_in_days: Option<u64>,
    #[serde(default)]
    key_metadata: Option<KeyMetadataJson>,
    #[serde(default)]
    key_material_id: Option<String>,
}

/// The allow-listed members of a JSON response body (blobs, plaintext, public keys and import tokens are
/// skipped unread).
pub(crate) fn response_elements(body: &[u8]) -> Option<ResponseElements> {
    if !is_object(body) {
        return None;
    }
    let r: ResponseJson = serde_json::from_slice(body).ok()?;
    let key_metadata = r.key_metadata.map(|k| KeyMetadata {
        aws_account_id: k.aws_account_id,
        key_id: k.key_id,
        arn: k.arn,
        enabled: k.enabled,
        description: k.description,
        key_usage: k.key_usage,
        key_state: k.key_state,
        origin: k.origin,
        key_manager: k.key_manager,
        key_spec: k.key_spec,
    });
    Some(ResponseElements {
        key_id: r.key_id,
        key_state: r.key_state,
        deletion_date: r.deletion_date,
        pending_window_in_days: r.pending_window_in_days,
        key_metadata,
        key_material_id: r.key_material_id,
        ..ResponseElements::default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Security review finding 8: one member of the wrong type (here ones the operations do not even have)
    /// must not erase the others.
    #[test]
    fn a_wrong_typed_member_costs_only_itself() {
        let body = br#"{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","Limit":"zz","DryRun":"x",
            "EncryptionContext":{"secret-project":"x"},"MultiRegion":7,"PolicyName":"default"}"#;
        let p = request_parameters(body).unwrap();
        assert_eq!(p.key_id.as_deref(), Some("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert_eq!(p.encryption_context.unwrap()["secret-project"], "x");
        assert_eq!(p.policy_name.as_deref(), Some("default"));
        assert_eq!((p.limit, p.dry_run, p.multi_region), (None, None, None));
        // A context with a non-string value is dropped as a whole; the key id stays.
        let p = request_parameters(br#"{"KeyId":"k","EncryptionContext":{"a":1}}"#).unwrap();
        assert_eq!((p.key_id.as_deref(), p.encryption_context), (Some("k"), None));
        assert!(request_parameters(b"[1,2]").is_none());
    }

    #[test]
    fn request_parameters_skip_secrets_and_keep_context() {
        let body = br#"{"KeyId":"alias/a","Plaintext":"c2VjcmV0","EncryptionContext":{"dept":"x"},
            "CiphertextBlob":"AAAA","GrantTokens":["t"],"Policy":"{}","NumberOfBytes":32}"#;
        let p = request_parameters(body).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"keyId":"alias/a","encryptionContext":{"dept":"x"},"numberOfBytes":32}"#);
    }

    #[test]
    fn response_elements_name_the_key() {
        let r = response_elements(br#"{"KeyId":"arn:aws:kms:us-east-1:1:key/k","Plaintext":"AA=="}"#).unwrap();
        assert_eq!(r.key_arn(), Some("arn:aws:kms:us-east-1:1:key/k"));
        let r = response_elements(br#"{"KeyMetadata":{"Arn":"arn:x","KeyId":"k"}}"#).unwrap();
        assert_eq!(r.key_arn(), Some("arn:x"));
        assert!(!serde_json::to_string(&r).unwrap().contains("AA=="));
    }
}
