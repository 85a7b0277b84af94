//! The audit event: one CloudTrail record (eventVersion 1.08), typed.
//!
//! Secrets cannot enter an event because no field can hold one: request parameters and response elements are
//! closed allow-lists of named, non-secret members (key ids, encryption context, key specs, counts...).
//! Plaintext, data keys, ciphertext blobs, import tokens, wrapped key material, grant tokens and session
//! tokens have no field here. This crate knows no wire format: the API layer fills these types from its typed
//! requests and outcomes. Encryption context is logged, as AWS does.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

pub use crate::identity::{SessionAttributes, SessionContext, SessionIssuer, UserIdentity};

/// `eventVersion` of the records Trent writes.
pub const EVENT_VERSION: &str = "1.08";
/// `eventSource` of KMS events.
pub const KMS_EVENT_SOURCE: &str = "kms.amazonaws.com";
/// `resources[].type` of a KMS key.
pub const KMS_KEY_RESOURCE_TYPE: &str = "AWS::KMS::Key";

/// One CloudTrail record. Build with [`AuditEvent::api_call`] or [`AuditEvent::service_event`], then set
/// what is known.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    event_version: &'static str,
    pub user_identity: UserIdentity,
    #[serde(serialize_with = "serialize_time")]
    pub event_time: SystemTime,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub request_parameters: Option<RequestParameters>,
    pub response_elements: Option<ResponseElements>,
    #[serde(rename = "requestID", skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    pub event_type: EventType,
    pub management_event: bool,
    pub recipient_account_id: Option<String>,
    /// The same call delivered to two accounts (a cross-account KMS call: the caller's and the key owner's)
    /// is two events with their own `eventID` and this id in common.
    #[serde(rename = "sharedEventID", skip_serializing_if = "Option::is_none")]
    pub shared_event_id: Option<String>,
    event_category: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_details: Option<TlsDetails>,
}

impl AuditEvent {
    /// A call made by a client (`AwsApiCall`), with a fresh event id, stamped now.
    pub fn api_call(event_source: &str, event_name: &str, region: &str) -> Self {
        Self::new(EventType::AwsApiCall, event_source, event_name, region)
    }

    /// Work Trent did on its own (`AwsServiceEvent`): rotation, deletion at the end of its window, expiry.
    pub fn service_event(event_source: &str, event_name: &str, region: &str) -> Self {
        let mut e = Self::new(EventType::AwsServiceEvent, event_source, event_name, region);
        e.user_identity = UserIdentity::service(event_source);
        e
    }

    fn new(event_type: EventType, event_source: &str, event_name: &str, region: &str) -> Self {
        Self {
            event_version: EVENT_VERSION,
            user_identity: UserIdentity::unknown(),
            event_time: SystemTime::now(),
            event_source: event_source.to_owned(),
            event_name: event_name.to_owned(),
            aws_region: region.to_owned(),
            source_ip_address: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            request_parameters: None,
            response_elements: None,
            request_id: None,
            event_id: fresh_uuid(),
            read_only: false,
            resources: Vec::new(),
            event_type,
            management_event: true,
            recipient_account_id: None,
            shared_event_id: None,
            event_category: "Management",
            tls_details: None,
        }
    }

    /// The record's JSON, once: this is the text that goes to disk.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// A random (version 4) UUID as text, for request and event ids. These ids must be unique, not secret: they
/// come from a per-thread wyrand generator seeded once from the CSPRNG, because a CSPRNG call per id (first
/// the kernel's `getrandom`, then aws-lc's DRBG) cost about 2% of the server's CPU each in the profile.
pub fn fresh_uuid() -> String {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(match trent_crypto::random_array::<8>() {
            Ok(seed) => u64::from_le_bytes(seed),
            Err(_) => uuid::Uuid::new_v4().as_u64_pair().0,
        });
    }
    // wyrand (Wang Yi): one multiply-fold per 64 bits, full period over the 2^64 states.
    let next = || {
        STATE.with(|s| {
            let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
            s.set(x);
            let t = u128::from(x) * u128::from(x ^ 0xe703_7ed1_a0b4_28db);
            (t as u64) ^ ((t >> 64) as u64)
        })
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&next().to_le_bytes());
    b[8..].copy_from_slice(&next().to_le_bytes());
    uuid::Builder::from_random_bytes(b).into_uuid().to_string()
}

