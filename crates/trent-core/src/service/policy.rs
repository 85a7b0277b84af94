//! Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. Policies are stored and returned; evaluating them
//! is the access issue's work.

use super::{Caller, Kms};
use crate::ids::{AccountId, KeyRef};
use crate::KmsError;

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

/// Structural checks until policies are evaluated: JSON object with a Statement, under the size quota.
pub(super) fn validate_policy(policy: &str) -> Result<(), KmsError> {
    if policy.len() > MAX_POLICY_BYTES {
        return Err(KmsError::LimitExceeded(format!(
            "Policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
        )));
    }
    let doc: serde_json::Value = serde_json::from_str(policy)
        // AWS sends an empty message for a policy that is not JSON.
        .map_err(|_| KmsError::MalformedPolicyDocument(String::new()))
        .and_then(|v: serde_json::Value| if v.is_object() { Ok(v) } else {
            Err(KmsError::MalformedPolicyDocument("Policy document must be a JSON object.".into()))
        })?;
    match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) if !a.is_empty() => Ok(()),
        Some(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(KmsError::MalformedPolicyDocument("Policy document must contain a Statement.".into())),
    }
}

fn check_policy_name(name: Option<&str>) -> Result<(), KmsError> {
    match name {
        None | Some(DEFAULT_POLICY_NAME) => Ok(()),
        Some(_) => Err(KmsError::NotFound("No such policy exists".into())),
    }
}

impl Kms {
    pub fn get_key_policy(&self, caller: &Caller, key: &KeyRef, raw: &str, name: Option<&str>) -> Result<String, KmsError> {
        check_policy_name(name)?;
        let live = self.resolve_key_only(caller, key, raw)?;
        Ok(live.record.policy.clone())
    }

    pub fn put_key_policy(
        &self,
        caller: &Caller,
        key: &KeyRef,
        raw: &str,
        name: Option<&str>,
        policy: String,
    ) -> Result<(), KmsError> {
        check_policy_name(name)?;
        validate_policy(&policy)?;
        let live = self.resolve_key_only(caller, key, raw)?;
        // Allowed in every key state, pending deletion included (the key-state table).
        self.update_key(&live, |r| {
            r.policy = policy.clone();
            Ok(())
        })?;
        Ok(())
    }

    pub fn list_key_policies(&self, caller: &Caller, key: &KeyRef, raw: &str) -> Result<Vec<String>, KmsError> {
        self.resolve_key_only(caller, key, raw)?;
        Ok(vec![DEFAULT_POLICY_NAME.to_owned()])
    }
}
