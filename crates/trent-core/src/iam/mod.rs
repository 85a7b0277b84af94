//! IAM users and roles, their access keys and inline policies, and STS sessions: the principals a request can
//! act as besides an account's root.
//!
//! - [`store::IamStore`]: the storage boundary for users and roles (each call one transaction).
//! - [`service::Iam`]: one method per IAM/STS operation; authorizes IAM calls against the caller's identity
//!   policies (root callers skip that check, as in AWS).
//! - [`session`]: STS credentials. The session token is the session itself, sealed under the root key, so
//!   sessions need no table and survive restarts; the token cannot be forged or altered without the root key.
//!
//! Principals are named by ARN; `Identities` (in `crate::identity`) resolves credentials to them and serves the
//! policies and tags the authorization code needs.

mod error;
pub mod service;
pub mod session;
pub mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use trent_crypto::random_array;

pub use error::IamError;
pub use service::{AssumedRole, CallerIdentity, Iam};
pub use store::{IamStore, MemoryIamStore, RoleRecord, UserRecord};

use crate::ids::AccountId;

/// AWS's quota of access keys per user.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;
/// AWS's quota of tags per user or role.
pub const MAX_TAGS: usize = 50;
/// DurationSeconds bounds of AssumeRole; MaxSessionDuration of a role is 3600..=43200.
pub const MIN_SESSION_SECS: u32 = 900;
pub const DEFAULT_SESSION_SECS: u32 = 3600;
pub const MAX_ROLE_SESSION_SECS: u32 = 43_200;

/// Tags by key; listed in key order.
pub type Tags = BTreeMap<String, String>;

/// `arn:aws:iam::<acct>:user<path><name>`.
pub fn user_arn(account: &AccountId, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

/// `arn:aws:iam::<acct>:role<path><name>`.
pub fn role_arn(account: &AccountId, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

/// `arn:aws:sts::<acct>:assumed-role/<role>/<session>` (the role's path is not part of it, as in AWS).
pub fn assumed_role_arn(account: &AccountId, role: &str, session: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")
}

/// What kind of principal an ARN names, with its account and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalRef {
    Root(AccountId),
    User(AccountId, String),
    /// An assumed-role session: account, role name, session name.
    Session(AccountId, String, String),
    Role(AccountId, String),
}

impl PrincipalRef {
    pub fn parse(arn: &str) -> Option<Self> {
        if let Some(rest) = arn.strip_prefix("arn:aws:iam::") {
            let (account, resource) = rest.split_once(':')?;
            let account = AccountId::parse(account)?;
            if resource == "root" {
                return Some(Self::Root(account));
            }
            // The name is the last path segment: `user/division/alice` is alice with path /division/.
            if let Some(p) = resource.strip_prefix("user/") {
                return Some(Self::User(account, p.rsplit('/').next()?.to_owned()));
            }
            if let Some(p) = resource.strip_prefix("role/") {
                return Some(Self::Role(account, p.rsplit('/').next()?.to_owned()));
            }
            return None;
        }
        let rest = arn.strip_prefix("arn:aws:sts::")?;
        let (account, resource) = rest.split_once(':')?;
        let (role, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
        Some(Self::Session(AccountId::parse(account)?, role.to_owned(), session.to_owned()))
    }
}

/// Characters IAM allows in user, role and policy names: `[\w+=,.@-]`.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// AWS's "1 validation error detected" text for a constraint on one member.
pub(crate) fn constraint_error(member: &str, value: &str, constraint: &str) -> IamError {
    IamError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

pub(crate) fn validate_name(member: &str, value: &str, max: usize) -> Result<(), IamError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(constraint_error(
            member,
            value,
            &format!("Member must have length less than or equal to {max} and greater than or equal to 1"),
        ));
    }
    if !value.chars().all(is_name_char) {
        return Err(constraint_error(member, value, "Member must satisfy regular expression pattern: [\\w+=,.@-]+"));
    }
    Ok(())
}

/// `/` or `/segment/.../`, printable ASCII, at most 512 characters.
pub(crate) fn validate_path(value: &str) -> Result<(), IamError> {
    let ok = value.len() <= 512
        && value.starts_with('/')
        && value.ends_with('/')
        && value.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if ok {
        Ok(())
    } else {
        Err(constraint_error(
            "path",
            value,
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ))
    }
}

pub(crate) fn validate_tags(existing: &Tags, new: &[(String, String)]) -> Result<(), IamError> {
    for (k, v) in new {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(constraint_error("tags.member.key", k, "Member must have length less than or equal to 128"));
        }
        if v.chars().count() > 256 {
            return Err(constraint_error("tags.member.value", v, "Member must have length less than or equal to 256"));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(IamError::Validation(
                "User is not authorized to perform tag operations on aws: prefixed keys.".into(),
            ));
        }
    }
    let mut keys: std::collections::BTreeSet<&str> = existing.keys().map(String::as_str).collect();
    keys.extend(new.iter().map(|(k, _)| k.as_str()));
    if keys.len() > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "The number of tags has reached the maximum limit of {MAX_TAGS}."
        )));
    }
    Ok(())
}

/// A unique id in AWS's shape: a 4-letter prefix and characters of the uppercase base32 alphabet. IAM's unique
/// ids of users (`AIDA`) and roles (`AROA`) are 21 characters long (the IAM guide's "Unique identifiers":
/// `AIDAJQABLZS4A3QDU576Q`); access key ids (`AKIA` long-term, `ASIA` temporary) are 20.
pub(crate) fn new_id(prefix: &str) -> Result<String, IamError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let len = if matches!(prefix, "AIDA" | "AROA") { 21 } else { 20 };
    let bytes: [u8; 17] = random_array().map_err(IamError::internal)?;
    let mut id = String::from(prefix);
    // 256 is a multiple of 32: taking 5 bits of a uniform byte keeps each character uniform.
    id.extend(bytes.iter().take(len - prefix.len()).map(|b| ALPHABET[(b & 31) as usize] as char));
    Ok(id)
}
