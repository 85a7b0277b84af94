//! GetKeyLastUsage (added by AWS in 2026): the most recent successful cryptographic operation on a key,
//! answered from the audit trail's key-usage index (`trent_audit::usage`), a map lookup. While that index is
//! being rebuilt after an upgrade or a crash, a newest-first search of the trail answers instead.

use std::time::SystemTime;

use serde_json::{Value, json};
use trent_audit::AuditSink;
use trent_audit::event::KMS_EVENT_SOURCE;
use trent_audit::search::{self, Filter};
use trent_audit::usage::{KeyUsage, TRACKED};
use trent_core::KmsError;
use trent_core::ids::KeyRef;
use trent_core::service::{Caller, Kms};

use super::audit_facts::KmsFacts;
use super::ops::Out;
use super::request::{FromBody, KeyOnly};
use super::wire::{epoch, to_body};
use crate::error::ApiError;

/// `trail`: the audit trail; `None` when Trent runs without one (nothing is tracked then).
pub(crate) fn get_key_last_usage(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    trail: Option<&AuditSink>,
    facts: &mut KmsFacts,
) -> Out {
    let KeyOnly { key } = KeyOnly::from_body_noted(body, facts)?;
    if matches!(key, KeyRef::Alias(_) | KeyRef::AliasArn { .. }) {
        return Err(KmsError::Validation(
            "Alias names are not supported by GetKeyLastUsage; use the key ID or key ARN.".into(),
        )
        .into());
    }
    // Authorizes kms:DescribeKey: the key must be visible to the caller.
    let m = kms.describe_key(caller, &key)?;
    // The response names the key by its bare id; the resource is its ARN.
    facts.key(&m.arn);
    facts.answered_key(&m.record.key_id.to_string());
    let created = epoch(m.record.created);
    let mut last = json!({});
    let mut tracking_start = created;
    if let Some(sink) = trail {
        let io = |e: search::SearchError| ApiError::Kms(KmsError::internal(format!("audit trail search: {e}")));
        let found = if sink.key_usage().complete() {
            sink.key_usage().get(&m.arn)
        } else {
            let filter = Filter {
                event_names: TRACKED.iter().map(|s| (*s).to_owned()).collect(),
                event_source: Some(KMS_EVENT_SOURCE.into()),
                resource: Some(m.arn.clone()),
                succeeded: Some(true),
                ..Filter::default()
            };
            let page = search::search(sink.dir(), &filter, 1, None).map_err(io)?;
            page.events.first().and_then(|f| KeyUsage::of_value(&f.event)).map(|(_, usage)| usage)
        };
        if let Some(u) = found {
            last = json!({
                "Operation": u.operation,
                "CloudTrailEventId": u.event_id,
                "KmsRequestId": u.request_id,
            });
            if let Some(t) = seconds(&u.time) {
                last["Timestamp"] = t.into();
            }
        }
        // AWS: tracking starts when the trail starts or when the key was created, whichever is later.
        if let Some(t) = search::earliest_event_time(sink.dir()).map_err(io)?.as_deref().and_then(seconds) {
            tracking_start = tracking_start.max(t);
        }
    }
    let out: Value = json!({
        "KeyId": m.record.key_id.to_string(),
        "KeyLastUsage": last,
        "TrackingStartDate": tracking_start,
        "KeyCreationDate": created,
    });
    to_body(&out)
}

/// A CloudTrail `eventTime` as epoch seconds (the JSON 1.1 timestamp form).
fn seconds(time: &str) -> Option<f64> {
    search::parse_time(time)?.duration_since(SystemTime::UNIX_EPOCH).ok().map(|d| d.as_secs_f64())
}
