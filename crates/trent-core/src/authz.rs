//! What every policy evaluation starts from, built in one place for every service (KMS, Parameter Store, IAM,
//! STS, CloudTrail; S3 next): the request context with the global condition keys, the one definition of "the
//! account's root", and the identity-policy decision for actions that no resource policy governs.
//!
//! Before this module each service built its own context, and IAM, STS and CloudTrail built one with no
//! condition keys at all: a Deny on `aws:SourceIp` or `aws:PrincipalTag/*` stopped KMS and SSM calls but not
//! `iam:CreateAccessKey` or `cloudtrail:LookupEvents` (it could never match, so it failed open). Every service
//! now asks [`request_context`], so one policy answers the same way whichever service is called.

use std::collections::BTreeMap;

use crate::identity::{Identities, root_arn};
use crate::model::Timestamp;
use crate::policy::eval::{Decision, RequestContext, evaluate};
use crate::service::Caller;

/// Whether `caller` is its own account's root user, the principal that may do everything in its account
/// without an identity policy. The only definition of it in Trent.
pub fn is_account_root(caller: &Caller) -> bool {
    caller.principal_arn == root_arn(&caller.account)
}

/// The request context of `caller` performing `action` on `resource` at `now`, with the global condition keys
/// AWS sets on every request (`aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:CurrentTime`,
/// `aws:EpochTime`, `aws:SourceIp`, `aws:SecureTransport`, `aws:username`, `aws:userid` where known,
/// `aws:PrincipalTag/*`, and `kms:ViaService` when a service calls on the caller's behalf).
/// Service-specific keys (`kms:EncryptionContext:*`, `sts:RoleSessionName`, ...) are added by the caller.
pub fn request_context(
    caller: &Caller,
    action: &str,
    resource: &str,
    now: Timestamp,
    principal_tags: &BTreeMap<String, String>,
) -> RequestContext {
    let mut ctx = RequestContext::new(&caller.principal_arn, action, resource);
    ctx.set("aws:PrincipalArn", vec![caller.principal_arn.clone()]);
    ctx.set("aws:PrincipalAccount", vec![caller.account.to_string()]);
    let epoch_secs = now.0.div_euclid(1000).to_string();
    ctx.set("aws:CurrentTime", vec![epoch_secs.clone()]);
    ctx.set("aws:EpochTime", vec![epoch_secs]);
    if let Some(service) = &caller.via_service {
        ctx.set("kms:ViaService", vec![service.clone()]);
    }
    if let Some(ip) = caller.source_ip {
        ctx.set("aws:SourceIp", vec![ip.to_string()]);
    }
    if let Some(secure) = caller.secure_transport {
        ctx.set("aws:SecureTransport", vec![secure.to_string()]);
    }
    // `user/path/name`: the user name is the last path segment.
    if let Some((_, path_and_name)) = caller.principal_arn.rsplit_once(":user/") {
        let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
        ctx.set("aws:username", vec![name.to_owned()]);
    }
    for (k, v) in principal_tags {
        ctx.set(&format!("aws:PrincipalTag/{k}"), vec![v.clone()]);
    }
    ctx
}

impl Identities {
    /// [`request_context`] for `caller`, with its tags from the IAM store and the time from this clock.
    pub fn request_context(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
    ) -> Result<RequestContext, crate::iam::IamError> {
        let tags = self.principal_tags(&caller.principal_arn)?;
        Ok(request_context(caller, action, resource, self.now(), &tags))
    }

    /// The identity-policy decision for an action no resource policy governs (IAM, STS's GetCallerIdentity
    /// aside, CloudTrail, Parameter Store): an account root is allowed everything in its account; anyone else
    /// needs an identity policy that allows `ctx` and none that denies it.
    pub fn identity_decision(&self, caller: &Caller, ctx: &RequestContext) -> Result<Decision, crate::iam::IamError> {
        if is_account_root(caller) {
            return Ok(Decision::Allow);
        }
        let policies = self.identity_policies(&caller.principal_arn)?;
        Ok(evaluate(&policies, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AccountId;

    fn caller(arn: &str) -> Caller {
        let account = AccountId::parse("111122223333").expect("valid account");
        let mut c = Caller::new(account, arn);
        c.source_ip = Some("127.0.0.1".parse().expect("ip"));
        c.secure_transport = Some(true);
        c
    }

    #[test]
    fn the_root_is_the_account_root_only() {
        assert!(is_account_root(&caller("arn:aws:iam::111122223333:root")));
        assert!(!is_account_root(&caller("arn:aws:iam::444455556666:root")));
        assert!(!is_account_root(&caller("arn:aws:iam::111122223333:user/root")));
    }

    #[test]
    fn every_global_key_is_set() {
        let tags = BTreeMap::from([("team".to_owned(), "blue".to_owned())]);
        let c = caller("arn:aws:iam::111122223333:user/path/to/alice");
        let ctx = request_context(&c, "iam:ListUsers", "*", Timestamp(1_700_000_000_123), &tags);
        let one = |k: &str| ctx.values(k).and_then(|v| v.first()).cloned();
        assert_eq!(one("aws:SourceIp").as_deref(), Some("127.0.0.1"));
        assert_eq!(one("aws:SecureTransport").as_deref(), Some("true"));
        assert_eq!(one("aws:username").as_deref(), Some("alice"));
        assert_eq!(one("aws:PrincipalTag/team").as_deref(), Some("blue"));
        assert_eq!(one("aws:PrincipalAccount").as_deref(), Some("111122223333"));
        assert_eq!(one("aws:CurrentTime").as_deref(), Some("1700000000"));
        assert_eq!(one("aws:EpochTime").as_deref(), Some("1700000000"));
        assert_eq!(one("kms:ViaService"), None);
    }
}