#[cfg(test)]
mod uuid_tests {
    #[test]
    fn fresh_uuids_are_version_4_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| super::fresh_uuid()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let u = uuid::Uuid::parse_str(id).unwrap_or_default();
            assert_eq!((u.get_version_num(), u.get_variant()), (4, uuid::Variant::RFC4122), "{id}");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    AwsApiCall,
    AwsServiceEvent,
}

#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "ARN")]
    pub arn: String,
}

impl Resource {
    /// A KMS key resource; the account is read from the ARN (`arn:aws:kms:<region>:<account>:key/<id>`).
    pub fn kms_key(arn: &str) -> Self {
        let account_id = arn.split(':').nth(4).filter(|a| !a.is_empty()).map(str::to_owned);
        Self { account_id, kind: KMS_KEY_RESOURCE_TYPE.into(), arn: arn.to_owned() }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsDetails {
    pub tls_version: String,
    pub cipher_suite: String,
    pub client_provided_host_header: Option<String>,
}

/// The non-secret members of a request, written in CloudTrail's camelCase. Anything not named here
/// (Plaintext, CiphertextBlob, EncryptedKeyMaterial, ImportToken, GrantTokens, Policy...) cannot be represented.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestParameters {
    #[serde(rename = "keyId", skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(rename = "encryptionContext", skip_serializing_if = "Option::is_none")]
    pub encryption_context: Option<BTreeMap<String, String>>,
    #[serde(rename = "encryptionAlgorithm", skip_serializing_if = "Option::is_none")]
    pub encryption_algorithm: Option<String>,
    #[serde(rename = "keySpec", skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<String>,
    #[serde(rename = "keyUsage", skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<String>,
    #[serde(rename = "origin", skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(rename = "description", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "numberOfBytes", skip_serializing_if = "Option::is_none")]
    pub number_of_bytes: Option<u64>,
    #[serde(rename = "aliasName", skip_serializing_if = "Option::is_none")]
    pub alias_name: Option<String>,
    #[serde(rename = "targetKeyId", skip_serializing_if = "Option::is_none")]
    pub target_key_id: Option<String>,
    #[serde(rename = "sourceKeyId", skip_serializing_if = "Option::is_none")]
    pub source_key_id: Option<String>,
    #[serde(rename = "destinationKeyId", skip_serializing_if = "Option::is_none")]
    pub destination_key_id: Option<String>,
    #[serde(rename = "sourceEncryptionContext", skip_serializing_if = "Option::is_none")]
    pub source_encryption_context: Option<BTreeMap<String, String>>,
    #[serde(rename = "destinationEncryptionContext", skip_serializing_if = "Option::is_none")]
    pub destination_encryption_context: Option<BTreeMap<String, String>>,
    #[serde(rename = "sourceEncryptionAlgorithm", skip_serializing_if = "Option::is_none")]
    pub source_encryption_algorithm: Option<String>,
    #[serde(rename = "destinationEncryptionAlgorithm", skip_serializing_if = "Option::is_none")]
    pub destination_encryption_algorithm: Option<String>,
    #[serde(rename = "pendingWindowInDays", skip_serializing_if = "Option::is_none")]
    pub pending_window_in_days: Option<u64>,
    #[serde(rename = "rotationPeriodInDays", skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u64>,
    #[serde(rename = "policyName", skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    #[serde(rename = "tagKeys", skip_serializing_if = "Option::is_none")]
    pub tag_keys: Option<Vec<String>>,
    #[serde(rename = "tags", skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(rename = "wrappingAlgorithm", skip_serializing_if = "Option::is_none")]
    pub wrapping_algorithm: Option<String>,
    #[serde(rename = "wrappingKeySpec", skip_serializing_if = "Option::is_none")]
    pub wrapping_key_spec: Option<String>,
    #[serde(rename = "expirationModel", skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
    #[serde(rename = "importType", skip_serializing_if = "Option::is_none")]
    pub import_type: Option<String>,
    #[serde(rename = "keyMaterialId", skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
    #[serde(rename = "keyMaterialDescription", skip_serializing_if = "Option::is_none")]
    pub key_material_description: Option<String>,
    #[serde(rename = "includeKeyMaterial", skip_serializing_if = "Option::is_none")]
    pub include_key_material: Option<String>,
    #[serde(rename = "signingAlgorithm", skip_serializing_if = "Option::is_none")]
    pub signing_algorithm: Option<String>,
    #[serde(rename = "macAlgorithm", skip_serializing_if = "Option::is_none")]
    pub mac_algorithm: Option<String>,
    #[serde(rename = "keyPairSpec", skip_serializing_if = "Option::is_none")]
    pub key_pair_spec: Option<String>,
    #[serde(rename = "limit", skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(rename = "multiRegion", skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<bool>,
    #[serde(rename = "bypassPolicyLockoutSafetyCheck", skip_serializing_if = "Option::is_none")]
    pub bypass_policy_lockout_safety_check: Option<bool>,
    #[serde(rename = "dryRun", skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    // IAM and STS (from a form body, see `from_query_form`).
    #[serde(rename = "userName", skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(rename = "roleName", skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(rename = "roleArn", skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(rename = "roleSessionName", skip_serializing_if = "Option::is_none")]
    pub role_session_name: Option<String>,
    #[serde(rename = "durationSeconds", skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    #[serde(rename = "path", skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(rename = "pathPrefix", skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(rename = "accessKeyId", skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    #[serde(rename = "status", skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl RequestParameters {
    /// The allow-listed members of an IAM/STS Query request (decoded form pairs). Policy documents, tags and
    /// anything else not named here are left out; a secret never travels in these requests' parameters, but
    /// the allow-list keeps it that way should one ever be added.
    pub fn from_query_form(pairs: &[(String, String)]) -> Self {
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Self {
            user_name: get("UserName"),
            role_name: get("RoleName"),
            role_arn: get("RoleArn"),
            role_session_name: get("RoleSessionName"),
            duration_seconds: get("DurationSeconds").and_then(|v| v.parse().ok()),
            path: get("Path"),
            path_prefix: get("PathPrefix"),
            access_key_id: get("AccessKeyId"),
            status: get("Status"),
            policy_name: get("PolicyName"),
            description: get("Description"),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tag {
    #[serde(rename = "tagKey")]
    pub key: String,
    #[serde(rename = "tagValue")]
    pub value: Option<String>,
}

/// The non-secret members of a response. Blobs, plaintext, public keys and import tokens have no field here.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResponseElements {
    #[serde(rename = "keyId", skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(rename = "keyState", skip_serializing_if = "Option::is_none")]
    pub key_state: Option<String>,
    #[serde(rename = "deletionDate", skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    #[serde(rename = "pendingWindowInDays", skip_serializing_if = "Option::is_none")]
    pub pending_window_in_days: Option<u64>,
    #[serde(rename = "keyMetadata", skip_serializing_if = "Option::is_none")]
    pub key_metadata: Option<KeyMetadata>,
    /// ImportKeyMaterial and DeleteImportedKeyMaterial: the material imported or deleted.
    #[serde(rename = "keyMaterialId", skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
    /// AssumeRole: the issued access key id and expiry, never the secret or the session token. Not read from
    /// KMS JSON: the STS layer sets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<IssuedCredentials>,
    /// AssumeRole: the session's `AROA...:<session>` id and ARN.
    #[serde(rename = "assumedRoleUser", skip_serializing_if = "Option::is_none")]
    pub assumed_role_user: Option<AssumedRoleUser>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCredentials {
    pub access_key_id: String,
    /// As CloudTrail writes STS expirations: `Dec 8, 2026, 5:04:36 AM` (UTC).
    pub expiration: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssumedRoleUser {
    pub assumed_role_id: String,
    pub arn: String,
}

/// `Dec 8, 2026, 5:04:36 AM`: the text CloudTrail records for an STS credential's `expiration`.
pub fn format_sts_expiration(t: SystemTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[month repr:short] [day padding:none], [year], [hour repr:12 padding:none]:[minute]:[second] [period]"
    );
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let t = i64::try_from(secs).ok().and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok());
    t.and_then(|t| t.format(FORMAT).ok()).unwrap_or_default()
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct KeyMetadata {
    #[serde(rename = "aWSAccountId", skip_serializing_if = "Option::is_none")]
    pub aws_account_id: Option<String>,
    #[serde(rename = "keyId", skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(rename = "arn", skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(rename = "enabled", skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(rename = "description", skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "keyUsage", skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<String>,
    #[serde(rename = "keyState", skip_serializing_if = "Option::is_none")]
    pub key_state: Option<String>,
    #[serde(rename = "origin", skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(rename = "keyManager", skip_serializing_if = "Option::is_none")]
    pub key_manager: Option<String>,
    #[serde(rename = "keySpec", skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<String>,
}

impl ResponseElements {
    /// The key the call acted on, as an ARN, if the response names one.
    pub fn key_arn(&self) -> Option<&str> {
        self.key_metadata
            .as_ref()
            .and_then(|m| m.arn.as_deref())
            .or(self.key_id.as_deref())
            .filter(|s| s.starts_with("arn:"))
    }
}

fn serialize_time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC, second resolution), as CloudTrail writes `eventTime`.
pub fn format_time(t: SystemTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let t = i64::try_from(secs).ok().and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok());
    // Only a time past year 9999 fails to format; the clock would have to be that wrong.
    t.and_then(|t| t.format(FORMAT).ok()).unwrap_or_else(|| "9999-12-31T23:59:59Z".to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sts_expiration_format_known_answers() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_101_476); // 2026-12-01T05:04:36Z
        assert_eq!(format_sts_expiration(t), "Dec 1, 2026, 5:04:36 AM");
        assert_eq!(format_sts_expiration(SystemTime::UNIX_EPOCH), "Jan 1, 1970, 12:00:00 AM");
        let noon = SystemTime::UNIX_EPOCH + Duration::from_secs(12 * 3600 + 5);
        assert_eq!(format_sts_expiration(noon), "Jan 1, 1970, 12:00:05 PM");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(23 * 3600 + 59 * 60);
        assert_eq!(format_sts_expiration(t), "Jan 1, 1970, 11:59:00 PM");
    }

    #[test]
    fn time_format_known_answers() {
        assert_eq!(format_time(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_251_199); // leap-year end of February
        assert_eq!(format_time(t), "2024-02-29T23:59:59Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_600);
        assert_eq!(format_time(t), "2027-01-01T00:00:00Z");
    }

    #[test]
    fn event_has_cloudtrail_shape() {
        let mut e = AuditEvent::api_call(KMS_EVENT_SOURCE, "Encrypt", "us-east-1");
        e.user_identity = UserIdentity::principal("111122223333", "arn:aws:iam::111122223333:root", Some("AKIA1"));
        e.resources.push(Resource::kms_key("arn:aws:kms:us-east-1:111122223333:key/k"));
        e.error_code = Some("NotFoundException".into());
        let v: serde_json::Value = serde_json::from_str(&e.to_json().unwrap()).unwrap();
        assert_eq!(v["eventVersion"], "1.08");
        assert_eq!(v["eventSource"], "kms.amazonaws.com");
        assert_eq!(v["userIdentity"]["type"], "Root");
        assert_eq!(v["userIdentity"]["accessKeyId"], "AKIA1");
        assert_eq!(v["resources"][0]["accountId"], "111122223333");
        assert_eq!(v["resources"][0]["type"], "AWS::KMS::Key");
        assert_eq!(v["eventType"], "AwsApiCall");
        assert_eq!(v["eventCategory"], "Management");
        assert!(v["responseElements"].is_null());
    }
}
