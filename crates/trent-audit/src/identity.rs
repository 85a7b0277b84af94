//! CloudTrail's `userIdentity`: who made a call, in the shapes the CloudTrail guide's "userIdentity element"
//! documents for each kind of principal.

use std::time::SystemTime;

use serde::Serialize;

use crate::event::format_time;

/// Who made the call, in CloudTrail's shape (the CloudTrail guide's "userIdentity element"). `type` is `Root`,
/// `IAMUser`, `AssumedRole`, `AWSAccount` (a caller of another account, in the resource owner's copy of the
/// event), `AWSService`, or `Unknown` when the request was not authenticated.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// An IAM user's name (and a root's account alias, which Trent does not have).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Temporary credentials: who issued the session and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_context: Option<SessionContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    pub session_issuer: SessionIssuer,
    pub attributes: SessionAttributes,
}

/// The role an assumed-role session was issued for.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    /// `Role`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The role's unique id (`AROA...`).
    pub principal_id: String,
    /// The role's ARN, with its path.
    pub arn: String,
    pub account_id: String,
    /// The role's name.
    pub user_name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    /// When the credentials were issued (`YYYY-MM-DDTHH:MM:SSZ`).
    pub creation_date: String,
    /// `"false"`: Trent has no MFA. CloudTrail writes it as a string.
    pub mfa_authenticated: String,
}

impl UserIdentity {
    pub fn unknown() -> Self {
        Self {
            kind: "Unknown".into(),
            principal_id: None,
            arn: None,
            account_id: None,
            access_key_id: None,
            user_name: None,
            session_context: None,
            invoked_by: None,
        }
    }

    pub(crate) fn service(source: &str) -> Self {
        Self { kind: "AWSService".into(), invoked_by: Some(source.to_owned()), ..Self::unknown() }
    }

    /// An account's root: its principal id is the account id.
    pub fn root(account_id: &str, access_key_id: Option<&str>) -> Self {
        Self {
            kind: "Root".into(),
            principal_id: Some(account_id.to_owned()),
            arn: Some(format!("arn:aws:iam::{account_id}:root")),
            account_id: Some(account_id.to_owned()),
            access_key_id: access_key_id.map(str::to_owned),
            ..Self::unknown()
        }
    }

    /// An IAM user: principal id `AIDA...`, and its name.
    pub fn iam_user(account_id: &str, arn: &str, user_id: &str, access_key_id: Option<&str>) -> Self {
        Self {
            kind: "IAMUser".into(),
            principal_id: Some(user_id.to_owned()),
            arn: Some(arn.to_owned()),
            account_id: Some(account_id.to_owned()),
            access_key_id: access_key_id.map(str::to_owned),
            user_name: Some(arn.rsplit('/').next().unwrap_or(arn).to_owned()),
            ..Self::unknown()
        }
    }

    /// An assumed-role session (`arn` is its `assumed-role/<role>/<session>` ARN): principal id
    /// `AROA...:<session>`, and the issuing role in `sessionContext`.
    pub fn assumed_role(
        account_id: &str,
        arn: &str,
        access_key_id: Option<&str>,
        role_id: &str,
        role_arn: &str,
        issued: SystemTime,
    ) -> Self {
        let mut parts = arn.rsplit('/');
        let session = parts.next().unwrap_or_default();
        let role_name = parts.next().unwrap_or_default();
        Self {
            kind: "AssumedRole".into(),
            principal_id: Some(format!("{role_id}:{session}")),
            arn: Some(arn.to_owned()),
            account_id: Some(account_id.to_owned()),
            access_key_id: access_key_id.map(str::to_owned),
            session_context: Some(SessionContext {
                session_issuer: SessionIssuer {
                    kind: "Role".into(),
                    principal_id: role_id.to_owned(),
                    arn: role_arn.to_owned(),
                    account_id: account_id.to_owned(),
                    user_name: role_name.to_owned(),
                },
                attributes: SessionAttributes { creation_date: format_time(issued), mfa_authenticated: "false".into() },
            }),
            ..Self::unknown()
        }
    }

    /// The caller as the owner of a resource in another account sees it: type `AWSAccount`, with only the
    /// caller's principal id and account (as CloudTrail delivers a cross-account call to the resource owner).
    pub fn other_account(&self) -> Self {
        Self {
            kind: "AWSAccount".into(),
            principal_id: self.principal_id.clone(),
            account_id: self.account_id.clone(),
            invoked_by: self.invoked_by.clone(),
            ..Self::unknown()
        }
    }

    /// A principal known only by its ARN (no unique id at hand): `Root` for `arn:aws:iam::<account>:root`,
    /// else an `IAMUser` whose principal id is its name.
    pub fn principal(account_id: &str, arn: &str, access_key_id: Option<&str>) -> Self {
        if arn.ends_with(":root") {
            return Self::root(account_id, access_key_id);
        }
        let name = arn.rsplit('/').next().unwrap_or(arn);
        Self::iam_user(account_id, arn, name, access_key_id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn identity_json(u: &UserIdentity) -> serde_json::Value {
        serde_json::to_value(u).unwrap()
    }

    /// Field by field as the CloudTrail guide's "userIdentity element" examples.
    #[test]
    fn user_identities_have_cloudtrail_shapes() {
        let acct = "111122223333";
        assert_eq!(
            identity_json(&UserIdentity::root(acct, Some("AKIAROOT"))),
            serde_json::json!({"type": "Root", "principalId": acct, "arn": "arn:aws:iam::111122223333:root",
                "accountId": acct, "accessKeyId": "AKIAROOT"})
        );
        let alice = "arn:aws:iam::111122223333:user/eng/Alice";
        assert_eq!(
            identity_json(&UserIdentity::iam_user(acct, alice, "AIDAJ45Q7YFFAREXAMPLE", Some("AKIAALICE"))),
            serde_json::json!({"type": "IAMUser", "principalId": "AIDAJ45Q7YFFAREXAMPLE", "arn": alice,
                "accountId": acct, "accessKeyId": "AKIAALICE", "userName": "Alice"})
        );
        let session = "arn:aws:sts::111122223333:assumed-role/RoleToBeAssumed/MySessionName";
        let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(1_383_354_388);
        let role_arn = "arn:aws:iam::111122223333:role/ops/RoleToBeAssumed";
        let assumed =
            UserIdentity::assumed_role(acct, session, Some("ASIAX"), "AROAIDPPEZS35WEXAMPLE", role_arn, issued);
        assert_eq!(
            identity_json(&assumed),
            serde_json::json!({"type": "AssumedRole", "principalId": "AROAIDPPEZS35WEXAMPLE:MySessionName",
                "arn": session, "accountId": acct, "accessKeyId": "ASIAX",
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": "AROAIDPPEZS35WEXAMPLE", "arn": role_arn,
                        "accountId": acct, "userName": "RoleToBeAssumed"},
                    "attributes": {"creationDate": "2013-11-02T01:06:28Z", "mfaAuthenticated": "false"}}})
        );
        // The key owner's copy of another account's call.
        assert_eq!(
            identity_json(&assumed.other_account()),
            serde_json::json!({"type": "AWSAccount", "principalId": "AROAIDPPEZS35WEXAMPLE:MySessionName",
                "accountId": acct})
        );
    }
}
