//! Authorization, decided in one place: every key-addressed operation resolves its key through
//! [`Kms::resolve`] with the [`Action`] it performs, and that call evaluates the key policy, the caller's IAM
//! policies and (later) grants with `policy::kms::authorize`. Operations on no key (CreateKey, ListKeys,
//! GenerateRandom, ListAliases) are authorized by IAM policies alone, as in AWS.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::{Caller, Kms};
use crate::KmsError;
use crate::authz::is_account_root;
use crate::cache::LiveKey;
use crate::context::EncryptionContext;
use crate::model::GrantRecord;
use crate::policy::Policy;
use crate::policy::document::Patterns;
use crate::policy::eval::{Decision, RequestContext, evaluate};
use crate::policy::kms::{DenyReason, KmsAuthzInput, KmsDecision, access_denied_message, authorize};

macro_rules! actions {
    ($($variant:ident = $name:literal $(, account_only = $acct:literal)?;)+) => {
        /// Every KMS action an operation can need (the IAM action names; ReEncrypt needs two).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $($variant),+ }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),+];

            /// `kms:Encrypt` etc.
            pub fn as_str(self) -> &'static str {
                match self { $(Action::$variant => $name),+ }
            }

            /// Actions on no particular key, authorized by IAM policies alone.
            pub fn account_only(self) -> bool {
                match self { $(Action::$variant => false $(|| $acct)?),+ }
            }
        }
    };
}

actions! {
    CancelKeyDeletion = "kms:CancelKeyDeletion";
    CreateAlias = "kms:CreateAlias";
    CreateGrant = "kms:CreateGrant";
    CreateKey = "kms:CreateKey", account_only = true;
    Decrypt = "kms:Decrypt";
    DeleteAlias = "kms:DeleteAlias";
    DeleteImportedKeyMaterial = "kms:DeleteImportedKeyMaterial";
    DeriveSharedSecret = "kms:DeriveSharedSecret";
    DescribeKey = "kms:DescribeKey";
    DisableKey = "kms:DisableKey";
    DisableKeyRotation = "kms:DisableKeyRotation";
    EnableKey = "kms:EnableKey";
    EnableKeyRotation = "kms:EnableKeyRotation";
    Encrypt = "kms:Encrypt";
    GenerateDataKey = "kms:GenerateDataKey";
    GenerateDataKeyPair = "kms:GenerateDataKeyPair";
    GenerateDataKeyPairWithoutPlaintext = "kms:GenerateDataKeyPairWithoutPlaintext";
    GenerateDataKeyWithoutPlaintext = "kms:GenerateDataKeyWithoutPlaintext";
    GenerateMac = "kms:GenerateMac";
    GenerateRandom = "kms:GenerateRandom", account_only = true;
    GetKeyPolicy = "kms:GetKeyPolicy";
    ListGrants = "kms:ListGrants";
    ListRetirableGrants = "kms:ListRetirableGrants", account_only = true;
    RetireGrant = "kms:RetireGrant";
    RevokeGrant = "kms:RevokeGrant";
    GetKeyRotationStatus = "kms:GetKeyRotationStatus";
    GetParametersForImport = "kms:GetParametersForImport";
    GetPublicKey = "kms:GetPublicKey";
    ImportKeyMaterial = "kms:ImportKeyMaterial";
    ListAliases = "kms:ListAliases", account_only = true;
    ListKeyPolicies = "kms:ListKeyPolicies";
    ListKeyRotations = "kms:ListKeyRotations";
    ListKeys = "kms:ListKeys", account_only = true;
    ListResourceTags = "kms:ListResourceTags";
    PutKeyPolicy = "kms:PutKeyPolicy";
    ReEncryptFrom = "kms:ReEncryptFrom";
    ReEncryptTo = "kms:ReEncryptTo";
    RotateKeyOnDemand = "kms:RotateKeyOnDemand";
    ScheduleKeyDeletion = "kms:ScheduleKeyDeletion";
    Sign = "kms:Sign";
    TagResource = "kms:TagResource";
    UntagResource = "kms:UntagResource";
    UpdateAlias = "kms:UpdateAlias";
    UpdateKeyDescription = "kms:UpdateKeyDescription";
    Verify = "kms:Verify";
    VerifyMac = "kms:VerifyMac";
}

/// How an authorized request was allowed.
#[derive(Debug, Clone)]
pub(crate) enum Authorized {
    /// By the key policy, with the caller's IAM policies where it delegates to them.
    ByPolicy,
    /// Only by these grants (never empty). CreateGrant limits the grants such a caller can create.
    ByGrants(Vec<GrantRecord>),
}

