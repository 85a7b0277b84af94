//! In-memory view of live keys: record plus unwrapped backing keys, so Encrypt and Decrypt never touch the
//! store on the hot path. Every write goes to the store first and then replaces the cached entry while
//! holding `writes`, and every cache fill holds it too, so a stale read can never overwrite a newer write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use trent_crypto::BackingKey;
use trent_crypto::asymmetric::{MacKey, PrivateKey};

use crate::ids::{AccountId, AliasName, KeyId};
use crate::model::{GrantRecord, KeyRecord, RotationType};
use crate::policy::Policy;
use crate::policy::document::{PolicyKind, parse_policy};

/// The unwrapped material of one version, parsed for what the key does.
pub(crate) enum Material {
    Symmetric(BackingKey),
    Private(PrivateKey),
    /// Boxed: an HMAC key schedule is over a kilobyte, the other variants a fraction of that.
    Mac(Box<MacKey>),
}

/// One unwrapped backing-key version.
pub(crate) struct LiveVersion {
    pub(crate) material: Material,
    /// Public `KeyMaterialId`.
    pub(crate) material_id: String,
    pub(crate) rotation: Option<RotationType>,
}

/// A key as the hot path needs it.
pub(crate) struct LiveKey {
    pub(crate) record: KeyRecord,
    pub(crate) arn: String,
    /// The key policy, parsed once per change; `None` if the stored text does not parse (authorization then
    /// fails closed).
    pub(crate) policy: Option<Arc<Policy>>,
    /// The key's grants, so authorization never reads the store on the hot path.
    pub(crate) grants: Arc<Vec<GrantRecord>>,
    /// Every backing-key version, unwrapped. Entries are shared between successive cache entries of the key,
    /// so a metadata change or a rotation never unwraps old versions again.
    pub(crate) versions: HashMap<u32, Arc<LiveVersion>>,
}

impl LiveKey {
    pub(crate) fn new(record: KeyRecord, arn: String, versions: HashMap<u32, Arc<LiveVersion>>) -> Self {
        let policy = match parse_policy(&record.policy, PolicyKind::Resource) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                tracing::error!(key = %arn, error = %e, "stored key policy does not parse; every request is denied");
                None
            }
        };
        Self { record, arn, policy, grants: Arc::new(Vec::new()), versions }
    }

    /// The same key with its grants replaced.
    pub(crate) fn with_grants(&self, grants: Vec<GrantRecord>) -> Self {
        Self {
            record: self.record.clone(),
            arn: self.arn.clone(),
            policy: self.policy.clone(),
            grants: Arc::new(grants),
            versions: self.versions.clone(),
        }
    }

    /// The same key with a changed record: the versions are shared, the policy re-parsed only if it changed.
    pub(crate) fn with_record(&self, record: KeyRecord) -> Self {
        if record.policy == self.record.policy {
            return Self {
                record,
                arn: self.arn.clone(),
                policy: self.policy.clone(),
                grants: self.grants.clone(),
                versions: self.versions.clone(),
            };
        }
        Self { grants: self.grants.clone(), ..Self::new(record, self.arn.clone(), self.versions.clone()) }
    }

    pub(crate) fn current(&self) -> Option<(u32, &LiveVersion)> {
        let v = self.record.current_version;
        self.versions.get(&v).map(|e| (v, e.as_ref()))
    }

    pub(crate) fn current_material_id(&self) -> Option<&str> {
        self.current().map(|(_, e)| e.material_id.as_str())
    }
}

#[derive(Default)]
pub(crate) struct KeyCache {
    keys: RwLock<HashMap<KeyId, Arc<LiveKey>>>,
    aliases: RwLock<HashMap<(AccountId, AliasName), KeyId>>,
    writes: Mutex<()>,
}

impl KeyCache {
    pub(crate) fn key(&self, id: &KeyId) -> Option<Arc<LiveKey>> {
        read(&self.keys).get(id).cloned()
    }

    pub(crate) fn alias(&self, account: &AccountId, name: &AliasName) -> Option<KeyId> {
        read(&self.aliases).get(&(account.clone(), name.clone())).copied()
    }

    /// Serializes writers and cache fills. Held across "store write, then cache update".
    pub(crate) fn write_guard(&self) -> MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn put_key(&self, key: Arc<LiveKey>, _guard: &MutexGuard<'_, ()>) {
        write(&self.keys).insert(key.record.key_id, key);
    }

    pub(crate) fn remove_key(&self, id: &KeyId, _guard: &MutexGuard<'_, ()>) {
        write(&self.keys).remove(id);
        write(&self.aliases).retain(|_, target| target != id);
    }

    pub(crate) fn put_alias(&self, account: &AccountId, name: &AliasName, target: KeyId, _guard: &MutexGuard<'_, ()>) {
        write(&self.aliases).insert((account.clone(), name.clone()), target);
    }

    pub(crate) fn remove_alias(&self, account: &AccountId, name: &AliasName, _guard: &MutexGuard<'_, ()>) {
        write(&self.aliases).remove(&(account.clone(), name.clone()));
    }
}

// A poisoned lock only means another thread panicked mid-access; the maps hold no invariant that a panic
// between two statements could break (each mutation is a single insert or remove), so keep serving.
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}
