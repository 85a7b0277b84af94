//! Condition operators and their evaluation, with IAM's rules for absent keys, multi-valued keys
//! (`ForAnyValue:` / `ForAllValues:`), `...IfExists` and policy variables (`${aws:username}`).

use std::net::IpAddr;

use super::document::Effect;
use super::eval::RequestContext;
use super::pattern::{arn_match, wildcard_match};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOperator {
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub base: Base,
    pub set: Option<SetOperator>,
    pub if_exists: bool,
}

impl Operator {
    pub fn parse(s: &str) -> Option<Self> {
        let (set, rest) = if let Some(r) = s.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), r)
        } else if let Some(r) = s.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), r)
        } else {
            (None, s)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        use Base::*;
        let base = match rest {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "BinaryEquals" => BinaryEquals,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnLike" => ArnLike,
            "ArnNotEquals" => ArnNotEquals,
            "ArnNotLike" => ArnNotLike,
            // Null takes no modifiers.
            "Null" if set.is_none() && !if_exists => Null,
            _ => return None,
        };
        Some(Self { base, set, if_exists })
    }
}

impl Base {
    /// Operators that are true when the request value matches none of the policy values.
    fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::NumericNotEquals
                | Self::DateNotEquals
                | Self::NotIpAddress
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    /// The positive operator a negated one negates.
    fn positive(self) -> Self {
        match self {
            Self::StringNotEquals => Self::StringEquals,
            Self::StringNotEqualsIgnoreCase => Self::StringEqualsIgnoreCase,
            Self::StringNotLike => Self::StringLike,
            Self::NumericNotEquals => Self::NumericEquals,
            Self::DateNotEquals => Self::DateEquals,
            Self::NotIpAddress => Self::IpAddress,
            Self::ArnNotEquals => Self::ArnEquals,
            Self::ArnNotLike => Self::ArnLike,
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub operator: Operator,
    pub key: String,
    pub values: Vec<String>,
}

impl Condition {
    /// Whether this condition holds for the request, in an Allow statement.
    pub fn holds(&self, ctx: &RequestContext) -> bool {
        self.holds_in(ctx, Effect::Allow)
    }

    /// Whether this condition holds for the request in a statement with `effect`.
    ///
    /// The effect matters only for a key the request gave several values by accident of case
    /// ([`RequestContext::is_ambiguous`]: encryption-context keys `Classification` and `classification` are one
    /// condition key). Which value the policy author meant is unknown, so each value is tested as if it were
    /// the only one, and the answer that fails closed wins: a Deny applies if any value triggers it, an Allow
    /// only if every value satisfies it. AWS documents no rule for such contexts beyond advising against them;
    /// this one cannot let a case variant slip past a Deny, nor let one satisfy an Allow the other does not.
    pub fn holds_in(&self, ctx: &RequestContext, effect: Effect) -> bool {
        if self.operator.set.is_none()
            && ctx.is_ambiguous(&self.key)
            && let Some(values) = ctx.values(&self.key)
        {
            let one = |v: &String| self.holds_for(Some(std::slice::from_ref(v)), ctx);
            return match effect {
                Effect::Deny => values.iter().any(one),
                Effect::Allow => values.iter().all(one),
            };
        }
        self.holds_for(ctx.values(&self.key).map(Vec::as_slice), ctx)
    }

    fn holds_for(&self, request: Option<&[String]>, ctx: &RequestContext) -> bool {
        if self.operator.base == Base::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            let absent = request.is_none_or(|v| v.is_empty());
            return want_absent == absent;
        }
        // Policy variables resolve against the request; a value whose variable is missing matches nothing.
        let policy: Vec<String> = self.values.iter().filter_map(|v| substitute(v, ctx)).collect();
        let base = self.operator.base;
        let Some(request) = request.filter(|v| !v.is_empty()) else {
            return match self.operator.set {
                // ForAllValues over an empty set is vacuously true, as AWS documents.
                Some(SetOperator::ForAllValues) => true,
                Some(SetOperator::ForAnyValue) => false,
                None => self.operator.if_exists || base.negated(),
            };
        };
        // Each request value is tested on its own, the negated operators included ("this value matches none
        // of the policy values"), and only then aggregated over the request's values. Negating the aggregate
        // instead swaps the set operators: ForAnyValue:StringNotEquals would mean "no value is listed" where
        // IAM means "some value is not listed", and the usual "deny unapproved context keys" guard would let a
        // request through by adding one approved key.
        let positive = base.positive();
        let one = |r: &String| {
            let matched = policy.iter().any(|p| value_matches(positive, p, r));
            if base.negated() { !matched } else { matched }
        };
        match self.operator.set {
            Some(SetOperator::ForAllValues) => request.iter().all(one),
            // Without a set operator a multi-valued key behaves as "any".
            Some(SetOperator::ForAnyValue) | None => request.iter().any(one),
        }
    }
}

fn value_matches(op: Base, policy: &str, request: &str) -> bool {
    use Base::*;
    match op {
        StringEquals => policy == request,
        StringEqualsIgnoreCase => policy.to_lowercase() == request.to_lowercase(),
        StringLike => wildcard_match(policy, request, false),
        NumericEquals | NumericLessThan | NumericLessThanEquals | NumericGreaterThan | NumericGreaterThanEquals => {
            match (policy.trim().parse::<f64>(), request.trim().parse::<f64>()) {
                (Ok(p), Ok(r)) => compare(op, r.partial_cmp(&p)),
                _ => false,
            }
        }
        DateEquals | DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals => {
            match (parse_date(policy), parse_date(request)) {
                (Some(p), Some(r)) => compare(op, Some(r.cmp(&p))),
                _ => false,
            }
        }
        Bool => policy.eq_ignore_ascii_case(request),
        BinaryEquals => policy == request,
        IpAddress => cidr_contains(policy, request),
        ArnEquals | ArnLike => arn_match(policy, request),
        _ => false,
    }
}

fn compare(op: Base, ord: Option<std::cmp::Ordering>) -> bool {
    use Base::*;
    use std::cmp::Ordering::*;
    matches!(
        (op, ord),
        (NumericEquals | DateEquals, Some(Equal))
            | (NumericLessThan | DateLessThan, Some(Less))
            | (NumericLessThanEquals | DateLessThanEquals, Some(Less | Equal))
            | (NumericGreaterThan | DateGreaterThan, Some(Greater))
            | (NumericGreaterThanEquals | DateGreaterThanEquals, Some(Greater | Equal))
    )
}

/// `203.0.113.0/24`, `2001:db8::/32` or a bare address.
fn cidr_contains(cidr: &str, ip: &str) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let (Ok(net), Ok(ip)) = (net.parse::<IpAddr>(), ip.parse::<IpAddr>()) else { return false };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Milliseconds since the epoch from `2026-01-31T12:00:00Z`, `2026-01-31T12:00:00.123Z`, `2026-01-31` or epoch
/// seconds, the forms IAM accepts.
pub fn parse_date(s: &str) -> Option<i64> {
    use time::macros::format_description;
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return secs.checked_mul(1000);
    }
    let t = match s.split_once('T') {
        Some(_) => time::PrimitiveDateTime::parse(
            s.strip_suffix('Z').unwrap_or(s),
            format_description!("[year]-[month]-[day]T[hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"),
        )
        .ok()?,
        None => time::Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?.midnight(),
    };
    i64::try_from(t.assume_utc().unix_timestamp_nanos() / 1_000_000).ok()
}

