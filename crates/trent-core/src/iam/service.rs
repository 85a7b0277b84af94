//! One method per IAM and STS operation. Every IAM operation acts in the caller's own account and is
//! authorized first: an account's root may do anything in its account; users and role sessions need an
//! identity policy allowing `iam:<Action>` on the resource, as in AWS.

use std::collections::BTreeMap;
use std::sync::Arc;

use trent_crypto::SecretBytes;

use super::store::{RoleRecord, UserRecord};
use super::{
    DEFAULT_SESSION_SECS, IamError, MAX_ACCESS_KEYS_PER_USER, MAX_ROLE_SESSION_SECS, MIN_SESSION_SECS, PrincipalRef,
    assumed_role_arn, constraint_error, new_id, role_arn, user_arn, validate_name, validate_path, validate_tags,
};
use crate::identity::{Identities, PrincipalIdentity, SessionCredentials};
use crate::ids::AccountId;
use crate::model::AccessKeyRecord;
use crate::policy::document::PolicyKind;
use crate::policy::eval::{ResourceDecision, evaluate_resource};
use crate::policy::{Decision, evaluate, parse_policy};
use crate::service::Caller;

/// GetCallerIdentity's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: AccountId,
    pub arn: String,
    /// Account id for root, `AIDA...` for a user, `AROA...:<session>` for an assumed role.
    pub user_id: String,
}

/// AssumeRole's answer.
pub struct AssumedRole {
    pub credentials: SessionCredentials,
    pub arn: String,
    /// `AROA...:<session>`.
    pub assumed_role_id: String,
}

/// The IAM and STS operations.
pub struct Iam {
    ids: Arc<Identities>,
}

fn no_such_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

fn check_max_session(max: u32) -> Result<(), IamError> {
    if !(DEFAULT_SESSION_SECS..=MAX_ROLE_SESSION_SECS).contains(&max) {
        return Err(constraint_error(
            "maxSessionDuration",
            &max.to_string(),
            "Member must have value less than or equal to 43200 and greater than or equal to 3600",
        ));
    }
    Ok(())
}

fn no_such_role_policy(policy: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role policy with name {policy} cannot be found."))
}

/// UntagUser/UntagRole: 1 to 50 keys, each 1 to 128 characters.
fn validate_tag_keys(keys: &[String]) -> Result<(), IamError> {
    if keys.is_empty() || keys.len() > 50 {
        return Err(constraint_error(
            "tagKeys",
            &format!("{keys:?}"),
            "Member must have length less than or equal to 50 and greater than or equal to 1",
        ));
    }
    if let Some(k) = keys.iter().find(|k| k.is_empty() || k.chars().count() > 128) {
        return Err(constraint_error(
            "tagKeys",
            k,
            "Member must have length less than or equal to 128 and greater than or equal to 1",
        ));
    }
    Ok(())
}

fn no_such_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

fn malformed(e: impl std::fmt::Display) -> IamError {
    IamError::MalformedPolicyDocument(e.to_string())
}

/// AWS's denial text for identity-based checks.
fn denied(caller: &Caller, action: &str, resource: &str) -> IamError {
    IamError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} because no identity-based policy \
         allows the {action} action",
        caller.principal_arn
    ))
}

impl Iam {
    pub fn new(ids: Arc<Identities>) -> Self {
        Self { ids }
    }

    fn is_root(caller: &Caller) -> bool {
        crate::authz::is_account_root(caller)
    }

