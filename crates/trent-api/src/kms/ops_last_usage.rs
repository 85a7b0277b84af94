//! GetKeyLastUsage (added by AWS in 2026): the most recent successful cryptographic operation on a key,
//! answered from the audit trail.
//!
//! Today a linear scan of the trail, newest first (`trent_audit::search`), that stops at the first match: cheap
//! for a key in use, a full scan for a key that was never used. An index can replace it later.

use std::path::Path;
use std::time::SystemTime;

use serde_json::{json, Value};
use trent_audit::event::KMS_EVENT_SOURCE;
use trent_audit::search::{self, Filter};
use trent_core::ids::KeyRef;
use trent_core::service::{Caller, Kms};
use trent_core::KmsError;

use super::ops::{key_id, key_ref, Out};
use super::validate::Check;
use super::wire::{self, epoch, parse, to_body};
use crate::error::ApiError;

/// The operations AWS tracks (`KeyLastUsageTrackingOperation`, less Encapsulate/Decapsulate, which Trent
/// does not implement).
const TRACKED: [&str; 12] = [
    "Decrypt",
    "DeriveSharedSecret",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// `trail`: the audit directory; `None` when Trent runs without a trail (nothing is tracked then).
pub(crate) fn get_key_last_usage(kms: &Kms, caller: &Caller, body: &[u8], trail: Option<&Path>) -> Out {
    let r: wire::KeyIdIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.finish()?;
    let key = key_ref(&raw.unwrap_or_default())?;
    if matches!(key, KeyRef::Alias(_) | KeyRef::AliasArn { .. }) {
        return Err(KmsError::Validation("Alias names are not supported by GetKeyLastUsage; use the key ID or key ARN.".into()).into());
    }
    // Authorizes kms:DescribeKey: the key must be visible to the caller.
    let m = kms.describe_key(caller, &key)?;
    let created = epoch(m.record.created);
    let mut last = json!({});
    let mut tracking_start = created;
    if let Some(dir) = trail {
        let filter = Filter {
            event_names: TRACKED.iter().map(|s| (*s).to_owned()).collect(),
            event_source: Some(KMS_EVENT_SOURCE.into()),
            resource: Some(m.arn.clone()),
            succeeded: Some(true),
            ..Filter::default()
        };
        let io = |e: search::SearchError| ApiError::Kms(KmsError::internal(format!("audit trail search: {e}")));
        let page = search::search(dir, &filter, 1, None).map_err(io)?;
        if let Some(found) = page.events.first() {
            let e = &found.event;
            last = json!({
                "Operation": e["eventName"],
                "CloudTrailEventId": e["eventID"],
                "KmsRequestId": e["requestID"],
            });
            if let Some(t) = e["eventTime"].as_str().and_then(seconds) {
                last["Timestamp"] = t.into();
            }
        }
        // AWS: tracking starts when the trail starts or when the key was created, whichever is later.
        if let Some(t) = search::earliest_event_time(dir).map_err(io)?.as_deref().and_then(seconds) {
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