/// Replaces `${key}` policy variables with the request's (single) value; `${*}`, `${?}`, `${$}` are the
/// literal characters. `None` when a referenced key is absent: the value then matches nothing.
pub fn substitute(s: &str, ctx: &RequestContext) -> Option<String> {
    if !s.contains("${") {
        return Some(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = &after[..end];
        match name {
            "*" | "?" | "$" => out.push_str(name),
            _ => {
                // `${key, 'default'}` supplies a value when the key is absent.
                let (key, default) = match name.split_once(',') {
                    Some((k, d)) => (k.trim(), Some(d.trim().trim_matches('\''))),
                    None => (name, None),
                };
                match ctx.values(key).and_then(|v| v.first().cloned()) {
                    Some(v) => out.push_str(&v),
                    None => out.push_str(default?),
                }
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// (operator, policy values, request values or None for absent, expected)
    type Case<'a> = (&'a str, &'a [&'a str], Option<&'a [&'a str]>, bool);

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        Condition {
            operator: Operator::parse(op).unwrap(),
            key: key.into(),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn ctx(pairs: &[(&str, &[&str])]) -> RequestContext {
        let mut c = RequestContext::new(
            "arn:aws:iam::111122223333:user/alice",
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:111122223333:key/k",
        );
        for (k, v) in pairs {
            c.set(k, v.iter().map(|s| s.to_string()).collect());
        }
        c
    }

    #[test]
    fn operator_table() {
        let cases: &[Case] = &[
            ("StringEquals", &["a"], Some(&["a"]), true),
            ("StringEquals", &["a"], Some(&["A"]), false),
            ("StringEquals", &["a", "b"], Some(&["b"]), true),
            ("StringEquals", &["a"], None, false),
            ("StringNotEquals", &["a"], Some(&["b"]), true),
            ("StringNotEquals", &["a", "b"], Some(&["b"]), false),
            ("StringNotEquals", &["a"], None, true),
            ("StringEqualsIgnoreCase", &["Hello"], Some(&["hELLO"]), true),
            ("StringNotEqualsIgnoreCase", &["Hello"], Some(&["hELLO"]), false),
            ("StringLike", &["app-*"], Some(&["app-1"]), true),
            ("StringLike", &["app-?"], Some(&["app-12"]), false),
            ("StringNotLike", &["app-*"], Some(&["web-1"]), true),
            ("StringEqualsIfExists", &["a"], None, true),
            ("StringEqualsIfExists", &["a"], Some(&["b"]), false),
            ("NumericEquals", &["10"], Some(&["10.0"]), true),
            ("NumericNotEquals", &["10"], Some(&["11"]), true),
            ("NumericLessThan", &["10"], Some(&["9"]), true),
            ("NumericLessThan", &["10"], Some(&["10"]), false),
            ("NumericLessThanEquals", &["10"], Some(&["10"]), true),
            ("NumericGreaterThan", &["10"], Some(&["11"]), true),
            ("NumericGreaterThanEquals", &["10"], Some(&["9"]), false),
            ("NumericEquals", &["10"], Some(&["ten"]), false),
            ("DateLessThan", &["2026-06-01T00:00:00Z"], Some(&["2026-05-31T23:59:59Z"]), true),
            ("DateGreaterThan", &["2026-06-01T00:00:00Z"], Some(&["2026-05-31T23:59:59Z"]), false),
            ("DateEquals", &["2026-06-01"], Some(&["1780272000"]), true),
            ("DateNotEquals", &["2026-06-01"], Some(&["1780272001"]), true),
            ("DateLessThanEquals", &["2026-06-01T00:00:00.500Z"], Some(&["2026-06-01T00:00:00.500Z"]), true),
            ("DateGreaterThanEquals", &["2026-06-01"], Some(&["2026-06-02"]), true),
            ("Bool", &["true"], Some(&["true"]), true),
            ("Bool", &["true"], Some(&["false"]), false),
            ("Bool", &["false"], None, false),
            ("BinaryEquals", &["QmluYXJ5"], Some(&["QmluYXJ5"]), true),
            ("IpAddress", &["203.0.113.0/24"], Some(&["203.0.113.7"]), true),
            ("IpAddress", &["203.0.113.0/24"], Some(&["203.0.114.7"]), false),
            ("IpAddress", &["2001:db8::/32"], Some(&["2001:db8:1::1"]), true),
            ("IpAddress", &["10.0.0.1"], Some(&["10.0.0.1"]), true),
            ("NotIpAddress", &["203.0.113.0/24"], Some(&["198.51.100.1"]), true),
            (
                "ArnEquals",
                &["arn:aws:iam::111122223333:user/alice"],
                Some(&["arn:aws:iam::111122223333:user/alice"]),
                true,
            ),
            ("ArnLike", &["arn:aws:iam::*:user/*"], Some(&["arn:aws:iam::111122223333:user/alice"]), true),
            ("ArnNotLike", &["arn:aws:iam::*:role/*"], Some(&["arn:aws:iam::111122223333:user/alice"]), true),
            (
                "ArnNotEquals",
                &["arn:aws:iam::111122223333:user/alice"],
                Some(&["arn:aws:iam::111122223333:user/bob"]),
                true,
            ),
            ("Null", &["true"], None, true),
            ("Null", &["true"], Some(&["x"]), false),
            ("Null", &["false"], Some(&["x"]), true),
            ("Null", &["false"], None, false),
            ("ForAnyValue:StringEquals", &["a", "b"], Some(&["x", "b"]), true),
            ("ForAnyValue:StringEquals", &["a"], Some(&["x", "y"]), false),
            ("ForAnyValue:StringEquals", &["a"], None, false),
            ("ForAllValues:StringEquals", &["a", "b"], Some(&["a", "b"]), true),
            ("ForAllValues:StringEquals", &["a", "b"], Some(&["a", "c"]), false),
            ("ForAllValues:StringEquals", &["a"], None, true),
            ("ForAllValues:StringLike", &["purpose", "app*"], Some(&["purpose", "appname"]), true),
        ];
        for (op, policy, request, want) in cases {
            let c = cond(op, "test:key", policy);
            let ctx = match request {
                Some(r) => ctx(&[("test:key", r)]),
                None => ctx(&[]),
            };
            assert_eq!(c.holds(&ctx), *want, "{op} {policy:?} vs {request:?}");
        }
    }

    /// The IAM User Guide's examples for set operators with negated operators (policy values `Owner:*`,
    /// `State:??` on `aws:TagKeys`; `DataClass`, `Owner` for the NotEquals forms): a negated operator is
    /// evaluated per request value ("this value matches none of the policy values"), then aggregated.
    #[test]
    fn negated_operators_under_set_operators() {
        let like: &[&str] = &["Owner:*", "State:??"];
        let eq: &[&str] = &["DataClass", "Owner"];
        let cases: &[Case] = &[
            ("ForAllValues:StringNotLike", like, None, true),
            ("ForAllValues:StringNotLike", like, Some(&[]), true),
            ("ForAllValues:StringNotLike", like, Some(&["Owner:Legal", "State:NY"]), false),
            ("ForAllValues:StringNotLike", like, Some(&["Owner:Legal", "owner:Legal"]), false),
            ("ForAllValues:StringNotLike", like, Some(&["owner:Legal"]), true),
            ("ForAllValues:StringNotLike", like, Some(&["owner:Legal", "State:NewYork"]), true),
            ("ForAnyValue:StringNotLike", like, None, false),
            ("ForAnyValue:StringNotLike", like, Some(&[]), false),
            ("ForAnyValue:StringNotLike", like, Some(&["Owner:Legal", "State:NY"]), false),
            ("ForAnyValue:StringNotLike", like, Some(&["owner:Legal", "Owner:Legal"]), true),
            ("ForAnyValue:StringNotLike", like, Some(&["owner:Legal", "State:NewYork"]), true),
            ("ForAnyValue:StringNotLike", like, Some(&["owner:Legal", "State:NewYork", "Owner:Legal"]), true),
            ("ForAllValues:StringNotEquals", eq, None, true),
            ("ForAllValues:StringNotEquals", eq, Some(&["DataClass", "Owner"]), false),
            ("ForAllValues:StringNotEquals", eq, Some(&["Environment", "Owner"]), false),
            ("ForAllValues:StringNotEquals", eq, Some(&["Environment"]), true),
            ("ForAllValues:StringNotEquals", eq, Some(&["Environment", "CostCenter"]), true),
            ("ForAnyValue:StringNotEquals", eq, None, false),
            ("ForAnyValue:StringNotEquals", eq, Some(&["DataClass", "Owner"]), false),
            ("ForAnyValue:StringNotEquals", eq, Some(&["Environment", "Owner"]), true),
            ("ForAnyValue:StringNotEquals", eq, Some(&["Environment"]), true),
            ("ForAnyValue:StringNotEquals", eq, Some(&["Department", "Project"]), true),
            // The review's case: the "deny unapproved context keys" guard with one approved key added.
            ("ForAnyValue:StringNotEquals", &["Department", "Project"], Some(&["Department", "Evil"]), true),
            ("ForAllValues:StringNotLike", &["tenant*"], Some(&["tenantA", "other"]), false),
            ("ForAnyValue:StringNotEqualsIgnoreCase", &["owner"], Some(&["OWNER", "x"]), true),
            ("ForAllValues:StringNotEqualsIgnoreCase", &["owner"], Some(&["OWNER", "x"]), false),
            ("ForAnyValue:ArnNotLike", &["arn:aws:iam::*:role/*"], Some(&["arn:aws:iam::1:role/a"]), false),
            ("ForAllValues:NumericNotEquals", &["1", "2"], Some(&["3", "4"]), true),
            ("ForAnyValue:NotIpAddress", &["10.0.0.0/8"], Some(&["10.1.1.1", "192.0.2.1"]), true),
            ("ForAllValues:NotIpAddress", &["10.0.0.0/8"], Some(&["10.1.1.1", "192.0.2.1"]), false),
        ];
        for (op, policy, request, want) in cases {
            let c = cond(op, "aws:TagKeys", policy);
            let ctx = match request {
                Some(r) => ctx(&[("aws:TagKeys", r)]),
                None => ctx(&[]),
            };
            assert_eq!(c.holds(&ctx), *want, "{op} {policy:?} vs {request:?}");
        }
    }

    /// A key with several values only by accident of case: a Deny applies if any value triggers it, an
    /// Allow only if all values satisfy it.
    #[test]
    fn ambiguous_keys_fail_closed_for_either_effect() {
        let mut c = ctx(&[]);
        c.set_ambiguous("kms:EncryptionContext:Classification", vec!["TopSecret".into(), "x".into()]);
        let eq = cond("StringEquals", "kms:encryptioncontext:classification", &["TopSecret"]);
        assert!(eq.holds_in(&c, Effect::Deny));
        assert!(!eq.holds_in(&c, Effect::Allow));
        let ne = cond("StringNotEquals", "kms:EncryptionContext:Classification", &["TopSecret"]);
        assert!(ne.holds_in(&c, Effect::Deny));
        assert!(!ne.holds_in(&c, Effect::Allow));
        let null = cond("Null", "kms:EncryptionContext:Classification", &["false"]);
        assert!(null.holds_in(&c, Effect::Allow));
        // `set` replaces the values and the ambiguity.
        c.set("kms:EncryptionContext:Classification", vec!["TopSecret".into()]);
        assert!(!c.is_ambiguous("kms:EncryptionContext:Classification"));
        assert!(eq.holds_in(&c, Effect::Allow));
    }

    #[test]
    fn condition_keys_are_case_insensitive_and_variables_resolve() {
        let c = cond("StringEquals", "KMS:EncryptionContext:Dept", &["it"]);
        assert!(c.holds(&ctx(&[("kms:encryptioncontext:dept", &["it"])])));
        let v = cond("StringLike", "test:path", &["home/${aws:username}/*"]);
        let mut context = ctx(&[("test:path", &["home/alice/x"])]);
        context.set("aws:username", vec!["alice".into()]);
        assert!(v.holds(&context));
        let missing = cond("StringLike", "test:path", &["home/${aws:userid}/*"]);
        assert!(!missing.holds(&context));
        let defaulted = cond("StringEquals", "test:path", &["${aws:nope, 'home/alice/x'}"]);
        assert!(defaulted.holds(&context));
    }

    #[test]
    fn operator_names() {
        assert!(Operator::parse("ForAnyValue:StringLikeIfExists").is_some());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("StringSortOf").is_none());
        assert_eq!(parse_date("1970-01-02T00:00:00Z"), Some(86_400_000));
        assert_eq!(parse_date("not a date"), None);
    }
}