/// Where the caller's IAM policies and tags come from (the IAM users and roles of `Identities`).
pub trait PrincipalDirectory: Send + Sync {
    fn identity_policies(&self, principal_arn: &str) -> Result<Arc<Vec<Policy>>, KmsError>;
    fn principal_tags(&self, principal_arn: &str) -> Result<Arc<BTreeMap<String, String>>, KmsError>;
    /// Whether an IAM principal ARN names an existing user, role or account root (key policies may only name
    /// existing principals).
    fn principal_exists(&self, principal_arn: &str) -> Result<bool, KmsError> {
        Ok(principal_arn.ends_with(":root"))
    }
}

/// Until IAM principals exist only account roots call Trent; they have no IAM policies.
struct RootsOnly;

impl PrincipalDirectory for RootsOnly {
    fn identity_policies(&self, _: &str) -> Result<Arc<Vec<Policy>>, KmsError> {
        Ok(Arc::new(Vec::new()))
    }

    fn principal_tags(&self, _: &str) -> Result<Arc<BTreeMap<String, String>>, KmsError> {
        Ok(Arc::new(BTreeMap::new()))
    }
}

pub(super) struct Directory(RwLock<Arc<dyn PrincipalDirectory>>);

impl Default for Directory {
    fn default() -> Self {
        Self(RwLock::new(Arc::new(RootsOnly)))
    }
}

