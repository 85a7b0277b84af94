//! Parameter policies (Advanced tier): `Expiration` (enforced by the scheduler), `ExpirationNotification` and
//! `NoChangeNotification` (accepted and reported; Trent has no EventBridge to notify).

use serde_json::Value;

use super::SsmError;
use crate::model::Timestamp;

pub const MAX_POLICIES_LEN: usize = 4096;
const MAX_POLICIES: usize = 10;

/// One policy as DescribeParameters reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyEntry {
    pub text: String,
    pub kind: String,
}

/// Parses and checks a Policies document. Returns the policies and the Expiration time, if any.
pub fn parse(doc: &str) -> Result<(Vec<PolicyEntry>, Option<Timestamp>), SsmError> {
    let invalid = || SsmError::InvalidPolicyAttribute("A policy attribute or its value is invalid.".into());
    let v: Value = serde_json::from_str(doc).map_err(|_| invalid())?;
    let items = v.as_array().ok_or_else(invalid)?;
    if items.len() > MAX_POLICIES {
        return Err(SsmError::PoliciesLimitExceeded(
            "You specified more than the maximum number of allowed policies for the parameter. The maximum is 10."
                .into(),
        ));
    }
    let mut out = Vec::new();
    let mut expires = None;
    for item in items {
        let kind = item.get("Type").and_then(Value::as_str).unwrap_or_default();
        let attrs = item.get("Attributes").ok_or_else(invalid)?;
        match kind {
            "Expiration" => {
                let ts = attrs.get("Timestamp").and_then(Value::as_str).ok_or_else(invalid)?;
                expires = Some(parse_iso8601(ts).ok_or_else(invalid)?);
            }
            "ExpirationNotification" => {
                attrs.get("Before").ok_or_else(invalid)?;
            }
            "NoChangeNotification" => {
                attrs.get("After").ok_or_else(invalid)?;
            }
            other => {
                return Err(SsmError::InvalidPolicyType(format!(
                    "The following policy type is not supported: {other}."
                )));
            }
        }
        out.push(PolicyEntry { text: item.to_string(), kind: kind.to_owned() });
    }
    Ok((out, expires))
}

/// `2026-12-02T21:34:33.000Z` (fraction and `Z` optional) to milliseconds since the epoch, UTC.
pub fn parse_iso8601(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let s = s.strip_suffix('Z').unwrap_or(s);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");
    let t = time::PrimitiveDateTime::parse(s, format).ok()?.assume_utc();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok().map(Timestamp)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn iso8601() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(parse_iso8601("2020-02-29T12:00:00.5Z"), Some(Timestamp(1_582_977_600_500)));
        assert_eq!(parse_iso8601("2020-13-01T00:00:00Z"), None);
    }

    #[test]
    fn policies_parse() {
        let (p, exp) =
            parse(r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"1970-01-02T00:00:00.000Z"}}]"#)
                .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(exp, Some(Timestamp(Timestamp::DAY_MS)));
        assert!(matches!(parse(r#"[{"Type":"Bogus","Attributes":{}}]"#), Err(SsmError::InvalidPolicyType(_))));
        assert!(matches!(parse("nope"), Err(SsmError::InvalidPolicyAttribute(_))));
    }
}
