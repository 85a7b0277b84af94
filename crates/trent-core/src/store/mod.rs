//! The storage boundary. Each method is one transaction; nothing above this trait knows the backend.
//!
//! The trait is synchronous: SQLite is embedded and its calls are short; callers on an async runtime run
//! management operations on a blocking thread. Backend failures surface as `KmsError::Internal`.

use crate::KmsError;
use crate::ids::{AccountId, AliasName, KeyId};
use crate::model::{AccessKeyRecord, AliasRecord, GrantRecord, ImportParamsRecord, KeyRecord, KeyVersionRecord};

/// A read-modify-write of one key under the store's transaction: the closure sees the current record and
/// may change it or refuse with a domain error (which aborts the transaction).
pub type KeyUpdate<'a> = &'a mut dyn FnMut(&mut KeyRecord) -> Result<(), KmsError>;

pub trait Store: Send + Sync {
    /// Inserts a new key with its first backing-key version (none for a key awaiting imported material).
    fn create_key(&self, key: &KeyRecord, version: Option<&KeyVersionRecord>) -> Result<(), KmsError>;

    /// Inserts many new keys, each with its first version, in one transaction: all or none. For bulk
    /// provisioning (the benchmark's million-key store), where one fsync per key would take hours.
    fn create_keys(&self, keys: &[(KeyRecord, KeyVersionRecord)]) -> Result<(), KmsError>;

    fn key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, KmsError>;

    fn key_versions(&self, key_id: &KeyId) -> Result<Vec<KeyVersionRecord>, KmsError>;

    /// Atomically applies `update` to the key and returns the stored result. `Ok(None)` if no such key.
    fn update_key(&self, key_id: &KeyId, update: KeyUpdate<'_>) -> Result<Option<KeyRecord>, KmsError>;

    /// Keys of `account` ordered by key id, starting after `after`, at most `limit`.
    fn list_keys(&self, account: &AccountId, after: Option<&KeyId>, limit: usize) -> Result<Vec<KeyId>, KmsError>;

    /// Keys whose pending-deletion window ended at or before `now_ms`.
    fn keys_due_for_deletion(&self, now_ms: i64) -> Result<Vec<KeyId>, KmsError>;

    /// Erases a key for good: its material, its aliases, its tags and its record, in one transaction.
    fn destroy_key(&self, key_id: &KeyId) -> Result<(), KmsError>;

    /// `destroy_key`, only if the key is still pending deletion with its window ended at or before `now_ms`,
    /// checked in the same transaction. Returns whether it destroyed the key: a CancelKeyDeletion that
    /// committed after the scheduler listed the key wins, and the key lives.
    fn destroy_key_if_due(&self, key_id: &KeyId, now_ms: i64) -> Result<bool, KmsError>;

    /// Fails with `AlreadyExists` when the name is taken in the account.
    fn create_alias(&self, alias: &AliasRecord) -> Result<(), KmsError>;

    fn alias(&self, account: &AccountId, name: &AliasName) -> Result<Option<AliasRecord>, KmsError>;

    /// Points an alias that points at `from` at `target` instead, in one statement. Returns false if the alias
    /// does not exist or no longer points at `from` (the caller authorized the change against `from`).
    fn update_alias(
        &self,
        account: &AccountId,
        name: &AliasName,
        from: &KeyId,
        target: &KeyId,
        now_ms: i64,
    ) -> Result<bool, KmsError>;

    /// Returns false if the alias does not exist.
    fn delete_alias(&self, account: &AccountId, name: &AliasName) -> Result<bool, KmsError>;

    /// Aliases of `account` (optionally only those of one key) ordered by name, after `after`, at most `limit`.
    fn list_aliases(
        &self,
        account: &AccountId,
        target: Option<&KeyId>,
        after: Option<&AliasName>,
        limit: usize,
    ) -> Result<Vec<AliasRecord>, KmsError>;

    fn count_aliases(&self, target: &KeyId) -> Result<usize, KmsError>;

    /// In one transaction: applies `update` to the key and inserts `version`. The closure is where a caller
    /// checks that nobody else added a version meanwhile (compare `current_version`), so two nodes racing to
    /// rotate the same key add one version, not two.
    fn add_key_version(
        &self,
        key_id: &KeyId,
        version: &KeyVersionRecord,
        update: KeyUpdate<'_>,
    ) -> Result<Option<KeyRecord>, KmsError>;

    /// In one transaction: applies `update` and erases the material of one version (imported material
    /// deleted or expired). Erasing a version that has no material is not an error.
    fn delete_key_version(
        &self,
        key_id: &KeyId,
        version: u32,
        update: KeyUpdate<'_>,
    ) -> Result<Option<KeyRecord>, KmsError>;

    /// Keys whose automatic rotation is due at `now_ms`.
    fn keys_due_for_rotation(&self, now_ms: i64) -> Result<Vec<KeyId>, KmsError>;

    /// Keys with imported material (still present) whose ValidTo is at or before `now_ms`.
    fn keys_with_expiring_material(&self, now_ms: i64) -> Result<Vec<KeyId>, KmsError>;

    /// Replaces the import parameters of a key.
    fn put_import_params(&self, params: &ImportParamsRecord) -> Result<(), KmsError>;

    fn import_params(&self, key_id: &KeyId) -> Result<Option<ImportParamsRecord>, KmsError>;

    /// Inserts a grant (a new id) or leaves an existing one unchanged.
    fn put_grant(&self, grant: &GrantRecord) -> Result<(), KmsError>;

    /// The grants of a key, oldest first.
    fn grants(&self, key_id: &KeyId) -> Result<Vec<GrantRecord>, KmsError>;

    /// Grants whose retiring principal is `principal`, across keys.
    fn grants_retirable_by(&self, principal: &str) -> Result<Vec<GrantRecord>, KmsError>;

    /// Returns false if no such grant.
    fn delete_grant(&self, key_id: &KeyId, grant_id: &str) -> Result<bool, KmsError>;

    fn put_access_key(&self, key: &AccessKeyRecord) -> Result<(), KmsError>;

    fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, KmsError>;

    fn access_keys_of(&self, principal_arn: &str) -> Result<Vec<AccessKeyRecord>, KmsError>;
}

mod memory;
pub use memory::MemoryStore;
