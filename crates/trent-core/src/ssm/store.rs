//! The Parameter Store's storage boundary, kept apart from the KMS `Store` trait. Each method is one
//! transaction. SecureString values reach the store only as KMS ciphertext.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::{ParameterType, SsmError, Tier};
use crate::ids::AccountId;
use crate::model::Timestamp;

/// One parameter: its name-level data and the versions kept (oldest first, never empty once stored).
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterRecord {
    pub account: AccountId,
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub versions: Vec<VersionRecord>,
    /// When the Expiration policy of the latest version deletes the parameter.
    pub expires: Option<Timestamp>,
}

impl ParameterRecord {
    pub fn latest(&self) -> Option<&VersionRecord> {
        self.versions.last()
    }
}

/// One version, a full snapshot: GetParameterHistory reports each version's own type, key, description...
#[derive(Clone, PartialEq)]
pub struct VersionRecord {
    pub version: u64,
    pub kind: ParameterType,
    /// UTF-8 text for String and StringList; the KMS ciphertext blob for SecureString, never its plaintext.
    pub value: Vec<u8>,
    /// The KeyId a SecureString was encrypted under, as the caller named it (`alias/aws/ssm` by default).
    pub key_id: Option<String>,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    pub data_type: String,
    pub tier: Tier,
    /// The Policies JSON array as sent, for Advanced parameters.
    pub policies: Option<String>,
    pub labels: Vec<String>,
    pub modified: Timestamp,
    pub modified_user: String,
}

impl std::fmt::Debug for VersionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value is left out: a String parameter may still hold something its owner considers private.
        f.debug_struct("VersionRecord")
            .field("version", &self.version)
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("tier", &self.tier)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// A read-modify-write of one parameter under the store's transaction. The closure sees `None` when the
/// parameter does not exist; leaving `None` (or setting it) deletes it. A domain error aborts the transaction.
pub type ParameterUpdate<'a> = &'a mut dyn FnMut(&mut Option<ParameterRecord>) -> Result<(), SsmError>;

pub trait ParameterStore: Send + Sync {
    fn parameter(&self, account: &AccountId, name: &str) -> Result<Option<ParameterRecord>, SsmError>;

    /// Applies `update` atomically and returns the stored result (`None` if the parameter is gone).
    fn update_parameter(
        &self,
        account: &AccountId,
        name: &str,
        update: ParameterUpdate<'_>,
    ) -> Result<Option<ParameterRecord>, SsmError>;

    /// Parameters of `account` whose name starts with `prefix`, ordered by name, after `after`, at most `limit`.
    fn list_parameters(
        &self,
        account: &AccountId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ParameterRecord>, SsmError>;

    /// Parameters whose Expiration policy time is at or before `now_ms`.
    fn parameters_expiring(&self, now_ms: i64) -> Result<Vec<(AccountId, String)>, SsmError>;
}

/// Parameters in memory only, for tests; same semantics as the SQLite store.
#[derive(Default)]
pub struct MemoryParameterStore(Mutex<BTreeMap<(AccountId, String), ParameterRecord>>);

impl MemoryParameterStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> MutexGuard<'_, BTreeMap<(AccountId, String), ParameterRecord>> {
        // Every mutation completes before the guard drops; a poisoned lock holds consistent data.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ParameterStore for MemoryParameterStore {
    fn parameter(&self, account: &AccountId, name: &str) -> Result<Option<ParameterRecord>, SsmError> {
        Ok(self.inner().get(&(account.clone(), name.to_owned())).cloned())
    }

    fn update_parameter(
        &self,
        account: &AccountId,
        name: &str,
        update: ParameterUpdate<'_>,
    ) -> Result<Option<ParameterRecord>, SsmError> {
        let mut map = self.inner();
        let key = (account.clone(), name.to_owned());
        let mut current = map.get(&key).cloned();
        update(&mut current)?;
        match &current {
            Some(p) => map.insert(key, p.clone()),
            None => map.remove(&key),
        };
        Ok(current)
    }

    fn list_parameters(
        &self,
        account: &AccountId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ParameterRecord>, SsmError> {
        Ok(self
            .inner()
            .values()
            .filter(|p| &p.account == account && p.name.starts_with(prefix))
            .filter(|p| after.is_none_or(|a| p.name.as_str() > a))
            .take(limit)
            .cloned()
            .collect())
    }

    fn parameters_expiring(&self, now_ms: i64) -> Result<Vec<(AccountId, String)>, SsmError> {
        Ok(self
            .inner()
            .values()
            .filter(|p| p.expires.is_some_and(|t| t.0 <= now_ms))
            .map(|p| (p.account.clone(), p.name.clone()))
            .collect())
    }
}
