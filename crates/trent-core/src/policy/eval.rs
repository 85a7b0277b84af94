//! Evaluating policies against one request: explicit deny wins, then any allow, else the implicit deny.

use std::collections::{HashMap, HashSet};

use super::condition::substitute;
use super::document::{Effect, Patterns, Policy, Principals, Statement};
use super::pattern::{arn_match, wildcard_match};

/// Who asks to do what to which resource, with the condition keys of the request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub principal_arn: String,
    /// `kms:Encrypt`, `kms:ReEncryptFrom`, ...
    pub action: String,
    pub resource: String,
    /// Condition keys, lower-cased (IAM compares condition key names case-insensitively).
    values: HashMap<String, Vec<String>>,
    /// Lower-cased keys whose several values come from request fields that differ only by case (encryption
    /// context keys `Dept` and `dept`), not from a multi-valued key: see `Condition::holds_in`.
    ambiguous: HashSet<String>,
}

impl RequestContext {
    pub fn new(principal_arn: &str, action: &str, resource: &str) -> Self {
        Self {
            principal_arn: principal_arn.to_owned(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            values: HashMap::new(),
            ambiguous: HashSet::new(),
        }
    }

    /// Sets a key (replacing any earlier values).
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_lowercase();
        self.ambiguous.remove(&key);
        self.values.insert(key, values);
    }

    /// Sets a single-valued key that the request supplied several times under names equal but for case: it
    /// keeps every value, and conditions on it fail closed (`Condition::holds_in`).
    pub fn set_ambiguous(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_lowercase();
        if values.len() > 1 {
            self.ambiguous.insert(key.clone());
        } else {
            self.ambiguous.remove(&key);
        }
        self.values.insert(key, values);
    }

    /// Whether `key` holds several values only because request fields differed by case.
    pub fn is_ambiguous(&self, key: &str) -> bool {
        !self.ambiguous.is_empty() && self.ambiguous.contains(&key.to_lowercase())
    }

