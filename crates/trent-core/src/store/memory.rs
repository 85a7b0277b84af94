//! A store that lives in memory only: for tests and for `trent serve --ephemeral`-style experiments. Same
//! semantics as the SQLite store (each call atomic), nothing persisted.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::{KeyUpdate, Store};
use crate::KmsError;
use crate::ids::{AccountId, AliasName, KeyId};
use crate::model::{
    AccessKeyRecord, AliasRecord, GrantRecord, ImportParamsRecord, KeyRecord, KeyState, KeyVersionRecord,
};

#[derive(Default)]
struct Inner {
    keys: BTreeMap<KeyId, KeyRecord>,
    versions: HashMap<KeyId, Vec<KeyVersionRecord>>,
    aliases: BTreeMap<(AccountId, AliasName), AliasRecord>,
    access_keys: BTreeMap<String, AccessKeyRecord>,
    import_params: HashMap<KeyId, ImportParamsRecord>,
    grants: Vec<GrantRecord>,
}

#[derive(Default)]
pub struct MemoryStore(Mutex<Inner>);

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every mutation below completes before the guard drops; a poisoned lock holds consistent data.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Everything of a key, under the caller's lock.
    fn erase(s: &mut Inner, key_id: &KeyId) {
        s.keys.remove(key_id);
        s.versions.remove(key_id);
        s.import_params.remove(key_id);
        s.grants.retain(|g| g.key_id != *key_id);
        s.aliases.retain(|_, a| a.target != *key_id);
    }
}

impl Store for MemoryStore {
    fn create_key(&self, key: &KeyRecord, version: Option<&KeyVersionRecord>) -> Result<(), KmsError> {
        let mut s = self.inner();
        if s.keys.contains_key(&key.key_id) {
            return Err(KmsError::internal("duplicate key id"));
        }
        s.keys.insert(key.key_id, key.clone());
        s.versions.insert(key.key_id, version.into_iter().cloned().collect());
        Ok(())
    }

    fn create_keys(&self, keys: &[(KeyRecord, KeyVersionRecord)]) -> Result<(), KmsError> {
        let mut s = self.inner();
        // Check every id first so a duplicate leaves the store unchanged, as the SQLite transaction does.
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        if keys.iter().any(|(k, _)| s.keys.contains_key(&k.key_id) || !seen.insert(k.key_id)) {
            return Err(KmsError::internal("duplicate key id"));
        }
        for (key, version) in keys {
            s.keys.insert(key.key_id, key.clone());
            s.versions.insert(key.key_id, vec![version.clone()]);
        }
        Ok(())
    }

    fn key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, KmsError> {
        Ok(self.inner().keys.get(key_id).cloned())
    }

    fn key_versions(&self, key_id: &KeyId) -> Result<Vec<KeyVersionRecord>, KmsError> {
        Ok(self.inner().versions.get(key_id).cloned().unwrap_or_default())
    }

    fn update_key(&self, key_id: &KeyId, update: KeyUpdate<'_>) -> Result<Option<KeyRecord>, KmsError> {
        let mut s = self.inner();
        let Some(current) = s.keys.get(key_id) else { return Ok(None) };
        let mut next = current.clone();
        update(&mut next)?;
        s.keys.insert(*key_id, next.clone());
        Ok(Some(next))
    }

    fn list_keys(&self, account: &AccountId, after: Option<&KeyId>, limit: usize) -> Result<Vec<KeyId>, KmsError> {
        Ok(self
            .inner()
            .keys
            .values()
            .filter(|k| &k.account == account && after.is_none_or(|a| k.key_id > *a))
            .take(limit)
            .map(|k| k.key_id)
            .collect())
    }

    fn keys_due_for_deletion(&self, now_ms: i64) -> Result<Vec<KeyId>, KmsError> {
        Ok(self
            .inner()
            .keys
            .values()
            .filter(|k| k.state == KeyState::PendingDeletion && k.deletion_date.is_some_and(|d| d.0 <= now_ms))
            .map(|k| k.key_id)
            .collect())
    }

    fn destroy_key_if_due(&self, key_id: &KeyId, now_ms: i64) -> Result<bool, KmsError> {
        let mut s = self.inner();
        let due = s
            .keys
            .get(key_id)
            .is_some_and(|k| k.state == KeyState::PendingDeletion && k.deletion_date.is_some_and(|d| d.0 <= now_ms));
        if due {
            Self::erase(&mut s, key_id);
        }
        Ok(due)
    }

    fn destroy_key(&self, key_id: &KeyId) -> Result<(), KmsError> {
        let mut s = self.inner();
        Self::erase(&mut s, key_id);
        Ok(())
    }

    fn create_alias(&self, alias: &AliasRecord) -> Result<(), KmsError> {
        let mut s = self.inner();
        let k = (alias.account.clone(), alias.name.clone());
        if s.aliases.contains_key(&k) {
            return Err(KmsError::AlreadyExists(alias.name.to_string()));
        }
        s.aliases.insert(k, alias.clone());
        Ok(())
    }

    fn alias(&self, account: &AccountId, name: &AliasName) -> Result<Option<AliasRecord>, KmsError> {
        Ok(self.inner().aliases.get(&(account.clone(), name.clone())).cloned())
    }

