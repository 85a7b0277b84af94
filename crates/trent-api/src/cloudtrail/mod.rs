//! CloudTrail's JSON 1.1 protocol: `X-Amz-Target: [com.amazonaws.cloudtrail.v20131101.]CloudTrail_20131101.<Operation>`,
//! signed for `cloudtrail`.
//!
//! Only `LookupEvents`, answered from Trent's own audit trail through `trent_audit::search` (a linear scan
//! of the segment files, newest first). Callers see the events of their own account only, and only the
//! account root or a principal whose IAM policies allow `cloudtrail:LookupEvents` may call it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};
use trent_audit::search::{self, Cursor, Filter, Found, SearchError};
use trent_core::KmsError;
use trent_core::identity::Identities;
use trent_core::policy::Decision;
use trent_core::service::Caller;

use crate::error::ApiError;
use crate::json::parse;

/// The `X-Amz-Target` prefixes: the SDKs' current model sends the long one, older ones the short one.
const TARGET_PREFIXES: [&str; 2] = ["com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.", "CloudTrail_20131101."];
pub(crate) const SIGNING_NAME: &str = "cloudtrail";

/// The operation named by a CloudTrail `X-Amz-Target`, or `None` if the target is not CloudTrail's.
pub(crate) fn operation(target: &str) -> Option<&str> {
    TARGET_PREFIXES.iter().find_map(|p| target.strip_prefix(p))
}

/// The CloudTrail operations Trent implements: the trail is read through `LookupEvents` only (trails, event
/// data stores and Lake queries have no meaning for Trent's one built-in trail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    LookupEvents,
}

impl Operation {
    pub(crate) fn from_name(s: &str) -> Option<Self> {
        (s == "LookupEvents").then_some(Self::LookupEvents)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::LookupEvents => "LookupEvents",
        }
    }

    /// CloudTrail's `readOnly`.
    pub(crate) fn is_read_only(self) -> bool {
        match self {
            Self::LookupEvents => true,
        }
    }
}

/// AWS's bounds and default for `MaxResults`.
const MAX_RESULTS: i64 = 50;
/// AWS's limit on an attribute value.
const MAX_ATTRIBUTE_VALUE: usize = 2000;

/// Runs one CloudTrail operation. `trail` is the audit directory (`None` when Trent runs without a trail).
pub(crate) fn dispatch(
    identities: &Identities,
    caller: &Caller,
    trail: Option<&Path>,
    op: Operation,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    match op {
        Operation::LookupEvents => lookup_events(identities, caller, trail, body),
    }
}

