//! SSM wire shapes: request members as AWS names them, and encoders for responses. Unknown request members
//! from newer SDKs are ignored.

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize, Serializer};
use trent_core::model::Timestamp;
use trent_core::ssm::policies::PolicyEntry;
use trent_core::ssm::{HistoryEntry, ParameterMetadata, ParameterValue, ParameterView};

use crate::error::ApiError;
pub(super) use crate::json::parse;

pub(super) fn to_body(v: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(|e| ApiError::Ssm(trent_core::ssm::SsmError::internal(e)))
}

fn epoch(t: Timestamp) -> f64 {
    t.epoch_seconds_f64()
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct TagIn {
    pub(super) key: Option<String>,
    pub(super) value: Option<String>,
}

/// Debug is not derived: `value` may be a secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct PutParameterIn {
    pub(super) name: Option<String>,
    pub(super) value: Option<zeroize::Zeroizing<String>>,
    #[serde(rename = "Type")]
    pub(super) kind: Option<String>,
    pub(super) description: Option<String>,
    pub(super) key_id: Option<String>,
    pub(super) overwrite: Option<bool>,
    pub(super) allowed_pattern: Option<String>,
    pub(super) tags: Option<Vec<TagIn>>,
    pub(super) tier: Option<String>,
    pub(super) policies: Option<String>,
    pub(super) data_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct NameIn {
    pub(super) name: Option<String>,
    pub(super) names: Option<Vec<String>>,
    pub(super) with_decryption: Option<bool>,
    pub(super) max_results: Option<i64>,
    pub(super) next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct FilterIn {
    pub(super) key: Option<String>,
    pub(super) option: Option<String>,
    pub(super) values: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct ByPathIn {
    pub(super) path: Option<String>,
    pub(super) recursive: Option<bool>,
    pub(super) parameter_filters: Option<Vec<FilterIn>>,
    pub(super) with_decryption: Option<bool>,
    pub(super) max_results: Option<i64>,
    pub(super) next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct DescribeIn {
    pub(super) filters: Option<Vec<FilterIn>>,
    pub(super) parameter_filters: Option<Vec<FilterIn>>,
    pub(super) max_results: Option<i64>,
    pub(super) next_token: Option<String>,
    pub(super) shared: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct LabelIn {
    pub(super) name: Option<String>,
    pub(super) parameter_version: Option<i64>,
    pub(super) labels: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct TagsIn {
    pub(super) resource_type: Option<String>,
    pub(super) resource_id: Option<String>,
    pub(super) tags: Option<Vec<TagIn>>,
    pub(super) tag_keys: Option<Vec<String>>,
}

/// A parameter value: text as is, a SecureString's ciphertext as base64 (what AWS returns without
/// decryption), a decrypted SecureString as its text.
pub(super) struct ValueOut<'a>(pub(super) &'a ParameterValue);

impl Serialize for ValueOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ParameterValue::Text(t) => s.serialize_str(t),
            ParameterValue::Ciphertext(c) => s.collect_str(&Base64Display::new(c, &STANDARD)),
            // The response carries the plaintext: that is what WithDecryption asked for.
            ParameterValue::Secret(p) => s.collect_str(&String::from_utf8_lossy(p.expose_secret())),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ParameterOut<'a> {
    name: &'a str,
    #[serde(rename = "Type")]
    kind: &'static str,
    value: ValueOut<'a>,
    version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<&'a str>,
    last_modified_date: f64,
    #[serde(rename = "ARN")]
    arn: &'a str,
    data_type: &'a str,
}

impl<'a> ParameterOut<'a> {
    pub(super) fn new(v: &'a ParameterView) -> Self {
        Self {
            name: &v.name,
            kind: v.kind.as_str(),
            value: ValueOut(&v.value),
            version: v.version,
            selector: v.selector.as_deref(),
            last_modified_date: epoch(v.last_modified),
            arn: &v.arn,
            data_type: &v.data_type,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PolicyOut<'a> {
    policy_text: &'a str,
    policy_type: &'a str,
    /// Trent evaluates Expiration itself; the others have nothing to report yet.
    policy_status: &'static str,
}

fn policies(p: &[PolicyEntry]) -> Vec<PolicyOut<'_>> {
    p.iter().map(|e| PolicyOut { policy_text: &e.text, policy_type: &e.kind, policy_status: "Pending" }).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MetadataOut<'a> {
    name: &'a str,
    #[serde(rename = "ARN")]
    arn: &'a str,
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    last_modified_date: f64,
    last_modified_user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_pattern: Option<&'a str>,
    version: u64,
    tier: &'static str,
    policies: Vec<PolicyOut<'a>>,
    data_type: &'a str,
}

impl<'a> MetadataOut<'a> {
    pub(super) fn new(m: &'a ParameterMetadata) -> Self {
        Self {
            name: &m.name,
            arn: &m.arn,
            kind: m.kind.as_str(),
            key_id: m.key_id.as_deref(),
            last_modified_date: epoch(m.last_modified),
            last_modified_user: &m.last_modified_user,
            description: m.description.as_deref(),
            allowed_pattern: m.allowed_pattern.as_deref(),
            version: m.version,
            tier: m.tier.as_str(),
            policies: policies(&m.policies),
            data_type: &m.data_type,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct HistoryOut<'a> {
    #[serde(flatten)]
    meta: MetadataOut<'a>,
    value: ValueOut<'a>,
    labels: &'a [String],
}

impl<'a> HistoryOut<'a> {
    pub(super) fn new(h: &'a HistoryEntry) -> Self {
        Self { meta: MetadataOut::new(&h.meta), value: ValueOut(&h.value), labels: &h.labels }
    }
}