    pub fn values(&self, key: &str) -> Option<&Vec<String>> {
        self.values.get(&key.to_lowercase())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    ExplicitDeny,
    Allow,
    ImplicitDeny,
}

/// Evaluates identity-based policies (no Principal element).
pub fn evaluate(policies: &[Policy], ctx: &RequestContext) -> Decision {
    let mut allowed = false;
    for s in policies.iter().flat_map(|p| &p.statements) {
        if statement_applies(s, ctx) {
            match s.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed { Decision::Allow } else { Decision::ImplicitDeny }
}

/// How a resource-based policy (a key policy) answers: a deny, an allow naming the caller itself, an allow
/// that names the caller's account (which delegates the decision to the account's IAM policies), or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceDecision {
    Deny,
    AllowPrincipal,
    AllowAccount,
    NoMatch,
}

pub fn evaluate_resource(policy: &Policy, ctx: &RequestContext, caller_account: &str) -> ResourceDecision {
    let mut best = ResourceDecision::NoMatch;
    for s in &policy.statements {
        if !statement_applies(s, ctx) {
            continue;
        }
        let Some(how) = principal_match(s, &ctx.principal_arn, caller_account) else { continue };
        match (s.effect, how) {
            (Effect::Deny, _) => return ResourceDecision::Deny,
            (Effect::Allow, PrincipalMatch::Exact) => best = ResourceDecision::AllowPrincipal,
            (Effect::Allow, PrincipalMatch::Account) if best == ResourceDecision::NoMatch => {
                best = ResourceDecision::AllowAccount;
            }
            _ => {}
        }
    }
    best
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrincipalMatch {
    /// `*`, or the caller's own ARN (or its role, for an assumed-role session).
    Exact,
    /// The caller's account, by id or root ARN: authority delegated to IAM.
    Account,
}

fn principal_match(s: &Statement, principal: &str, account: &str) -> Option<PrincipalMatch> {
    match (&s.principal, &s.not_principal) {
        (Some(p), _) => principals_match(p, principal, account),
        (None, Some(np)) => match principals_match(np, principal, account) {
            Some(_) => None,
            None => Some(PrincipalMatch::Exact),
        },
        (None, None) => None,
    }
}

fn principals_match(p: &Principals, principal: &str, account: &str) -> Option<PrincipalMatch> {
    if p.any {
        return Some(PrincipalMatch::Exact);
    }
    let root = format!("arn:aws:iam::{account}:root");
    let mut result = None;
    for a in &p.aws {
        if a == principal || role_of_session(principal).is_some_and(|role| role == *a) {
            return Some(PrincipalMatch::Exact);
        }
        if a == account || *a == root {
            // The root user itself is named by its account too.
            if principal == root {
                return Some(PrincipalMatch::Exact);
            }
            result = Some(PrincipalMatch::Account);
        }
    }
    result
}

/// `arn:aws:sts::111122223333:assumed-role/Role/session` is a session of `arn:aws:iam::111122223333:role/Role`.
fn role_of_session(principal: &str) -> Option<String> {
    let rest = principal.strip_prefix("arn:aws:sts::")?;
    let (account, path) = rest.split_once(':')?;
    let path = path.strip_prefix("assumed-role/")?;
    let (role, _session) = path.rsplit_once('/')?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}

fn statement_applies(s: &Statement, ctx: &RequestContext) -> bool {
    let action_ok = match &s.action {
        Patterns::Match(v) => v.iter().any(|p| wildcard_match(p, &ctx.action, true)),
        Patterns::Not(v) => !v.iter().any(|p| wildcard_match(p, &ctx.action, true)),
    };
    if !action_ok {
        return false;
    }
    let resource_ok = match &s.resource {
        None => true,
        Some(Patterns::Match(v)) => v.iter().filter_map(|p| substitute(p, ctx)).any(|p| arn_match(&p, &ctx.resource)),
        Some(Patterns::Not(v)) => !v.iter().filter_map(|p| substitute(p, ctx)).any(|p| arn_match(&p, &ctx.resource)),
    };
    resource_ok && s.conditions.iter().all(|c| c.holds_in(ctx, s.effect))
}

#[cfg(test)]
mod tests {
    use super::super::document::{PolicyKind, parse_policy};
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";
    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

    fn identity(doc: &str) -> Policy {
        parse_policy(doc, PolicyKind::Identity).unwrap()
    }

    fn resource(doc: &str) -> Policy {
        parse_policy(doc, PolicyKind::Resource).unwrap()
    }

    #[test]
    fn identity_policy_outcomes() {
        let allow = identity(r#"{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}"#);
        let deny = identity(r#"{"Statement":{"Effect":"Deny","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/*"}}"#);
        let not_action = identity(r#"{"Statement":{"Effect":"Allow","NotAction":"kms:Decrypt","Resource":"*"}}"#);
        let not_resource =
            identity(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","NotResource":"arn:aws:kms:*:*:key/k1"}}"#);
        let ctx = RequestContext::new(ALICE, "kms:Encrypt", KEY);
        assert_eq!(evaluate(&[], &ctx), Decision::ImplicitDeny);
        assert_eq!(evaluate(std::slice::from_ref(&allow), &ctx), Decision::Allow);
        assert_eq!(evaluate(&[allow.clone(), deny], &ctx), Decision::ExplicitDeny);
        assert_eq!(evaluate(std::slice::from_ref(&not_action), &ctx), Decision::Allow);
        assert_eq!(evaluate(&[not_action], &RequestContext::new(ALICE, "kms:Decrypt", KEY)), Decision::ImplicitDeny);
        assert_eq!(evaluate(&[not_resource], &ctx), Decision::ImplicitDeny);
        assert_eq!(evaluate(&[allow], &RequestContext::new(ALICE, "KMS:encrypt", KEY)), Decision::Allow);
    }

    #[test]
    fn resource_policy_principals() {
        let p = resource(
            r#"{"Statement":[
                {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
                {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:Decrypt","Resource":"*"},
                {"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"kms:Encrypt","Resource":"*"}
            ]}"#,
        );
        let d = |who: &str, action: &str, account: &str| {
            evaluate_resource(&p, &RequestContext::new(who, action, KEY), account)
        };
        assert_eq!(d(ALICE, "kms:Encrypt", "111122223333"), ResourceDecision::AllowAccount);
        assert_eq!(
            d("arn:aws:iam::111122223333:root", "kms:Encrypt", "111122223333"),
            ResourceDecision::AllowPrincipal
        );
        assert_eq!(
            d("arn:aws:sts::111122223333:assumed-role/App/s1", "kms:Decrypt", "111122223333"),
            ResourceDecision::AllowPrincipal
        );
        assert_eq!(
            d("arn:aws:iam::444455556666:user/bob", "kms:Encrypt", "444455556666"),
            ResourceDecision::AllowAccount
        );
        assert_eq!(d("arn:aws:iam::444455556666:user/bob", "kms:Decrypt", "444455556666"), ResourceDecision::NoMatch);
        assert_eq!(d("arn:aws:iam::777777777777:user/eve", "kms:Encrypt", "777777777777"), ResourceDecision::NoMatch);
        let deny = resource(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
               {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt","Resource":"*"}]}"#,
        );
        let e = |who: &str| evaluate_resource(&deny, &RequestContext::new(who, "kms:Decrypt", KEY), "111122223333");
        assert_eq!(e(ALICE), ResourceDecision::AllowPrincipal);
        assert_eq!(e("arn:aws:iam::111122223333:user/bob"), ResourceDecision::Deny);
    }

    #[test]
    fn conditions_and_variables_in_statements() {
        let p = identity(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",
                "Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT"},
                             "ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Department","Project"]}}}}"#,
        );
        let mut ctx = RequestContext::new(ALICE, "kms:Decrypt", KEY);
        assert_eq!(evaluate(std::slice::from_ref(&p), &ctx), Decision::ImplicitDeny);
        ctx.set("kms:EncryptionContext:Department", vec!["IT".into()]);
        ctx.set("kms:EncryptionContextKeys", vec!["Department".into()]);
        assert_eq!(evaluate(std::slice::from_ref(&p), &ctx), Decision::Allow);
        ctx.set("kms:EncryptionContextKeys", vec!["Department".into(), "Other".into()]);
        assert_eq!(evaluate(&[p], &ctx), Decision::ImplicitDeny);

        let own = identity(
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:*:key/${aws:PrincipalTag/key}"}}"#,
        );
        let mut ctx = RequestContext::new(ALICE, "kms:Encrypt", KEY);
        assert_eq!(evaluate(std::slice::from_ref(&own), &ctx), Decision::ImplicitDeny);
        ctx.set("aws:PrincipalTag/key", vec!["k1".into()]);
        assert_eq!(evaluate(&[own], &ctx), Decision::Allow);
    }
}
