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
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, b),
        None => (time, "0"),
    };
    let mut t = hms.split(':');
    let (hh, mm, ss): (i64, i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let ms: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    let days = days_from_civil(y, m, day);
    Some(Timestamp(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
