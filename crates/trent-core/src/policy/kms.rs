//! KMS authorization as AWS documents it: the key policy is the primary control; IAM policies count only
//! where the key policy delegates to the account; grants allow their operations; across accounts both the
//! key's account (key policy) and the caller's account (IAM policy) must allow.

use super::document::Policy;
use super::eval::{Decision, RequestContext, ResourceDecision, evaluate, evaluate_resource};

/// Everything the decision needs, gathered by the caller from the store and the request.
pub struct KmsAuthzInput<'a> {
    pub ctx: &'a RequestContext,
    pub caller_account: &'a str,
    /// The account root user: has every IAM permission of its own account.
    pub caller_is_root: bool,
    pub key_account: &'a str,
    pub key_policy: &'a Policy,
    /// The caller's IAM policies (user or role policies).
    pub identity_policies: &'a [Policy],
    /// Whether an active grant gives the caller this operation on this key, its constraints satisfied.
    pub grant_allows: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    ExplicitDenyInResourcePolicy,
    ExplicitDenyInIdentityPolicy,
    NoResourcePolicyAllows,
    NoIdentityPolicyAllows,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsDecision {
    /// The key policy (with IAM where it delegates) allows the request.
    Allow,
    /// Only a grant allows it. CreateGrant then limits what the new grant may contain (see `service::grants`),
    /// so the caller must know which of the two allowed it.
    AllowByGrant,
    Deny(DenyReason),
}

pub fn authorize(i: &KmsAuthzInput<'_>) -> KmsDecision {
    use DenyReason::*;
    let key_says = evaluate_resource(i.key_policy, i.ctx, i.caller_account);
    if key_says == ResourceDecision::Deny {
        return KmsDecision::Deny(ExplicitDenyInResourcePolicy);
    }
    let iam_says = if i.caller_is_root { Decision::Allow } else { evaluate(i.identity_policies, i.ctx) };
    if iam_says == Decision::ExplicitDeny {
        return KmsDecision::Deny(ExplicitDenyInIdentityPolicy);
    }
    let same_account = i.caller_account == i.key_account;
    let allowed = match key_says {
        // Named directly in its own account's key policy: no IAM policy needed. From another account the
        // caller's account must still allow it.
        ResourceDecision::AllowPrincipal => same_account || iam_says == Decision::Allow,
        ResourceDecision::AllowAccount => iam_says == Decision::Allow,
        ResourceDecision::NoMatch | ResourceDecision::Deny => false,
    };
    if allowed {
        return KmsDecision::Allow;
    }
    if i.grant_allows {
        return KmsDecision::AllowByGrant;
    }
    KmsDecision::Deny(match key_says {
        ResourceDecision::NoMatch => NoResourcePolicyAllows,
        _ => NoIdentityPolicyAllows,
    })
}

/// AWS's AccessDeniedException text for a denial.
pub fn access_denied_message(principal: &str, action: &str, resource: &str, reason: DenyReason) -> String {
    let why = match reason {
        DenyReason::ExplicitDenyInResourcePolicy => "with an explicit deny in a resource-based policy".to_owned(),
        DenyReason::ExplicitDenyInIdentityPolicy => "with an explicit deny in an identity-based policy".to_owned(),
        DenyReason::NoResourcePolicyAllows => format!("because no resource-based policy allows the {action} action"),
        DenyReason::NoIdentityPolicyAllows => format!("because no identity-based policy allows the {action} action"),
    };
    format!("User: {principal} is not authorized to perform: {action} on resource: {resource} {why}")
}

#[cfg(test)]
mod tests {
    use super::super::document::{PolicyKind, parse_policy};
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k1";

    fn default_policy() -> Policy {
        parse_policy(
            &crate::service::default_key_policy(&crate::ids::AccountId::parse("111122223333").unwrap()),
            PolicyKind::Resource,
        )
        .unwrap()
    }

    fn iam(doc: &str) -> Policy {
        parse_policy(doc, PolicyKind::Identity).unwrap()
    }