impl Directory {
    fn get(&self) -> Arc<dyn PrincipalDirectory> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Condition keys a request adds beyond the ones every request has, and its encryption context (for grant
/// constraints).
#[derive(Debug, Default, Clone)]
pub(crate) struct Extra(Vec<(String, Vec<String>)>, Option<BTreeMap<String, String>>, Vec<String>);

impl Extra {
    pub(crate) fn none() -> Self {
        Self::default()
    }

    /// One more condition key.
    pub(crate) fn with(mut self, key: &str, values: Vec<String>) -> Self {
        self.0.push((key.to_owned(), values));
        self
    }

    /// `aws:RequestTag/<key>` for each tag and `aws:TagKeys`, for requests that add tags.
    pub(crate) fn tags(tags: &[(String, String)]) -> Self {
        let mut v: Vec<(String, Vec<String>)> =
            tags.iter().map(|(k, val)| (format!("aws:RequestTag/{k}"), vec![val.clone()])).collect();
        v.push(("aws:TagKeys".into(), tags.iter().map(|(k, _)| k.clone()).collect()));
        Self(v, None, Vec::new())
    }

    /// `kms:EncryptionContext:<key>`, `kms:EncryptionContextKeys` and, when given, `kms:EncryptionAlgorithm`.
    ///
    /// Condition key names are case-insensitive, so context keys equal but for case (`Classification` and
    /// `classification`, both allowed in a context) are one condition key: it gets all their values and is
    /// marked ambiguous, so that neither value can hide the other from a Deny (`Condition::holds_in`).
    pub(crate) fn context(context: &EncryptionContext, algorithm: Option<&str>) -> Self {
        let mut grouped: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        for (k, val) in context.pairs() {
            grouped
                .entry(k.to_lowercase())
                .or_insert_with(|| (format!("kms:EncryptionContext:{k}"), Vec::new()))
                .1
                .push(val.clone());
        }
        let ambiguous = grouped.values().filter(|(_, vals)| vals.len() > 1).map(|(k, _)| k.clone()).collect();
        let mut v: Vec<(String, Vec<String>)> = grouped.into_values().collect();
        if !context.is_empty() {
            v.push(("kms:EncryptionContextKeys".into(), context.pairs().keys().cloned().collect()));
        }
        if let Some(a) = algorithm {
            v.push(("kms:EncryptionAlgorithm".into(), vec![a.to_owned()]));
        }
        Self(v, Some(context.pairs().clone()), ambiguous)
    }

    /// Adds these condition keys to `ctx`.
    fn apply(&self, ctx: &mut RequestContext) {
        for (k, v) in &self.0 {
            if self.2.contains(k) {
                ctx.set_ambiguous(k, v.clone());
            } else {
                ctx.set(k, v.clone());
            }
        }
    }
}

/// `kms:ResourceAliases`: the aliases of the key the request acts on (multivalued).
const RESOURCE_ALIASES: &str = "kms:ResourceAliases";
/// More than any key can have (AWS allows 50 aliases per key; the query's bound, not a limit).
const MAX_ALIASES_PER_KEY: usize = 1000;

/// Whether any statement of `policy` has a condition on `key` (condition keys are case-insensitive).
fn tests_key(policy: &Policy, key: &str) -> bool {
    policy.statements.iter().flat_map(|s| &s.conditions).any(|c| c.key.eq_ignore_ascii_case(key))
}

/// Whether evaluating `policy` can read a request's condition keys: through a condition, or a policy
/// variable (`${...}`) in a Resource. Action and principal matching use the context's fixed fields only.
fn reads_context(policy: &Policy) -> bool {
    policy.statements.iter().any(|s| {
        !s.conditions.is_empty()
            || s.resource.as_ref().is_some_and(|r| match r {
                Patterns::Match(v) | Patterns::Not(v) => v.iter().any(|p| p.contains("${")),
            })
    })
}

impl Kms {
    /// Replaces where IAM policies come from (set once at start-up by the server).
    pub fn set_principal_directory(&self, directory: Arc<dyn PrincipalDirectory>) {
        *self.directory.0.write().unwrap_or_else(|p| p.into_inner()) = directory;
    }

    /// Decides whether `caller` may perform `action` on `live`; `AccessDeniedException` with AWS's text if not.
    /// Says whether the key policy (with IAM) allowed it or only grants did, and which grants.
    pub(crate) fn authorize_key(
        &self,
        caller: &Caller,
        action: Action,
        live: &LiveKey,
        extra: &Extra,
    ) -> Result<Authorized, KmsError> {
        let directory = self.directory.get();
        let is_root = is_account_root(caller);
        let Some(key_policy) = live.policy.as_deref() else {
            // A stored policy the engine cannot read denies everything: fail closed.
            return Err(KmsError::AccessDenied(access_denied_message(
                &caller.principal_arn,
                action.as_str(),
                &live.arn,
                DenyReason::NoResourcePolicyAllows,
            )));
        };
        let policies =
            if is_root { Arc::new(Vec::new()) } else { directory.identity_policies(&caller.principal_arn)? };
        // The condition keys are read only by conditions and policy variables. Most keys (the default key
        // policy, plain IAM grants of kms:*) have neither, and building the map (a dozen strings, the
        // principal's tags) was the largest part of authorization in the request path's profile.
        let ctx = if reads_context(key_policy) || policies.iter().any(reads_context) {
            self.key_request_context(caller, action, live, extra, key_policy, &policies, &*directory)?
        } else {
            RequestContext::new(&caller.principal_arn, action.as_str(), &live.arn)
        };
        let grants = self.matching_grants(caller, action, live, extra.1.as_ref());
        let decision = authorize(&KmsAuthzInput {
            ctx: &ctx,
            caller_account: caller.account.as_str(),
            caller_is_root: is_root,
            key_account: live.record.account.as_str(),
            key_policy,
            identity_policies: &policies,
            grant_allows: !grants.is_empty(),
        });
        match decision {
            KmsDecision::Allow => Ok(Authorized::ByPolicy),
            KmsDecision::AllowByGrant => Ok(Authorized::ByGrants(grants)),
            KmsDecision::Deny(reason) => Err(KmsError::AccessDenied(access_denied_message(
                &caller.principal_arn,
                action.as_str(),
                &live.arn,
                reason,
            ))),
        }
    }

    /// Every condition key of a key-addressed request.
    #[allow(clippy::too_many_arguments)]
    fn key_request_context(
        &self,
        caller: &Caller,
        action: Action,
        live: &LiveKey,
        extra: &Extra,
        key_policy: &Policy,
        policies: &[Policy],
        directory: &dyn PrincipalDirectory,
    ) -> Result<RequestContext, KmsError> {
        let mut ctx = self.request_context(caller, action.as_str(), &live.arn, directory)?;
        ctx.set("kms:CallerAccount", vec![caller.account.to_string()]);
        ctx.set("kms:KeySpec", vec![live.record.key_spec.to_string()]);
        ctx.set("kms:KeyUsage", vec![live.record.key_usage.to_string()]);
        ctx.set("kms:KeyOrigin", vec![live.record.origin.to_string()]);
        for (k, v) in &live.record.tags {
            ctx.set(&format!("aws:ResourceTag/{k}"), vec![v.clone()]);
        }
        if matches!(action, Action::CreateGrant | Action::ListGrants | Action::RevokeGrant) {
            // True only for grant calls an AWS service makes for the caller; Parameter Store, Trent's only
            // such service, makes none, so a policy requiring it denies direct grant calls, as in AWS.
            ctx.set("kms:GrantIsForAWSResource", vec![caller.via_service.is_some().to_string()]);
        }
        extra.apply(&mut ctx);
        // The key's aliases cost a store read: only when a policy that applies tests them.
        if tests_key(key_policy, RESOURCE_ALIASES) || policies.iter().any(|p| tests_key(p, RESOURCE_ALIASES)) {
            let aliases =
                self.store.list_aliases(&live.record.account, Some(&live.record.key_id), None, MAX_ALIASES_PER_KEY)?;
            ctx.set(RESOURCE_ALIASES, aliases.iter().map(|a| a.name.as_str().to_owned()).collect());
        }
        Ok(ctx)
    }

    /// The checks CreateKey and PutKeyPolicy make on a new key policy, unless the caller bypasses the lockout
    /// check: every AWS principal it names must exist, and the caller must still be allowed to call
    /// PutKeyPolicy under it (so nobody locks themselves out of a key by accident).
    pub(crate) fn check_new_key_policy(
        &self,
        caller: &Caller,
        policy_text: &str,
        key_arn: &str,
        key_account: &crate::ids::AccountId,
        bypass_lockout_check: bool,
    ) -> Result<(), KmsError> {
        let policy = crate::policy::parse_policy(policy_text, crate::policy::document::PolicyKind::Resource)
            .map_err(|e| KmsError::MalformedPolicyDocument(e.0))?;
        let directory = self.directory.get();
        for s in &policy.statements {
            for p in s.principal.iter().chain(s.not_principal.iter()).flat_map(|p| p.aws.iter()).filter(|p| *p != "*") {
                let arn = if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
                    format!("arn:aws:iam::{p}:root")
                } else {
                    p.clone()
                };
                if !directory.principal_exists(&arn)? {
                    return Err(KmsError::MalformedPolicyDocument(
                        "Policy contains a statement with one or more invalid principals.".into(),
                    ));
                }
            }
        }
        if bypass_lockout_check {
            return Ok(());
        }
        let is_root = is_account_root(caller);
        let ctx = self.request_context(caller, Action::PutKeyPolicy.as_str(), key_arn, &*directory)?;
        let policies =
            if is_root { Arc::new(Vec::new()) } else { directory.identity_policies(&caller.principal_arn)? };
        let decision = authorize(&KmsAuthzInput {
            ctx: &ctx,
            caller_account: caller.account.as_str(),
            caller_is_root: is_root,
            key_account: key_account.as_str(),
            key_policy: &policy,
            identity_policies: &policies,
            grant_allows: false,
        });
        match decision {
            KmsDecision::Allow | KmsDecision::AllowByGrant => Ok(()),
            KmsDecision::Deny(_) => Err(KmsError::MalformedPolicyDocument(
                "The new key policy will not allow you to update the key policy in the future.".into(),
            )),
        }
    }

    /// Authorization for another service's action on its own resource (Parameter Store's `ssm:GetParameter`
    /// on a parameter ARN): the caller's IAM policies decide; an account root may do everything in its account.
    pub fn authorize_iam(&self, caller: &Caller, action: &str, resource: &str) -> Result<(), KmsError> {
        if is_account_root(caller) {
            return Ok(());
        }
        let directory = self.directory.get();
        let ctx = self.request_context(caller, action, resource, &*directory)?;
        let reason = match evaluate(&directory.identity_policies(&caller.principal_arn)?, &ctx) {
            Decision::Allow => return Ok(()),
            Decision::ExplicitDeny => DenyReason::ExplicitDenyInIdentityPolicy,
            Decision::ImplicitDeny => DenyReason::NoIdentityPolicyAllows,
        };
        Err(KmsError::AccessDenied(access_denied_message(&caller.principal_arn, action, resource, reason)))
    }

    /// Actions on no key: the caller's IAM policies decide; an account root may do them all.
    pub(crate) fn authorize_account(&self, caller: &Caller, action: Action) -> Result<(), KmsError> {
        self.authorize_account_with(caller, action, &Extra::none())
    }

    pub(crate) fn authorize_account_with(
        &self,
        caller: &Caller,
        action: Action,
        extra: &Extra,
    ) -> Result<(), KmsError> {
        self.authorize_identity(caller, action, "*", extra)
    }

    /// Actions IAM policies alone decide, on `resource`: an alias ARN (aliases have no key policy), the
    /// retiring principal of ListRetirableGrants, or `*`. An account root may do them all in its account.
    pub(crate) fn authorize_identity(
        &self,
        caller: &Caller,
        action: Action,
        resource: &str,
        extra: &Extra,
    ) -> Result<(), KmsError> {
        if is_account_root(caller) {
            return Ok(());
        }
        let directory = self.directory.get();
        let mut ctx = self.request_context(caller, action.as_str(), resource, &*directory)?;
        extra.apply(&mut ctx);
        let reason = match evaluate(&directory.identity_policies(&caller.principal_arn)?, &ctx) {
            Decision::Allow => return Ok(()),
            Decision::ExplicitDeny => DenyReason::ExplicitDenyInIdentityPolicy,
            Decision::ImplicitDeny => DenyReason::NoIdentityPolicyAllows,
        };
        Err(KmsError::AccessDenied(access_denied_message(&caller.principal_arn, action.as_str(), resource, reason)))
    }

    /// The shared request context (`crate::authz::request_context`) of `caller` doing `action` on `resource`.
    fn request_context(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
        directory: &dyn PrincipalDirectory,
    ) -> Result<RequestContext, KmsError> {
        let tags = directory.principal_tags(&caller.principal_arn)?;
        Ok(crate::authz::request_context(caller, action, resource, self.clock.now(), &tags))
    }
}