    fn update_alias(
        &self,
        account: &AccountId,
        name: &AliasName,
        from: &KeyId,
        target: &KeyId,
        now_ms: i64,
    ) -> Result<bool, KmsError> {
        let mut s = self.inner();
        match s.aliases.get_mut(&(account.clone(), name.clone())) {
            Some(a) if a.target == *from => {
                a.target = *target;
                a.updated = crate::model::Timestamp(now_ms);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn delete_alias(&self, account: &AccountId, name: &AliasName) -> Result<bool, KmsError> {
        Ok(self.inner().aliases.remove(&(account.clone(), name.clone())).is_some())
    }

    fn list_aliases(
        &self,
        account: &AccountId,
        target: Option<&KeyId>,
        after: Option<&AliasName>,
        limit: usize,
    ) -> Result<Vec<AliasRecord>, KmsError> {
        Ok(self
            .inner()
            .aliases
            .values()
            .filter(|a| &a.account == account)
            .filter(|a| target.is_none_or(|t| a.target == *t))
            .filter(|a| after.is_none_or(|m| a.name > *m))
            .take(limit)
            .cloned()
            .collect())
    }

    fn count_aliases(&self, target: &KeyId) -> Result<usize, KmsError> {
        Ok(self.inner().aliases.values().filter(|a| a.target == *target).count())
    }

    fn add_key_version(
        &self,
        key_id: &KeyId,
        version: &KeyVersionRecord,
        update: KeyUpdate<'_>,
    ) -> Result<Option<KeyRecord>, KmsError> {
        let mut s = self.inner();
        let Some(current) = s.keys.get(key_id) else { return Ok(None) };
        let mut next = current.clone();
        update(&mut next)?;
        let versions = s.versions.entry(*key_id).or_default();
        if versions.iter().any(|v| v.version == version.version) {
            return Err(KmsError::internal("duplicate key version"));
        }
        versions.push(version.clone());
        s.keys.insert(*key_id, next.clone());
        Ok(Some(next))
    }

    fn delete_key_version(
        &self,
        key_id: &KeyId,
        version: u32,
        update: KeyUpdate<'_>,
    ) -> Result<Option<KeyRecord>, KmsError> {
        let mut s = self.inner();
        let Some(current) = s.keys.get(key_id) else { return Ok(None) };
        let mut next = current.clone();
        update(&mut next)?;
        s.versions.entry(*key_id).or_default().retain(|v| v.version != version);
        s.keys.insert(*key_id, next.clone());
        Ok(Some(next))
    }

    fn keys_due_for_rotation(&self, now_ms: i64) -> Result<Vec<KeyId>, KmsError> {
        Ok(self
            .inner()
            .keys
            .values()
            .filter(|k| k.rotation.is_some_and(|r| r.next.0 <= now_ms))
            .map(|k| k.key_id)
            .collect())
    }

    fn keys_with_expiring_material(&self, now_ms: i64) -> Result<Vec<KeyId>, KmsError> {
        Ok(self
            .inner()
            .keys
            .values()
            .filter(|k| k.next_material_expiry().is_some_and(|t| t.0 <= now_ms))
            .map(|k| k.key_id)
            .collect())
    }

    fn put_import_params(&self, params: &ImportParamsRecord) -> Result<(), KmsError> {
        self.inner().import_params.insert(params.key_id, params.clone());
        Ok(())
    }

    fn import_params(&self, key_id: &KeyId) -> Result<Option<ImportParamsRecord>, KmsError> {
        Ok(self.inner().import_params.get(key_id).cloned())
    }

    fn put_grant(&self, grant: &GrantRecord) -> Result<(), KmsError> {
        let mut s = self.inner();
        if !s.grants.iter().any(|g| g.key_id == grant.key_id && g.grant_id == grant.grant_id) {
            s.grants.push(grant.clone());
        }
        Ok(())
    }

    fn grants(&self, key_id: &KeyId) -> Result<Vec<GrantRecord>, KmsError> {
        Ok(self.inner().grants.iter().filter(|g| g.key_id == *key_id).cloned().collect())
    }

    fn grants_retirable_by(&self, principal: &str) -> Result<Vec<GrantRecord>, KmsError> {
        Ok(self.inner().grants.iter().filter(|g| g.retiring_principal.as_deref() == Some(principal)).cloned().collect())
    }

    fn delete_grant(&self, key_id: &KeyId, grant_id: &str) -> Result<bool, KmsError> {
        let mut s = self.inner();
        let before = s.grants.len();
        s.grants.retain(|g| !(g.key_id == *key_id && g.grant_id == grant_id));
        Ok(s.grants.len() != before)
    }

    fn put_access_key(&self, key: &AccessKeyRecord) -> Result<(), KmsError> {
        self.inner().access_keys.insert(key.access_key_id.clone(), key.clone());
        Ok(())
    }

    fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, KmsError> {
        Ok(self.inner().access_keys.get(access_key_id).cloned())
    }

    fn access_keys_of(&self, principal_arn: &str) -> Result<Vec<AccessKeyRecord>, KmsError> {
        Ok(self.inner().access_keys.values().filter(|k| k.principal_arn == principal_arn).cloned().collect())
    }
}
