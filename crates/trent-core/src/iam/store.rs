//! The IAM storage boundary, apart from the KMS `Store`. A user or role is read and written whole (record,
//! inline policies, tags, and a user's access keys) in one transaction: they are small and change rarely, and
//! read-modify-write keeps every rule (quotas, delete conflicts) in the service.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{IamError, Tags};
use crate::ids::AccountId;
use crate::model::{AccessKeyRecord, Timestamp};

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub account: AccountId,
    pub name: String,
    pub path: String,
    /// `AIDA...`
    pub id: String,
    pub arn: String,
    pub created: Timestamp,
    pub tags: Tags,
    /// Inline policies: name -> document as sent (AWS returns the text it was given).
    pub policies: BTreeMap<String, String>,
    /// At most two; `principal_arn` is the user's ARN.
    pub access_keys: Vec<AccessKeyRecord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleRecord {
    pub account: AccountId,
    pub name: String,
    pub path: String,
    /// `AROA...`
    pub id: String,
    pub arn: String,
    pub created: Timestamp,
    pub description: Option<String>,
    pub max_session_secs: u32,
    /// The trust policy (AssumeRolePolicyDocument) as sent.
    pub trust_policy: String,
    pub tags: Tags,
    pub policies: BTreeMap<String, String>,
}

/// A read-modify-write of one user under the store's transaction: `None` when absent; leaving `None` deletes.
/// A domain error aborts the transaction.
pub type UserUpdate<'a> = &'a mut dyn FnMut(&mut Option<UserRecord>) -> Result<(), IamError>;
pub type RoleUpdate<'a> = &'a mut dyn FnMut(&mut Option<RoleRecord>) -> Result<(), IamError>;

/// User and role names are unique per account regardless of case, as in AWS; implementations compare names
/// case-insensitively (ASCII).
pub trait IamStore: Send + Sync {
    fn user(&self, account: &AccountId, name: &str) -> Result<Option<UserRecord>, IamError>;
    /// Applies `update` atomically and returns the stored result.
    fn update_user(
        &self,
        account: &AccountId,
        name: &str,
        update: UserUpdate<'_>,
    ) -> Result<Option<UserRecord>, IamError>;
    /// Users of `account` whose path starts with `path_prefix`, ordered by name.
    fn list_users(&self, account: &AccountId, path_prefix: &str) -> Result<Vec<UserRecord>, IamError>;
    /// The user access key with this id, active or not.
    fn user_access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, IamError>;

    fn role(&self, account: &AccountId, name: &str) -> Result<Option<RoleRecord>, IamError>;
    /// Roles of `account` whose path starts with `path_prefix`, ordered by name.
    fn list_roles(&self, account: &AccountId, path_prefix: &str) -> Result<Vec<RoleRecord>, IamError>;
    fn update_role(
        &self,
        account: &AccountId,
        name: &str,
        update: RoleUpdate<'_>,
    ) -> Result<Option<RoleRecord>, IamError>;
}

type NameKey = (AccountId, String);

fn key(account: &AccountId, name: &str) -> NameKey {
    (account.clone(), name.to_ascii_lowercase())
}

#[derive(Default)]
struct Inner {
    users: BTreeMap<NameKey, UserRecord>,
    roles: BTreeMap<NameKey, RoleRecord>,
    /// access key id -> owning user, kept in step with `users`.
    key_index: HashMap<String, NameKey>,
}

/// In memory only: tests, and the default of `Identities::new` until a persistent store is attached.
#[derive(Default)]
pub struct MemoryIamStore(Mutex<Inner>);

impl MemoryIamStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every mutation completes before the guard drops; a poisoned lock holds consistent data.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl IamStore for MemoryIamStore {
    fn user(&self, account: &AccountId, name: &str) -> Result<Option<UserRecord>, IamError> {
        Ok(self.inner().users.get(&key(account, name)).cloned())
    }

    fn update_user(
        &self,
        account: &AccountId,
        name: &str,
        update: UserUpdate<'_>,
    ) -> Result<Option<UserRecord>, IamError> {
        let mut s = self.inner();
        let k = key(account, name);
        let mut rec = s.users.get(&k).cloned();
        update(&mut rec)?;
        s.key_index.retain(|_, owner| *owner != k);
        match &rec {
            Some(r) => {
                for ak in &r.access_keys {
                    s.key_index.insert(ak.access_key_id.clone(), k.clone());
                }
                s.users.insert(k, r.clone());
            }
            None => {
                s.users.remove(&k);
            }
        }
        Ok(rec)
    }

    fn list_users(&self, account: &AccountId, path_prefix: &str) -> Result<Vec<UserRecord>, IamError> {
        Ok(self
            .inner()
            .users
            .values()
            .filter(|u| &u.account == account && u.path.starts_with(path_prefix))
            .cloned()
            .collect())
    }

    fn user_access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, IamError> {
        let s = self.inner();
        let Some(owner) = s.key_index.get(access_key_id) else { return Ok(None) };
        Ok(s.users.get(owner).and_then(|u| u.access_keys.iter().find(|k| k.access_key_id == access_key_id)).cloned())
    }

    fn role(&self, account: &AccountId, name: &str) -> Result<Option<RoleRecord>, IamError> {
        Ok(self.inner().roles.get(&key(account, name)).cloned())
    }

    fn list_roles(&self, account: &AccountId, path_prefix: &str) -> Result<Vec<RoleRecord>, IamError> {
        let mut out: Vec<RoleRecord> = self
            .inner()
            .roles
            .values()
            .filter(|r| &r.account == account && r.path.starts_with(path_prefix))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn update_role(
        &self,
        account: &AccountId,
        name: &str,
        update: RoleUpdate<'_>,
    ) -> Result<Option<RoleRecord>, IamError> {
        let mut s = self.inner();
        let k = key(account, name);
        let mut rec = s.roles.get(&k).cloned();
        update(&mut rec)?;
        match &rec {
            Some(r) => s.roles.insert(k, r.clone()),
            None => s.roles.remove(&k),
        };
        Ok(rec)
    }
}
