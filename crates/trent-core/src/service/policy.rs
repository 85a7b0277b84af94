//! Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. Policies are stored and returned; evaluating them
//! is the access issue's work.

use super::{Action, Caller, Kms};
use crate::KmsError;
use crate::ids::{AccountId, KeyRef};
use crate::policy::document::{PolicyKind, parse_policy};

/// The only policy name a KMS key has.
pub(super) const DEFAULT_POLICY_NAME: &str = "default";
/// AWS's key policy size quota: 32 KB.
const MAX_POLICY_BYTES: usize = 32 * 1024;

/// The policy AWS attaches when CreateKey has none: the account root may do everything, which lets IAM
/// policies grant access. Formatted as AWS returns it.
pub fn default_key_policy(account: &AccountId) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}

/// Parses the policy as the policy engine will read it: every statement well-formed and naming a principal.
/// Evaluation is wired in with the access-control work; the document is validated now so that a policy
/// accepted today is one the engine understands tomorrow.
pub(super) fn validate_policy(policy: &str) -> Result<(), KmsError> {
    if policy.len() > MAX_POLICY_BYTES {
        return Err(KmsError::LimitExceeded(format!("Policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes.")));
    }
    if serde_json::from_str::<serde_json::Value>(policy).is_err() {
        // AWS sends an empty message for a policy that is not JSON.
        return Err(KmsError::MalformedPolicyDocument(String::new()));
    }
    parse_policy(policy, PolicyKind::Resource).map(|_| ()).map_err(|e| KmsError::MalformedPolicyDocument(e.0))
}

fn check_policy_name(name: Option<&str>) -> Result<(), KmsError> {
    match name {
        None | Some(DEFAULT_POLICY_NAME) => Ok(()),
        Some(_) => Err(KmsError::NotFound("No such policy exists".into())),
    }
}

impl Kms {
    pub fn get_key_policy(&self, caller: &Caller, key: &KeyRef, name: Option<&str>) -> Result<String, KmsError> {
        check_policy_name(name)?;
        let live = self.resolve_direct(caller, key, Action::GetKeyPolicy)?;
        Ok(live.record.policy.clone())
    }

    pub fn put_key_policy(
        &self,
        caller: &Caller,
        key: &KeyRef,
        name: Option<&str>,
        policy: String,
        bypass_lockout_check: bool,
    ) -> Result<(), KmsError> {
        check_policy_name(name)?;
        validate_policy(&policy)?;
        let extra =
            super::Extra::none().with("kms:BypassPolicyLockoutSafetyCheck", vec![bypass_lockout_check.to_string()]);
        let live = self.resolve_direct_with(caller, key, Action::PutKeyPolicy, &extra)?;
        self.refuse_aws_managed(caller, &live, "PutKeyPolicy")?;
        self.check_new_key_policy(caller, &policy, &live.arn, &live.record.account, bypass_lockout_check)?;
        // Allowed in every key state, pending deletion included (the key-state table).
        self.update_key(&live, |r| {
            r.policy = policy.clone();
            Ok(())
        })?;
        Ok(())
    }

    pub fn list_key_policies(&self, caller: &Caller, key: &KeyRef) -> Result<Vec<String>, KmsError> {
        self.resolve_direct(caller, key, Action::ListKeyPolicies)?;
        Ok(vec![DEFAULT_POLICY_NAME.to_owned()])
    }
}
