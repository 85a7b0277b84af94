//! Policy documents parsed into typed form. Parsing is strict where AWS is (unknown top-level or statement
//! elements, wrong types, missing Effect/Action/Resource) and the error says which statement and element.

use serde_json::{Map, Value};

use super::condition::{Condition, Operator};

/// AWS's key policy size quota; IAM inline policies have their own (2,048 for users), not enforced here.
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Resource-based (key policy, role trust policy: statements name a Principal) or identity-based (attached to
/// a user or role: statements must not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Resource,
    Identity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action`/`NotAction`, `Resource`/`NotResource`: a list of patterns, positive or negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    Match(Vec<String>),
    Not(Vec<String>),
}

/// `Principal` / `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principals {
    /// `"Principal": "*"` or `{"AWS": "*"}`.
    pub any: bool,
    pub aws: Vec<String>,
    pub service: Vec<String>,
    pub federated: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<Principals>,
    pub not_principal: Option<Principals>,
    pub action: Patterns,
    /// `None` only in resource-based policies, where an absent Resource means the resource itself.
    pub resource: Option<Patterns>,
    pub conditions: Vec<Condition>,
}

/// Parses a policy document.
pub fn parse_policy(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(PolicyError(format!(
            "The policy document is {} bytes; the limit is {MAX_POLICY_BYTES} bytes.",
            text.len()
        )));
    }
    let doc: Value =
        serde_json::from_str(text).map_err(|e| PolicyError(format!("The policy document is not valid JSON: {e}")))?;
    let Value::Object(obj) = doc else { return Err(err("The policy document must be a JSON object.")) };
    for k in obj.keys() {
        if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
            return Err(PolicyError(format!("Unknown policy element: {k}")));
        }
    }
    match obj.get("Version") {
        None | Some(Value::String(_)) => {}
        _ => return Err(err("Version must be a string.")),
    }
    if let Some(Value::String(v)) = obj.get("Version")
        && v != "2012-10-17"
        && v != "2008-10-17"
    {
        return Err(PolicyError(format!("Unsupported policy version {v}; use 2012-10-17.")));
    }
    let id = match obj.get("Id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(err("Id must be a string.")),
    };
    let statements = match obj.get("Statement") {
        Some(Value::Array(a)) if !a.is_empty() => a.iter().enumerate().map(|(i, s)| statement(i, s, kind)).collect(),
        Some(s @ Value::Object(_)) => vec![statement(0, s, kind)].into_iter().collect(),
        _ => Err(err("The policy document must contain a non-empty Statement.")),
    }?;
    Ok(Policy { id, statements })
}

fn err(m: &str) -> PolicyError {
    PolicyError(m.to_owned())
}

fn statement(i: usize, v: &Value, kind: PolicyKind) -> Result<Statement, PolicyError> {
    let at = |m: String| PolicyError(format!("Statement {}: {m}", i + 1));
    let Value::Object(s) = v else { return Err(at("must be a JSON object".into())) };
    for k in s.keys() {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(at(format!("unknown element {k}")));
        }
    }
    let sid = match s.get("Sid") {
        None => None,
        Some(Value::String(x)) => Some(x.clone()),
        Some(_) => return Err(at("Sid must be a string".into())),
    };
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(at("Effect must be \"Allow\" or \"Deny\"".into())),
    };
    let principal = s.get("Principal").map(|p| principals(p).map_err(at)).transpose()?;
    let not_principal = s.get("NotPrincipal").map(|p| principals(p).map_err(at)).transpose()?;
    match kind {
        PolicyKind::Resource if principal.is_none() && not_principal.is_none() => {
            return Err(at("a resource-based policy statement must name a Principal".into()));
        }
        PolicyKind::Identity if principal.is_some() || not_principal.is_some() => {
            return Err(at("an identity-based policy must not name a Principal".into()));
        }
        _ => {}
    }
    let action =
        one_of(s, "Action", "NotAction").map_err(at)?.ok_or_else(|| at("Action or NotAction is required".into()))?;
    let resource = one_of(s, "Resource", "NotResource").map_err(at)?;
    if kind == PolicyKind::Identity && resource.is_none() {
        return Err(at("Resource or NotResource is required".into()));
    }
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(c)) => conditions(c).map_err(at)?,
        Some(_) => return Err(at("Condition must be a JSON object".into())),
    };
    Ok(Statement { sid, effect, principal, not_principal, action, resource, conditions })
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| format!("{what} entries must be strings")))
            .collect(),
        _ => Err(format!("{what} must be a string or a non-empty list of strings")),
    }
}