    fn decide(
        principal: &str,
        account: &str,
        key_policy: &Policy,
        iam_policies: &[Policy],
        grant: bool,
    ) -> KmsDecision {
        let ctx = RequestContext::new(principal, "kms:Encrypt", KEY);
        authorize(&KmsAuthzInput {
            ctx: &ctx,
            caller_account: account,
            caller_is_root: principal.ends_with(":root"),
            key_account: "111122223333",
            key_policy,
            identity_policies: iam_policies,
            grant_allows: grant,
        })
    }

    /// The documented cases, as a table.
    #[test]
    fn kms_authorization_table() {
        use DenyReason::*;
        let default = default_policy();
        let allow_encrypt = iam(r#"{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}"#);
        let deny_all = iam(r#"{"Statement":{"Effect":"Deny","Action":"kms:*","Resource":"*"}}"#);
        let no_root = parse_policy(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/admin"},"Action":"kms:*","Resource":"*"}}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let shared = parse_policy(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
               {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let alice = "arn:aws:iam::111122223333:user/alice";
        let root = "arn:aws:iam::111122223333:root";
        let bob = "arn:aws:iam::444455556666:user/bob";
        let eve = "arn:aws:iam::777777777777:user/eve";
        // (principal, its account, key policy, identity policies, grant allows, expected)
        type Case<'a> = (&'a str, &'a str, &'a Policy, Vec<Policy>, bool, KmsDecision);
        let cases: Vec<Case> = vec![
            (root, "111122223333", &default, vec![], false, KmsDecision::Allow),
            (alice, "111122223333", &default, vec![], false, KmsDecision::Deny(NoIdentityPolicyAllows)),
            (alice, "111122223333", &default, vec![allow_encrypt.clone()], false, KmsDecision::Allow),
            (
                alice,
                "111122223333",
                &default,
                vec![allow_encrypt.clone(), deny_all.clone()],
                false,
                KmsDecision::Deny(ExplicitDenyInIdentityPolicy),
            ),
            (
                alice,
                "111122223333",
                &no_root,
                vec![allow_encrypt.clone()],
                false,
                KmsDecision::Deny(NoResourcePolicyAllows),
            ),
            (alice, "111122223333", &no_root, vec![], true, KmsDecision::AllowByGrant),
            (alice, "111122223333", &default, vec![allow_encrypt.clone()], true, KmsDecision::Allow),
            (
                alice,
                "111122223333",
                &default,
                vec![deny_all.clone()],
                true,
                KmsDecision::Deny(ExplicitDenyInIdentityPolicy),
            ),
            (bob, "444455556666", &shared, vec![allow_encrypt.clone()], false, KmsDecision::Allow),
            (bob, "444455556666", &shared, vec![], false, KmsDecision::Deny(NoIdentityPolicyAllows)),
            (
                bob,
                "444455556666",
                &default,
                vec![allow_encrypt.clone()],
                false,
                KmsDecision::Deny(NoResourcePolicyAllows),
            ),
            (eve, "777777777777", &shared, vec![allow_encrypt], false, KmsDecision::Deny(NoResourcePolicyAllows)),
        ];
        for (who, account, kp, iam_policies, grant, want) in cases {
            assert_eq!(decide(who, account, kp, &iam_policies, grant), want, "{who} grant={grant}");
        }
    }

    #[test]
    fn denial_messages_match_aws() {
        assert_eq!(
            access_denied_message(
                "arn:aws:iam::111122223333:user/alice",
                "kms:Encrypt",
                KEY,
                DenyReason::NoResourcePolicyAllows
            ),
            format!(
                "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Encrypt on resource: {KEY} because no resource-based policy allows the kms:Encrypt action"
            )
        );
        assert!(
            access_denied_message("u", "kms:Decrypt", KEY, DenyReason::ExplicitDenyInResourcePolicy)
                .ends_with("with an explicit deny in a resource-based policy")
        );
    }
}