fn fail(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::CloudTrail { code, message: message.into() }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct LookupIn {
    lookup_attributes: Option<Vec<AttributeIn>>,
    /// A JSON 1.1 timestamp: epoch seconds (the SDKs' form); an ISO 8601 string is accepted too.
    start_time: Option<Value>,
    end_time: Option<Value>,
    event_category: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AttributeIn {
    attribute_key: Option<String>,
    attribute_value: Option<String>,
}

fn lookup_events(
    identities: &Identities,
    caller: &Caller,
    trail: Option<&Path>,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    authorize(identities, caller)?;
    let r: LookupIn = parse(body)?;
    let max = r.max_results.unwrap_or(MAX_RESULTS);
    if !(1..=MAX_RESULTS).contains(&max) {
        return Err(fail("InvalidMaxResultsException", format!("MaxResults must be between 1 and {MAX_RESULTS}.")));
    }
    let start_time = r.start_time.as_ref().map(timestamp).transpose()?;
    let end_time = r.end_time.as_ref().map(timestamp).transpose()?;
    if start_time.zip(end_time).is_some_and(|(s, e)| s > e) {
        return Err(fail("InvalidTimeRangeException", "Start time must be before or equal to end time."));
    }
    let after = match &r.next_token {
        Some(t) => Some(Cursor::decode(t).ok_or_else(|| fail("InvalidNextTokenException", "Invalid NextToken."))?),
        None => None,
    };
    let mut filter = Filter { start_time, end_time, account: Some(caller.account.to_string()), ..Filter::default() };
    let attributes = r.lookup_attributes.unwrap_or_default();
    if attributes.len() > 1 {
        return Err(fail("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."));
    }
    if let Some(a) = attributes.first() {
        apply_attribute(&mut filter, a)?;
    }
    match r.event_category.as_deref() {
        None => {}
        // Trent records no Insights events.
        Some("insight") => return to_body(&json!({ "Events": [] })),
        Some(other) => return Err(fail("InvalidEventCategoryException", format!("Invalid EventCategory: {other}"))),
    }
    let Some(dir) = trail else {
        return Err(fail("UnsupportedOperationException", "This Trent runs without an audit trail."));
    };
    let page = search::search(dir, &filter, max as usize, after).map_err(|e| match e {
        SearchError::BadCursor => fail("InvalidNextTokenException", "Invalid NextToken."),
        SearchError::Io(detail) => ApiError::Kms(KmsError::internal(format!("audit trail search: {detail}"))),
    })?;
    let events: Vec<Value> = page.events.iter().map(wire_event).collect();
    let mut out = json!({ "Events": events });
    if let Some(next) = page.next {
        out["NextToken"] = next.encode().into();
    }
    to_body(&out)
}

/// Root, or an identity policy that allows `cloudtrail:LookupEvents` (there is no resource-level control).
fn authorize(identities: &Identities, caller: &Caller) -> Result<(), ApiError> {
    const ACTION: &str = "cloudtrail:LookupEvents";
    // The shared context: a Deny conditioned on the source address, TLS or a principal tag applies here too.
    let ctx = identities.request_context(caller, ACTION, "*").map_err(ApiError::Iam)?;
    match identities.identity_decision(caller, &ctx).map_err(ApiError::Iam)? {
        Decision::Allow => Ok(()),
        Decision::ExplicitDeny => Err(fail(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: {ACTION} with an explicit deny in an identity-based policy",
                caller.principal_arn
            ),
        )),
        Decision::ImplicitDeny => Err(fail(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: {ACTION} because no identity-based policy allows the {ACTION} action",
                caller.principal_arn
            ),
        )),
    }
}

fn apply_attribute(f: &mut Filter, a: &AttributeIn) -> Result<(), ApiError> {
    let (Some(key), Some(value)) = (&a.attribute_key, &a.attribute_value) else {
        return Err(fail(
            "InvalidLookupAttributesException",
            "A lookup attribute needs AttributeKey and AttributeValue.",
        ));
    };
    if value.is_empty() || value.len() > MAX_ATTRIBUTE_VALUE {
        return Err(fail("InvalidLookupAttributesException", "AttributeValue must be 1 to 2000 characters long."));
    }
    let v = Some(value.clone());
    match key.as_str() {
        "EventId" => f.event_id = v,
        "EventName" => f.event_names = vec![value.clone()],
        "ReadOnly" => {
            f.read_only = Some(match value.as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(fail("InvalidLookupAttributesException", "ReadOnly must be true or false.")),
            })
        }
        "Username" => f.username = v,
        "ResourceType" => f.resource_type = v,
        "ResourceName" => f.resource = v,
        "EventSource" => f.event_source = v,
        "AccessKeyId" => f.access_key_id = v,
        other => return Err(fail("InvalidLookupAttributesException", format!("Invalid AttributeKey: {other}"))),
    }
    Ok(())
}

fn timestamp(v: &Value) -> Result<SystemTime, ApiError> {
    let t = match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(s)),
        Value::String(s) => search::parse_time(s),
        _ => None,
    };
    t.ok_or_else(|| fail("InvalidTimeRangeException", "StartTime and EndTime must be valid timestamps."))
}

