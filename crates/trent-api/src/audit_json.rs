//! The lenient reading of a JSON-protocol body (KMS, SSM, CloudTrail: PascalCase members) into the trail's
//! allow-listed request parameters and response elements. Only for what has no typed facts: a KMS request
//! whose body did not parse into its operation's request, a request refused before its operation ran, the
//! SSM and CloudTrail operations, and the KMS handlers not yet on the typed path (`Operation::audit_from_json`).
//! A KMS operation that ran records what its handler noted (`kms::KmsFacts`), without reading JSON again.
//!
//! Members are read one by one so that a wrong-typed member costs only itself: one such member
//! (`"Limit": "zz"` on DisableKey) used to fail the whole parse and erase the event's parameters and, through
//! the key id, its resources (security review finding 8). Anything not named here (Plaintext,
//! CiphertextBlob, GrantTokens, Policy...) is never read.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use trent_audit::event::{KeyMetadata, Tag};
use trent_audit::{RequestParameters, ResponseElements};

/// A JSON object body, or `None` (serde would also read an array; a request or response body is an object).
fn object(body: &[u8]) -> Option<Map<String, Value>> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// One member, or `None` when absent or of the wrong type.
fn member<T: DeserializeOwned>(m: &Map<String, Value>, name: &str) -> Option<T> {
    m.get(name).and_then(|v| T::deserialize(v).ok())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagJson {
    tag_key: String,
    #[serde(default)]
    tag_value: Option<String>,
}

/// The allow-listed members of a JSON request body; `None` if the body is not a JSON object (the request then
/// fails validation, and the event still records the call and its error).
pub(crate) fn request_parameters(body: &[u8]) -> Option<RequestParameters> {
    let m = object(body)?;
    let tags: Option<Vec<TagJson>> = member(&m, "Tags");
    Some(RequestParameters {
        key_id: member(&m, "KeyId"),
        encryption_context: member(&m, "EncryptionContext"),
        encryption_algorithm: member(&m, "EncryptionAlgorithm"),
        key_spec: member(&m, "KeySpec"),
        key_usage: member(&m, "KeyUsage"),
        origin: member(&m, "Origin"),
        description: member(&m, "Description"),
        number_of_bytes: member(&m, "NumberOfBytes"),
        alias_name: member(&m, "AliasName"),
        target_key_id: member(&m, "TargetKeyId"),
        source_key_id: member(&m, "SourceKeyId"),
        destination_key_id: member(&m, "DestinationKeyId"),
        source_encryption_context: member(&m, "SourceEncryptionContext"),
        destination_encryption_context: member(&m, "DestinationEncryptionContext"),
        source_encryption_algorithm: member(&m, "SourceEncryptionAlgorithm"),
        destination_encryption_algorithm: member(&m, "DestinationEncryptionAlgorithm"),
        pending_window_in_days: member(&m, "PendingWindowInDays"),
        rotation_period_in_days: member(&m, "RotationPeriodInDays"),
        policy_name: member(&m, "PolicyName"),
        tag_keys: member(&m, "TagKeys"),
        tags: tags.map(|t| t.into_iter().map(|t| Tag { key: t.tag_key, value: t.tag_value }).collect()),
        wrapping_algorithm: member(&m, "WrappingAlgorithm"),
        wrapping_key_spec: member(&m, "WrappingKeySpec"),
        expiration_model: member(&m, "ExpirationModel"),
        signing_algorithm: member(&m, "SigningAlgorithm"),
        mac_algorithm: member(&m, "MacAlgorithm"),
        key_pair_spec: member(&m, "KeyPairSpec"),
        limit: member(&m, "Limit"),
        multi_region: member(&m, "MultiRegion"),
        bypass_policy_lockout_safety_check: member(&m, "BypassPolicyLockoutSafetyCheck"),
        dry_run: member(&m, "DryRun"),
        user_name: member(&m, "UserName"),
        role_name: member(&m, "RoleName"),
        role_arn: member(&m, "RoleArn"),
        role_session_name: member(&m, "RoleSessionName"),
        duration_seconds: member(&m, "DurationSeconds"),
        path: member(&m, "Path"),
        path_prefix: member(&m, "PathPrefix"),
        access_key_id: member(&m, "AccessKeyId"),
        status: member(&m, "Status"),
    })
}

/// The allow-listed members of a JSON response body.
pub(crate) fn response_elements(body: &[u8]) -> Option<ResponseElements> {
    let m = object(body)?;
    let metadata = m.get("KeyMetadata").and_then(Value::as_object).map(|k| KeyMetadata {
        aws_account_id: member(k, "AWSAccountId"),
        key_id: member(k, "KeyId"),
        arn: member(k, "Arn"),
        enabled: member(k, "Enabled"),
        description: member(k, "Description"),
        key_usage: member(k, "KeyUsage"),
        key_state: member(k, "KeyState"),
        origin: member(k, "Origin"),
        key_manager: member(k, "KeyManager"),
        key_spec: member(k, "KeySpec"),
    });
    Some(ResponseElements {
        key_id: member(&m, "KeyId"),
        key_state: member(&m, "KeyState"),
        deletion_date: member(&m, "DeletionDate"),
        pending_window_in_days: member(&m, "PendingWindowInDays"),
        key_metadata: metadata,
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