fn one_of(s: &Map<String, Value>, yes: &str, no: &str) -> Result<Option<Patterns>, String> {
    match (s.get(yes), s.get(no)) {
        (Some(_), Some(_)) => Err(format!("{yes} and {no} cannot both be present")),
        (Some(v), None) => Ok(Some(Patterns::Match(strings(v, yes)?))),
        (None, Some(v)) => Ok(Some(Patterns::Not(strings(v, no)?))),
        (None, None) => Ok(None),
    }
}

fn principals(v: &Value) -> Result<Principals, String> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals { any: true, ..Default::default() }),
        Value::Object(m) => {
            let mut p = Principals::default();
            for (k, v) in m {
                let list = strings(v, &format!("Principal {k}"))?;
                match k.as_str() {
                    "AWS" => {
                        if list.iter().any(|x| x == "*") {
                            p.any = true;
                        }
                        for a in &list {
                            if a != "*" && !valid_aws_principal(a) {
                                return Err(format!("invalid principal {a:?}"));
                            }
                        }
                        p.aws.extend(list);
                    }
                    "Service" => p.service.extend(list),
                    "Federated" => p.federated.extend(list),
                    "CanonicalUser" => {}
                    other => return Err(format!("unknown principal type {other}")),
                }
            }
            Ok(p)
        }
        _ => Err("Principal must be \"*\" or an object".into()),
    }
}

/// A 12-digit account id or an IAM/STS ARN.
fn valid_aws_principal(s: &str) -> bool {
    (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()))
        || s.starts_with("arn:aws:iam::")
        || s.starts_with("arn:aws:sts::")
}

fn conditions(c: &Map<String, Value>) -> Result<Vec<Condition>, String> {
    let mut out = Vec::new();
    for (op, block) in c {
        let operator = Operator::parse(op).ok_or_else(|| format!("unknown condition operator {op}"))?;
        let Value::Object(keys) = block else { return Err(format!("condition {op} must be a JSON object")) };
        for (key, values) in keys {
            let values = match values {
                Value::Array(a) => a.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
                other => vec![scalar(other)?],
            };
            out.push(Condition { operator: operator.clone(), key: key.clone(), values });
        }
    }
    Ok(out)
}

/// Condition values may be strings, numbers or booleans; IAM compares their text.
fn scalar(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("condition values must be strings, numbers or booleans".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_key_policy() {
        let p = parse_policy(
            &crate::service::default_key_policy(&crate::ids::AccountId::parse("111122223333").unwrap()),
            PolicyKind::Resource,
        )
        .unwrap();
        assert_eq!(p.statements.len(), 1);
        let s = &p.statements[0];
        assert_eq!(s.effect, Effect::Allow);
        assert_eq!(s.principal.as_ref().unwrap().aws, vec!["arn:aws:iam::111122223333:root"]);
        assert_eq!(s.action, Patterns::Match(vec!["kms:*".into()]));
    }

    #[test]
    fn rejects_bad_documents_with_a_useful_message() {
        let cases = [
            ("not json", "not valid JSON"),
            ("[]", "JSON object"),
            (r#"{"Statement":[]}"#, "non-empty Statement"),
            (r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"kms:*"}}"#, "Effect"),
            (r#"{"Statement":{"Effect":"Allow","Action":"kms:*"}}"#, "must name a Principal"),
            (r#"{"Statement":{"Effect":"Allow","Principal":"*"}}"#, "Action or NotAction"),
            (r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"a","NotAction":"b"}}"#, "cannot both"),
            (r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"a"}}"#, "invalid principal"),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"a","Condition":{"StringSortOf":{"k":"v"}}}}"#,
                "unknown condition operator",
            ),
            (
                r#"{"Version":"2001-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"a"}}"#,
                "Unsupported policy version",
            ),
            (r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"a","Extra":1}}"#, "unknown element Extra"),
        ];
        for (doc, want) in cases {
            let e = parse_policy(doc, PolicyKind::Resource).unwrap_err();
            assert!(e.0.contains(want), "{doc}: {e}");
        }
        let big = format!(
            r#"{{"Statement":{{"Effect":"Allow","Principal":"*","Action":"{}"}}}}"#,
            "a".repeat(MAX_POLICY_BYTES)
        );
        assert!(parse_policy(&big, PolicyKind::Resource).unwrap_err().0.contains("limit"));
        let e = parse_policy(r#"{"Statement":{"Effect":"Allow","Action":"kms:*"}}"#, PolicyKind::Identity).unwrap_err();
        assert!(e.0.contains("Resource"));
    }
}