/// An event as LookupEvents returns it: summary members plus the whole record as a string.
fn wire_event(f: &Found) -> Value {
    let e = &f.event;
    let mut out = json!({
        "EventId": e["eventID"],
        "EventName": e["eventName"],
        "ReadOnly": if e["readOnly"].as_bool() == Some(true) { "true" } else { "false" },
        "EventSource": e["eventSource"],
        "Resources": e["resources"].as_array().map(|rs| rs.iter().map(|r| json!({
            "ResourceType": r["type"],
            "ResourceName": r["ARN"],
        })).collect::<Vec<_>>()).unwrap_or_default(),
        "CloudTrailEvent": f.json,
    });
    if let Some(t) = e["eventTime"].as_str().and_then(search::parse_time) {
        out["EventTime"] = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0).into();
    }
    if let Some(k) = e["userIdentity"]["accessKeyId"].as_str() {
        out["AccessKeyId"] = k.into();
    }
    if let Some(u) = search::username(e) {
        out["Username"] = u.into();
    }
    out
}

fn to_body(v: &Value) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(|e| ApiError::Kms(KmsError::internal(e)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn filter_for(key: &str, value: &str) -> Result<Filter, ApiError> {
        let mut f = Filter::default();
        let a = AttributeIn { attribute_key: Some(key.into()), attribute_value: Some(value.into()) };
        apply_attribute(&mut f, &a).map(|()| f)
    }

    #[test]
    fn both_target_prefixes_name_the_operation() {
        assert_eq!(
            operation("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"),
            Some("LookupEvents")
        );
        assert_eq!(operation("CloudTrail_20131101.LookupEvents"), Some("LookupEvents"));
        assert_eq!(operation("TrentService.Encrypt"), None);
    }

    #[test]
    fn attributes_map_to_filters() {
        assert_eq!(filter_for("EventName", "Encrypt").unwrap().event_names, ["Encrypt"]);
        assert_eq!(filter_for("ReadOnly", "false").unwrap().read_only, Some(false));
        assert_eq!(filter_for("ResourceName", "k").unwrap().resource.as_deref(), Some("k"));
        assert_eq!(filter_for("Username", "root").unwrap().username.as_deref(), Some("root"));
        assert_eq!(filter_for("AccessKeyId", "AKIA").unwrap().access_key_id.as_deref(), Some("AKIA"));
        let bad = |k, v| filter_for(k, v).err().map(|e| e.aws_type());
        assert_eq!(bad("ReadOnly", "yes"), Some("InvalidLookupAttributesException"));
        assert_eq!(bad("Colour", "x"), Some("InvalidLookupAttributesException"));
        assert_eq!(bad("EventName", ""), Some("InvalidLookupAttributesException"));
    }

    #[test]
    fn timestamps_accept_epoch_and_iso() {
        let secs = |v: Value| timestamp(&v).unwrap().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs(json!(1_798_761_600)), 1_798_761_600);
        assert_eq!(secs(json!(1_798_761_600.5)), 1_798_761_600);
        assert_eq!(secs(json!("2027-01-01T00:00:00Z")), 1_798_761_600);
        assert!(timestamp(&json!(true)).is_err());
    }

    #[test]
    fn wire_event_has_lookup_events_members() {
        let record = r#"{"eventTime":"2027-01-01T00:00:00Z","eventName":"Encrypt","eventSource":"kms.amazonaws.com","eventID":"e1","readOnly":true,"userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root","accessKeyId":"AKIA1"},"resources":[{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:1:key/k"}]}"#;
        let f = Found { event: serde_json::from_str(record).unwrap(), json: record.into() };
        let w = wire_event(&f);
        assert_eq!(w["EventId"], "e1");
        assert_eq!(w["ReadOnly"], "true");
        assert_eq!(w["EventTime"], 1_798_761_600u64);
        assert_eq!(w["Username"], "root");
        assert_eq!(w["AccessKeyId"], "AKIA1");
        assert_eq!(w["Resources"][0]["ResourceName"], "arn:aws:kms:us-east-1:1:key/k");
        assert_eq!(w["CloudTrailEvent"], record);
    }
}