    /// The caller's identity policies must allow `action` on `resource`, unless the caller is its account's root.
    fn authorize(&self, caller: &Caller, action: &str, resource: &str) -> Result<(), IamError> {
        // The same context as every other service's (source IP, TLS, principal tags...), so a conditional Deny
        // stops IAM calls exactly as it stops KMS calls.
        let ctx = self.ids.request_context(caller, action, resource)?;
        match self.ids.identity_decision(caller, &ctx)? {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny => Err(IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} with an explicit deny in an \
                 identity-based policy",
                caller.principal_arn
            ))),
            Decision::ImplicitDeny => Err(denied(caller, action, resource)),
        }
    }

    fn existing_user(&self, account: &AccountId, name: &str) -> Result<UserRecord, IamError> {
        self.ids.iam_store().user(account, name)?.ok_or_else(|| no_such_user(name))
    }

    fn existing_role(&self, account: &AccountId, name: &str) -> Result<RoleRecord, IamError> {
        self.ids.iam_store().role(account, name)?.ok_or_else(|| no_such_role(name))
    }

    /// Authorizes `action` on an existing user and applies `f` to it atomically.
    fn change_user(
        &self,
        caller: &Caller,
        action: &str,
        name: &str,
        f: &mut dyn FnMut(&mut UserRecord) -> Result<(), IamError>,
    ) -> Result<UserRecord, IamError> {
        validate_name("userName", name, 64)?;
        let current = self.existing_user(&caller.account, name)?;
        self.authorize(caller, action, &current.arn)?;
        let updated = self.ids.iam_store().update_user(&caller.account, name, &mut |rec| match rec {
            Some(u) => f(u),
            None => Err(no_such_user(name)),
        })?;
        self.ids.user_changed(&caller.account, name);
        updated.ok_or_else(|| no_such_user(name))
    }

    fn change_role(
        &self,
        caller: &Caller,
        action: &str,
        name: &str,
        f: &mut dyn FnMut(&mut RoleRecord) -> Result<(), IamError>,
    ) -> Result<RoleRecord, IamError> {
        validate_name("roleName", name, 64)?;
        let current = self.existing_role(&caller.account, name)?;
        self.authorize(caller, action, &current.arn)?;
        let updated = self.ids.iam_store().update_role(&caller.account, name, &mut |rec| match rec {
            Some(r) => f(r),
            None => Err(no_such_role(name)),
        })?;
        self.ids.role_changed(&caller.account, name);
        updated.ok_or_else(|| no_such_role(name))
    }

    /// The user an operation names, or the calling user when `UserName` is omitted (AWS's rule).
    fn target_user<'a>(caller: &'a Caller, name: Option<&'a str>) -> Result<&'a str, IamError> {
        if let Some(n) = name {
            return Ok(n);
        }
        match PrincipalRef::parse(&caller.principal_arn) {
            Some(PrincipalRef::User(_, _)) => Ok(caller.principal_arn.rsplit('/').next().unwrap_or_default()),
            _ => Err(IamError::Validation("Must specify userName when calling with non-User credentials".into())),
        }
    }

    // --- users -----------------------------------------------------------------------------------------

    pub fn create_user(
        &self,
        caller: &Caller,
        name: &str,
        path: Option<&str>,
        tags: Vec<(String, String)>,
    ) -> Result<UserRecord, IamError> {
        validate_name("userName", name, 64)?;
        let path = path.unwrap_or("/");
        validate_path(path)?;
        validate_tags(&BTreeMap::new(), &tags)?;
        let arn = user_arn(&caller.account, path, name);
        self.authorize(caller, "iam:CreateUser", &arn)?;
        let record = UserRecord {
            account: caller.account.clone(),
            name: name.to_owned(),
            path: path.to_owned(),
            id: new_id("AIDA")?,
            arn,
            created: self.ids.now(),
            tags: tags.into_iter().collect(),
            policies: BTreeMap::new(),
            access_keys: Vec::new(),
        };
        self.ids.iam_store().update_user(&caller.account, name, &mut |rec| {
            if rec.is_some() {
                return Err(IamError::EntityAlreadyExists(format!("User with name {name} already exists.")));
            }
            *rec = Some(record.clone());
            Ok(())
        })?;
        self.ids.user_changed(&caller.account, name);
        Ok(record)
    }

    pub fn get_user(&self, caller: &Caller, name: Option<&str>) -> Result<UserRecord, IamError> {
        let name = Self::target_user(caller, name)?;
        validate_name("userName", name, 64)?;
        let user = self.existing_user(&caller.account, name)?;
        self.authorize(caller, "iam:GetUser", &user.arn)?;
        Ok(user)
    }

    pub fn list_users(&self, caller: &Caller, path_prefix: Option<&str>) -> Result<Vec<UserRecord>, IamError> {
        let prefix = path_prefix.unwrap_or("/");
        self.authorize(caller, "iam:ListUsers", &format!("arn:aws:iam::{}:user{prefix}*", caller.account))?;
        self.ids.iam_store().list_users(&caller.account, prefix)
    }

    pub fn delete_user(&self, caller: &Caller, name: &str) -> Result<(), IamError> {
        validate_name("userName", name, 64)?;
        let user = self.existing_user(&caller.account, name)?;
        self.authorize(caller, "iam:DeleteUser", &user.arn)?;
        self.ids.iam_store().update_user(&caller.account, name, &mut |rec| {
            let Some(u) = rec else { return Err(no_such_user(name)) };
            if !u.access_keys.is_empty() {
                return Err(IamError::DeleteConflict("Cannot delete entity, must delete access keys first.".into()));
            }
            if !u.policies.is_empty() {
                return Err(IamError::DeleteConflict("Cannot delete entity, must delete policies first.".into()));
            }
            *rec = None;
            Ok(())
        })?;
        self.ids.user_changed(&caller.account, name);
        Ok(())
    }

    pub fn tag_user(&self, caller: &Caller, name: &str, tags: Vec<(String, String)>) -> Result<(), IamError> {
        self.change_user(caller, "iam:TagUser", name, &mut |u| {
            validate_tags(&u.tags, &tags)?;
            u.tags.extend(tags.iter().cloned());
            Ok(())
        })
        .map(drop)
    }

    pub fn list_user_tags(&self, caller: &Caller, name: &str) -> Result<super::Tags, IamError> {
        validate_name("userName", name, 64)?;
        let user = self.existing_user(&caller.account, name)?;
        self.authorize(caller, "iam:ListUserTags", &user.arn)?;
        Ok(user.tags)
    }

    pub fn untag_user(&self, caller: &Caller, name: &str, keys: &[String]) -> Result<(), IamError> {
        validate_tag_keys(keys)?;
        self.change_user(caller, "iam:UntagUser", name, &mut |u| {
            u.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
        .map(drop)
    }

    // --- access keys -----------------------------------------------------------------------------------

    /// A new access key for the user (the caller when `user` is omitted). Returns the user name, the record and
    /// the secret, which is never readable again.
    pub fn create_access_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
    ) -> Result<(String, AccessKeyRecord, SecretBytes), IamError> {
        let name = Self::target_user(caller, user)?;
        let current = self.existing_user(&caller.account, name)?;
        let (record, secret) = self.ids.new_user_access_key(&caller.account, &current.arn)?;
        let user = self.change_user(caller, "iam:CreateAccessKey", name, &mut |u| {
            if u.access_keys.len() >= MAX_ACCESS_KEYS_PER_USER {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
                )));
            }
            u.access_keys.push(record.clone());
            Ok(())
        })?;
        Ok((user.name, record, secret))
    }

    pub fn list_access_keys(
        &self,
        caller: &Caller,
        user: Option<&str>,
    ) -> Result<(String, Vec<AccessKeyRecord>), IamError> {
        let name = Self::target_user(caller, user)?;
        validate_name("userName", name, 64)?;
        let u = self.existing_user(&caller.account, name)?;
        self.authorize(caller, "iam:ListAccessKeys", &u.arn)?;
        Ok((u.name, u.access_keys))
    }

    pub fn delete_access_key(&self, caller: &Caller, user: Option<&str>, key_id: &str) -> Result<(), IamError> {
        let name = Self::target_user(caller, user)?;
        self.change_user(caller, "iam:DeleteAccessKey", name, &mut |u| {
            let before = u.access_keys.len();
            u.access_keys.retain(|k| k.access_key_id != key_id);
            if u.access_keys.len() == before {
                return Err(no_such_key(key_id));
            }
            Ok(())
        })?;
        self.ids.access_key_changed(key_id);
        Ok(())
    }

    pub fn update_access_key(
        &self,
        caller: &Caller,
        user: Option<&str>,
        key_id: &str,
        active: bool,
    ) -> Result<(), IamError> {
        let name = Self::target_user(caller, user)?;
        self.change_user(caller, "iam:UpdateAccessKey", name, &mut |u| {
            let k = u.access_keys.iter_mut().find(|k| k.access_key_id == key_id).ok_or_else(|| no_such_key(key_id))?;
            k.active = active;
            Ok(())
        })?;
        self.ids.access_key_changed(key_id);
        Ok(())
    }

    // --- user policies ---------------------------------------------------------------------------------

    pub fn put_user_policy(&self, caller: &Caller, user: &str, policy: &str, document: &str) -> Result<(), IamError> {
        validate_name("policyName", policy, 128)?;
        parse_policy(document, PolicyKind::Identity).map_err(malformed)?;
        self.change_user(caller, "iam:PutUserPolicy", user, &mut |u| {
            u.policies.insert(policy.to_owned(), document.to_owned());
            Ok(())
        })
        .map(drop)
    }

    /// The document exactly as it was put.
    pub fn get_user_policy(&self, caller: &Caller, user: &str, policy: &str) -> Result<(String, String), IamError> {
        validate_name("userName", user, 64)?;
        validate_name("policyName", policy, 128)?;
        let u = self.existing_user(&caller.account, user)?;
        self.authorize(caller, "iam:GetUserPolicy", &u.arn)?;
        let doc = u.policies.get(policy).cloned().ok_or_else(|| no_such_user_policy(policy))?;
        Ok((u.name, doc))
    }

    pub fn list_user_policies(&self, caller: &Caller, user: &str) -> Result<Vec<String>, IamError> {
        validate_name("userName", user, 64)?;
        let u = self.existing_user(&caller.account, user)?;
        self.authorize(caller, "iam:ListUserPolicies", &u.arn)?;
        Ok(u.policies.into_keys().collect())
    }

    pub fn delete_user_policy(&self, caller: &Caller, user: &str, policy: &str) -> Result<(), IamError> {
        validate_name("policyName", policy, 128)?;
        self.change_user(caller, "iam:DeleteUserPolicy", user, &mut |u| {
            u.policies.remove(policy).map(drop).ok_or_else(|| no_such_user_policy(policy))
        })
        .map(drop)
    }

    // --- roles -----------------------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub fn create_role(
        &self,
        caller: &Caller,
        name: &str,
        path: Option<&str>,
        trust_policy: &str,
        description: Option<&str>,
        max_session_secs: Option<u32>,
        tags: Vec<(String, String)>,
    ) -> Result<RoleRecord, IamError> {
        validate_name("roleName", name, 64)?;
        let path = path.unwrap_or("/");
        validate_path(path)?;
        validate_tags(&BTreeMap::new(), &tags)?;
        let max = max_session_secs.unwrap_or(DEFAULT_SESSION_SECS);
        check_max_session(max)?;
        parse_policy(trust_policy, PolicyKind::Resource).map_err(malformed)?;
        let arn = role_arn(&caller.account, path, name);
        self.authorize(caller, "iam:CreateRole", &arn)?;
        let record = RoleRecord {
            account: caller.account.clone(),
            name: name.to_owned(),
            path: path.to_owned(),
            id: new_id("AROA")?,
            arn,
            created: self.ids.now(),
            description: description.map(str::to_owned),
            max_session_secs: max,
            trust_policy: trust_policy.to_owned(),
            tags: tags.into_iter().collect(),
            policies: BTreeMap::new(),
        };
        self.ids.iam_store().update_role(&caller.account, name, &mut |rec| {
            if rec.is_some() {
                return Err(IamError::EntityAlreadyExists(format!("Role with name {name} already exists.")));
            }
            *rec = Some(record.clone());
            Ok(())
        })?;
        self.ids.role_changed(&caller.account, name);
        Ok(record)
    }

    pub fn get_role(&self, caller: &Caller, name: &str) -> Result<RoleRecord, IamError> {
        validate_name("roleName", name, 64)?;
        let role = self.existing_role(&caller.account, name)?;
        self.authorize(caller, "iam:GetRole", &role.arn)?;
        Ok(role)
    }

    pub fn list_roles(&self, caller: &Caller, path_prefix: Option<&str>) -> Result<Vec<RoleRecord>, IamError> {
        let prefix = path_prefix.unwrap_or("/");
        self.authorize(caller, "iam:ListRoles", &format!("arn:aws:iam::{}:role{prefix}*", caller.account))?;
        self.ids.iam_store().list_roles(&caller.account, prefix)
    }

    pub fn delete_role(&self, caller: &Caller, name: &str) -> Result<(), IamError> {
        validate_name("roleName", name, 64)?;
        let role = self.existing_role(&caller.account, name)?;
        self.authorize(caller, "iam:DeleteRole", &role.arn)?;
        self.ids.iam_store().update_role(&caller.account, name, &mut |rec| {
            let Some(r) = rec else { return Err(no_such_role(name)) };
            if !r.policies.is_empty() {
                return Err(IamError::DeleteConflict("Cannot delete entity, must delete policies first.".into()));
            }
            *rec = None;
            Ok(())
        })?;
        self.ids.role_changed(&caller.account, name);
        Ok(())
    }

    pub fn put_role_policy(&self, caller: &Caller, role: &str, policy: &str, document: &str) -> Result<(), IamError> {
        validate_name("policyName", policy, 128)?;
        parse_policy(document, PolicyKind::Identity).map_err(malformed)?;
        self.change_role(caller, "iam:PutRolePolicy", role, &mut |r| {
            r.policies.insert(policy.to_owned(), document.to_owned());
            Ok(())
        })
        .map(drop)
    }

    /// The document exactly as it was put.
    pub fn get_role_policy(&self, caller: &Caller, role: &str, policy: &str) -> Result<(String, String), IamError> {
        validate_name("roleName", role, 64)?;
        validate_name("policyName", policy, 128)?;
        let r = self.existing_role(&caller.account, role)?;
        self.authorize(caller, "iam:GetRolePolicy", &r.arn)?;
        let doc = r.policies.get(policy).cloned().ok_or_else(|| no_such_role_policy(policy))?;
        Ok((r.name, doc))
    }

    pub fn list_role_policies(&self, caller: &Caller, role: &str) -> Result<Vec<String>, IamError> {
        validate_name("roleName", role, 64)?;
        let r = self.existing_role(&caller.account, role)?;
        self.authorize(caller, "iam:ListRolePolicies", &r.arn)?;
        Ok(r.policies.into_keys().collect())
    }

    pub fn delete_role_policy(&self, caller: &Caller, role: &str, policy: &str) -> Result<(), IamError> {
        validate_name("policyName", policy, 128)?;
        self.change_role(caller, "iam:DeleteRolePolicy", role, &mut |r| {
            r.policies.remove(policy).map(drop).ok_or_else(|| no_such_role_policy(policy))
        })
        .map(drop)
    }

    pub fn tag_role(&self, caller: &Caller, name: &str, tags: Vec<(String, String)>) -> Result<(), IamError> {
        self.change_role(caller, "iam:TagRole", name, &mut |r| {
            validate_tags(&r.tags, &tags)?;
            r.tags.extend(tags.iter().cloned());
            Ok(())
        })
        .map(drop)
    }

    pub fn list_role_tags(&self, caller: &Caller, name: &str) -> Result<super::Tags, IamError> {
        validate_name("roleName", name, 64)?;
        let role = self.existing_role(&caller.account, name)?;
        self.authorize(caller, "iam:ListRoleTags", &role.arn)?;
        Ok(role.tags)
    }

    /// Description and maximum session duration; what is not given stays as it is.
    pub fn update_role(
        &self,
        caller: &Caller,
        name: &str,
        description: Option<&str>,
        max_session_secs: Option<u32>,
    ) -> Result<(), IamError> {
        if let Some(max) = max_session_secs {
            check_max_session(max)?;
        }
        self.change_role(caller, "iam:UpdateRole", name, &mut |r| {
            if let Some(d) = description {
                r.description = Some(d.to_owned());
            }
            if let Some(max) = max_session_secs {
                r.max_session_secs = max;
            }
            Ok(())
        })
        .map(drop)
    }

    /// A new trust policy; sessions already issued stay valid until they expire, as in AWS.
    pub fn update_assume_role_policy(&self, caller: &Caller, name: &str, document: &str) -> Result<(), IamError> {
        parse_policy(document, PolicyKind::Resource).map_err(malformed)?;
        self.change_role(caller, "iam:UpdateAssumeRolePolicy", name, &mut |r| {
            r.trust_policy = document.to_owned();
            Ok(())
        })
        .map(drop)
    }

    pub fn untag_role(&self, caller: &Caller, name: &str, keys: &[String]) -> Result<(), IamError> {
        validate_tag_keys(keys)?;
        self.change_role(caller, "iam:UntagRole", name, &mut |r| {
            r.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
        .map(drop)
    }

    // --- STS -------------------------------------------------------------------------------------------

    /// Needs no permission, as in AWS.
    pub fn get_caller_identity(&self, caller: &Caller) -> Result<CallerIdentity, IamError> {
        // As authenticated: a session shows the id of the role it was issued for.
        let known = match (caller.identity.as_deref(), PrincipalRef::parse(&caller.principal_arn)) {
            (Some(PrincipalIdentity::Root), _) => Some(caller.account.to_string()),
            (Some(PrincipalIdentity::User { user_id }), _) => Some(user_id.clone()),
            (Some(PrincipalIdentity::Session { role_id, .. }), Some(PrincipalRef::Session(_, _, session))) => {
                Some(format!("{role_id}:{session}"))
            }
            _ => None,
        };
        if let Some(user_id) = known {
            return Ok(CallerIdentity { account: caller.account.clone(), arn: caller.principal_arn.clone(), user_id });
        }
        let user_id = match PrincipalRef::parse(&caller.principal_arn) {
            Some(PrincipalRef::User(a, n)) => self.ids.iam_store().user(&a, &n)?.map(|u| u.id),
            Some(PrincipalRef::Session(a, role, session)) => {
                self.ids.iam_store().role(&a, &role)?.map(|r| format!("{}:{session}", r.id))
            }
            _ => None,
        }
        .unwrap_or_else(|| caller.account.to_string());
        Ok(CallerIdentity { account: caller.account.clone(), arn: caller.principal_arn.clone(), user_id })
    }

    /// Temporary credentials for `role_arn`: its trust policy must allow the caller (`sts:AssumeRole`), and
    /// unless the caller is an account root, the caller's identity policies must allow it too.
    pub fn assume_role(
        &self,
        caller: &Caller,
        role_arn: &str,
        session_name: &str,
        duration_secs: Option<u32>,
    ) -> Result<AssumedRole, IamError> {
        if session_name.len() < 2 || session_name.len() > 64 || !session_name.chars().all(super::is_name_char) {
            return Err(constraint_error(
                "roleSessionName",
                session_name,
                "Member must satisfy regular expression pattern: [\\w+=,.@-]*",
            ));
        }
        if role_arn.len() < 20 || role_arn.len() > 2048 {
            return Err(constraint_error("roleArn", role_arn, "Member must have length greater than or equal to 20"));
        }
        let duration = duration_secs.unwrap_or(DEFAULT_SESSION_SECS);
        if duration < MIN_SESSION_SECS {
            return Err(constraint_error(
                "durationSeconds",
                &duration.to_string(),
                "Member must have value greater than or equal to 900",
            ));
        }
        let action = "sts:AssumeRole";
        // A role that does not exist is denied like one that does not trust the caller: AWS does not reveal it.
        let Some(PrincipalRef::Role(account, name)) = PrincipalRef::parse(role_arn) else {
            return Err(IamError::Validation(format!("{role_arn} is not a valid role ARN")));
        };
        let role = self.ids.iam_store().role(&account, &name)?.filter(|r| r.arn == role_arn);
        let Some(role) = role else { return Err(denied_assume(caller, role_arn)) };
        if duration > role.max_session_secs {
            return Err(IamError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
            ));
        }
        let trust = parse_policy(&role.trust_policy, PolicyKind::Resource)
            .map_err(|e| IamError::internal(format!("stored trust policy of {role_arn}: {e}")))?;
        let mut ctx = self.ids.request_context(caller, action, role_arn)?;
        ctx.set("sts:RoleSessionName", vec![session_name.to_owned()]);
        let trusted = evaluate_resource(&trust, &ctx, caller.account.as_str());
        let allowed = match trusted {
            ResourceDecision::Deny | ResourceDecision::NoMatch => false,
            // An account root has every permission its account grants; no identity policy to consult.
            ResourceDecision::AllowPrincipal | ResourceDecision::AllowAccount if Self::is_root(caller) => true,
            ResourceDecision::AllowPrincipal | ResourceDecision::AllowAccount => {
                // Trust is necessary but not sufficient: the caller's own policies must allow sts:AssumeRole on
                // the role too (always needed across accounts; required here for same-account trust as well).
                let policies = self.ids.identity_policies(&caller.principal_arn)?;
                evaluate(&policies, &ctx) == Decision::Allow
            }
        };
        if !allowed {
            return Err(denied_assume(caller, role_arn));
        }
        let arn = assumed_role_arn(&account, &role.name, session_name);
        let credentials = self.ids.issue_session(&role, &arn, duration)?;
        Ok(AssumedRole { credentials, arn, assumed_role_id: format!("{}:{session_name}", role.id) })
    }
}

fn denied_assume(caller: &Caller, role_arn: &str) -> IamError {
    IamError::AccessDenied(format!(
        "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        caller.principal_arn
    ))
}

fn no_such_key(key_id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The Access Key with id {key_id} cannot be found."))
}

fn no_such_user_policy(policy: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user policy with name {policy} cannot be found."))
}
