//! The KMS service: one method per operation, no HTTP and no wire types. Requests arrive parsed into domain
//! types; responses leave as domain views that the protocol layer encodes.

mod aliases;
mod asymmetric;
mod authz;
mod bulk;
mod crypto;
mod grants;
mod import;
mod keys;
mod managed;
mod policy;
mod rotation;
mod schedule;
mod tags;

use std::collections::HashMap;
use std::sync::Arc;

use trent_crypto::{BackingKey, RootKey, SecretBytes};

use crate::KmsError;
use crate::cache::{KeyCache, LiveKey, LiveVersion};
use crate::clock::Clock;
use crate::context::EncryptionContext;
use crate::ids::{AccountId, KeyId, KeyRef, Region, key_arn};
use crate::model::{KeyRecord, KeyState, KeyVersionRecord};
use crate::store::Store;

pub use aliases::{AliasEntry, ListAliasesRequest};
pub use asymmetric::{DataKeyPair, PublicKeyInfo};
pub use authz::{Action, PrincipalDirectory};
pub(crate) use authz::{Authorized, Extra};
pub use crypto::{
    DataKeySize, DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse, GenerateDataKeyRequest,
    GenerateDataKeyResponse, ReEncryptRequest, ReEncryptResponse,
};
pub use grants::{CreateGrantRequest, GrantView};
pub use import::{ImportMaterialRequest, ImportParameters, MaterialRef};
pub use keys::{CreateKeyRequest, KeyMetadata, ListPage, ScheduleDeletionResponse};
pub use policy::default_key_policy;
pub use rotation::{RotationEntry, RotationStatus};
pub use schedule::{JobKind, ScheduledJob};

/// Who is calling. Authorization (key policies, IAM, grants) arrives with the access issue; until then every
/// authenticated caller acts within its own account only.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: AccountId,
    pub principal_arn: String,
    /// Set when a service (Parameter Store) calls KMS on the principal's behalf: the `kms:ViaService`
    /// condition key, e.g. `ssm.us-east-1.amazonaws.com`.
    pub via_service: Option<String>,
    /// Where the request came from (`aws:SourceIp`), when the transport says.
    pub source_ip: Option<std::net::IpAddr>,
    /// Whether the request came over TLS (`aws:SecureTransport`), when the transport says.
    pub secure_transport: Option<bool>,
    /// Where a service acting for this caller notes the KMS calls it made, for the audit trail.
    pub delegated: Option<DelegatedCalls>,
    /// Where the service notes the key a request resolved and was authorized on, for the audit trail.
    pub resolved: Option<ResolvedKey>,
    /// The caller's unique ids as authentication found them (GetCallerIdentity, CloudTrail's `userIdentity`);
    /// `None` for callers Trent makes up itself.
    pub identity: Option<std::sync::Arc<crate::identity::PrincipalIdentity>>,
    /// The request asked only whether it would succeed (`DryRun`). Operations that take DryRun validate and
    /// authorize as usual, then stop at [`Kms::stop_if_dry_run`] before changing anything or doing any
    /// cryptography. It rides on the caller so that one flag reaches every stage of the operation.
    pub dry_run: bool,
}

impl Caller {
    pub fn new(account: AccountId, principal_arn: impl Into<String>) -> Self {
        Self {
            account,
            principal_arn: principal_arn.into(),
            via_service: None,
            source_ip: None,
            secure_transport: None,
            delegated: None,
            resolved: None,
            identity: None,
            dry_run: false,
        }
    }

    /// The same caller, asking a dry run when `dry_run` is set.
    pub fn with_dry_run(&self, dry_run: bool) -> Self {
        Self { dry_run, ..self.clone() }
    }

    /// The account's root user.
    pub fn root(account: AccountId) -> Self {
        let arn = crate::identity::root_arn(&account);
        Self::new(account, arn)
    }

    /// The same principal, acting through `service` (an endpoint name like `ssm.us-east-1.amazonaws.com`).
    pub fn via(&self, service: impl Into<String>) -> Self {
        Self { via_service: Some(service.into()), ..self.clone() }
    }

    /// Notes a KMS call made for this caller through a service, if the request collects them.
    pub fn note_delegated(&self, call: DelegatedCall) {
        if let Some(calls) = &self.delegated {
            calls.push(call);
        }
    }
}

/// A KMS call a service (Parameter Store) made on the caller's behalf. AWS records such a call as its own KMS
/// event, with the caller's identity `invokedBy` the service; the protocol layer writes it the same way.
/// No secret is held here: the operation, the key and the encryption context are what CloudTrail shows.
#[derive(Debug, Clone)]
pub struct DelegatedCall {
    pub operation: &'static str,
    /// The key as the service named it (`keyId` in the request parameters); `None` for Decrypt.
    pub key_id: Option<String>,
    /// The key that did the work, once known.
    pub key_arn: Option<String>,
    pub context: std::collections::BTreeMap<String, String>,
    /// The AWS error type and public message, when the call failed.
    pub error: Option<(&'static str, Option<String>)>,
}

impl DelegatedCall {
    pub fn new<T>(
        operation: &'static str,
        key_id: Option<String>,
        context: &EncryptionContext,
        result: &Result<T, KmsError>,
        key_arn: impl FnOnce(&T) -> &str,
    ) -> Self {
        let (key_arn, error) = match result {
            Ok(r) => (Some(key_arn(r).to_owned()), None),
            Err(e) => (None, Some((e.aws_type(), e.public_message()))),
        };
        Self { operation, key_id, key_arn, context: context.pairs().clone(), error }
    }
}

/// The key a request acted on, as the service resolved it (an alias to its key), noted once the caller was
/// authorized on it: a request that then fails (disabled key, wrong key usage, a dry run, a ciphertext that does
/// not open) is recorded against that key, as a successful one is from its response. Nothing is noted before
/// authorization: the trail would otherwise tell a refused caller which key another account's alias names.
/// Shared by the clones of its `Caller`; the first key noted is kept.
#[derive(Debug, Clone, Default)]
pub struct ResolvedKey(Arc<std::sync::OnceLock<String>>);

impl ResolvedKey {
    /// The ARN of the key noted, if one was.
    pub fn arn(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// The KMS calls noted during one request; shared by the clones of its `Caller`.
#[derive(Debug, Clone, Default)]
pub struct DelegatedCalls(Arc<std::sync::Mutex<Vec<DelegatedCall>>>);

impl DelegatedCalls {
    fn push(&self, call: DelegatedCall) {
        // A poisoned lock only means another thread panicked mid-push; the list itself is still whole.
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(call);
    }

    /// Everything noted so far, in call order.
    pub fn take(&self) -> Vec<DelegatedCall> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

pub struct Kms {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    clock: Arc<dyn Clock>,
    region: Region,
    cache: KeyCache,
    directory: authz::Directory,
}

impl Kms {
    pub fn new(store: Arc<dyn Store>, root: Arc<RootKey>, clock: Arc<dyn Clock>, region: Region) -> Self {
        Self { store, root, clock, region, cache: KeyCache::default(), directory: authz::Directory::default() }
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn root_key(&self) -> &RootKey {
        &self.root
    }

    fn arn(&self, record: &KeyRecord) -> String {
        key_arn(&record.region, &record.account, &record.key_id)
    }

    /// Resolves any of the four KeyId forms to a live key and authorizes `action` on it for `caller`.
    fn resolve(&self, caller: &Caller, key: &KeyRef, action: Action) -> Result<Arc<LiveKey>, KmsError> {
        self.resolve_with(caller, key, action, &Extra::none())
    }

    /// The end of a dry run: everything was validated and authorized, nothing is executed. Each operation that
    /// takes DryRun calls this at the point where it would first change state or touch key material.
    fn stop_if_dry_run(&self, caller: &Caller) -> Result<(), KmsError> {
        if caller.dry_run {
            return Err(KmsError::DryRunOperation(
                "The request would have succeeded, but the DryRun option is set.".into(),
            ));
        }
        Ok(())
    }

    /// `resolve` with request-specific condition keys (encryption context, algorithm).
    fn resolve_with(
        &self,
        caller: &Caller,
        key: &KeyRef,
        action: Action,
        extra: &Extra,
    ) -> Result<Arc<LiveKey>, KmsError> {
        Ok(self.resolve_authorized(caller, key, action, extra)?.0)
    }

    /// `resolve_with`, also saying how the request was authorized (CreateGrant needs to know).
    fn resolve_authorized(
        &self,
        caller: &Caller,
        key: &KeyRef,
        action: Action,
        extra: &Extra,
    ) -> Result<(Arc<LiveKey>, Authorized), KmsError> {
        let live = self.find(caller, key)?;
        // `kms:RequestAlias`: the alias the request named the key by, if it did.
        let alias = match key {
            KeyRef::Alias(a) | KeyRef::AliasArn { alias: a, .. } => Some(a.as_str()),
            _ => None,
        };
        let how = match alias {
            Some(a) => {
                self.authorize_key(caller, action, &live, &extra.clone().with("kms:RequestAlias", vec![a.to_owned()]))?
            }
            None => self.authorize_key(caller, action, &live, extra)?,
        };
        self.note_resolved(caller, &live);
        Ok((live, how))
    }

    /// Notes, for the audit trail, the key the caller was just authorized on (`Caller::resolved`); the ARN is
    /// only built when the request is audited.
    fn note_resolved(&self, caller: &Caller, live: &LiveKey) {
        if let Some(resolved) = &caller.resolved {
            resolved.0.get_or_init(|| self.arn(&live.record));
        }
    }

    /// Finds the key a reference names. Key ids and alias names are looked up in the caller's account; ARNs
    /// may name another account's key, which authorization then decides on.
    fn find(&self, caller: &Caller, key: &KeyRef) -> Result<Arc<LiveKey>, KmsError> {
        let (account, id) = match key {
            KeyRef::Id(id) => (caller.account.as_str(), *id),
            KeyRef::Arn { region, account, key_id } => {
                if region != self.region.as_str() {
                    return Err(KmsError::NotFound(format!("Invalid arn {region}")));
                }
                (account.as_str(), *key_id)
            }
            KeyRef::Alias(name) => (caller.account.as_str(), self.alias_target(&caller.account, name)?),
            KeyRef::AliasArn { region, account, alias } => {
                if region != self.region.as_str() {
                    return Err(KmsError::NotFound(format!("Invalid arn {region}")));
                }
                let owner = AccountId::parse(account).ok_or_else(|| {
                    KmsError::NotFound(format!("Alias arn:aws:kms:{region}:{account}:{alias} is not found."))
                })?;
                (account.as_str(), self.alias_target(&owner, alias)?)
            }
        };
        match self.live_key(&id)? {
            Some(k) if k.record.account.as_str() == account => Ok(k),
            _ => Err(self.key_not_found_arn(self.region.as_str(), account, &id)),
        }
    }

    /// Like `resolve`, for operations that take only a key id or key ARN (management operations).
    fn resolve_direct(&self, caller: &Caller, key: &KeyRef, action: Action) -> Result<Arc<LiveKey>, KmsError> {
        self.resolve_direct_with(caller, key, action, &Extra::none())
    }

    fn resolve_direct_with(
        &self,
        caller: &Caller,
        key: &KeyRef,
        action: Action,
        extra: &Extra,
    ) -> Result<Arc<LiveKey>, KmsError> {
        refuse_alias(key)?;
        self.resolve_with(caller, key, action, extra)
    }

    fn key_not_found_arn(&self, region: &str, account: &str, id: &KeyId) -> KmsError {
        KmsError::NotFound(format!("Key 'arn:aws:kms:{region}:{account}:key/{id}' does not exist"))
    }

    fn alias_target(&self, account: &AccountId, name: &crate::ids::AliasName) -> Result<KeyId, KmsError> {
        if let Some(id) = self.cache.alias(account, name) {
            return Ok(id);
        }
        let guard = self.cache.write_guard();
        match self.store.alias(account, name)? {
            Some(a) => {
                self.cache.put_alias(account, name, a.target, &guard);
                Ok(a.target)
            }
            None => {
                Err(KmsError::NotFound(format!("Alias arn:aws:kms:{}:{account}:{name} is not found.", self.region)))
            }
        }
    }

    /// The cached key, loading it (and unwrapping its versions) on a miss.
    fn live_key(&self, id: &KeyId) -> Result<Option<Arc<LiveKey>>, KmsError> {
        if let Some(k) = self.cache.key(id) {
            return Ok(Some(k));
        }
        let guard = self.cache.write_guard();
        if let Some(k) = self.cache.key(id) {
            return Ok(Some(k));
        }
        let Some(record) = self.store.key(id)? else { return Ok(None) };
        let live = Arc::new(self.load_live(record)?);
        self.cache.put_key(live.clone(), &guard);
        Ok(Some(live))
    }

    fn load_live(&self, record: KeyRecord) -> Result<LiveKey, KmsError> {
        let arn = self.arn(&record);
        let mut versions = HashMap::new();
        for v in self.store.key_versions(&record.key_id)? {
            let material = self
                .root
                .unwrap(&v.wrapped, &wrap_binding(&arn, v.version))
                .map_err(|e| KmsError::internal(format!("unwrapping {arn} version {}: {e}", v.version)))?;
            let material = crate::specs::parse_material(record.key_spec, record.key_usage, material)
                .map_err(|e| KmsError::internal(format!("parsing {arn} version {}: {e}", v.version)))?;
            versions.insert(
                v.version,
                Arc::new(LiveVersion { material, material_id: v.material_id, rotation: v.rotation }),
            );
        }
        let grants = self.store.grants(&record.key_id)?;
        Ok(LiveKey::new(record, arn, versions).with_grants(grants))
    }

    /// Applies a state change in the store, then refreshes the cache with the stored result.
    fn update_key(
        &self,
        live: &LiveKey,
        mut change: impl FnMut(&mut KeyRecord) -> Result<(), KmsError>,
    ) -> Result<Arc<LiveKey>, KmsError> {
        let guard = self.cache.write_guard();
        let updated = self
            .store
            .update_key(&live.record.key_id, &mut change)?
            .ok_or_else(|| KmsError::NotFound(format!("Key '{}' does not exist", live.arn)))?;
        // Material does not change on a metadata update: share the already unwrapped versions.
        let fresh = Arc::new(live.with_record(updated));
        self.cache.put_key(fresh.clone(), &guard);
        Ok(fresh)
    }

    /// The scheduler's work, run periodically by the server (tests call it after moving the clock): destroy
    /// keys at the end of their deletion window, rotate keys whose rotation is due, expire imported material
    /// past its ValidTo. Each job is one store transaction per key, so a crash in between loses nothing and
    /// the next run resumes.
    pub fn run_due_jobs(&self) -> Result<DueJobs, KmsError> {
        let deleted = self.destroy_due_keys()?;
        let rotated = self.run_due_rotations()?;
        let expired = self.expire_imported_material()?;
        let mut done = Vec::with_capacity(deleted.len() + rotated.len() + expired.len());
        done.extend(deleted.iter().map(|a| (JobKind::Deletion, a.clone())));
        done.extend(rotated.iter().map(|a| (JobKind::Rotation, a.clone())));
        done.extend(expired.iter().map(|a| (JobKind::MaterialExpiry, a.clone())));
        Ok(DueJobs { deleted: deleted.len(), rotated: rotated.len(), expired: expired.len(), done })
    }

    /// Destroys every key whose deletion window has ended. Returns how many were destroyed.
    pub fn purge_due_keys(&self) -> Result<usize, KmsError> {
        Ok(self.destroy_due_keys()?.len())
    }

    fn destroy_due_keys(&self) -> Result<Vec<String>, KmsError> {
        let now = self.clock.now();
        let due = self.store.keys_due_for_deletion(now.0)?;
        self.destroy_listed_keys(&due, now)
    }

    /// Destroys those of `ids` that are still due at `now`. The list is stale by the time it is acted on: a
    /// CancelKeyDeletion may have committed since (and been answered with success), so each key is destroyed
    /// only by a store transaction that re-checks it is pending deletion and due. Only keys actually destroyed
    /// are reported, and so only they get a service event in the trail.
    fn destroy_listed_keys(&self, ids: &[KeyId], now: crate::model::Timestamp) -> Result<Vec<String>, KmsError> {
        let mut done = Vec::new();
        for id in ids {
            let Some(record) = self.store.key(id)? else { continue };
            let arn = self.arn(&record);
            let guard = self.cache.write_guard();
            if self.store.destroy_key_if_due(id, now.0)? {
                self.cache.remove_key(id, &guard);
                tracing::info!(key_id = %id, "key deleted at the end of its pending-deletion window");
                done.push(arn);
            } else {
                tracing::info!(key_id = %id, "key no longer due for deletion (cancelled meanwhile): kept");
            }
        }
        Ok(done)
    }

    fn new_version_record(
        &self,
        arn: &str,
        key_id: KeyId,
        version: u32,
        key: &BackingKey,
    ) -> Result<KeyVersionRecord, KmsError> {
        self.new_version_record_for(arn, key_id, version, key.material_for_wrapping())
    }

    /// A version record for any material (symmetric key, PKCS#8 private key, HMAC key), wrapped.
    fn new_version_record_for(
        &self,
        arn: &str,
        key_id: KeyId,
        version: u32,
        material: &SecretBytes,
    ) -> Result<KeyVersionRecord, KmsError> {
        let wrapped = self.root.wrap(material, &wrap_binding(arn, version)).map_err(KmsError::internal)?;
        let material_id = trent_crypto::digest::hex(&trent_crypto::random_array::<32>().map_err(KmsError::internal)?);
        Ok(KeyVersionRecord { key_id, version, wrapped, material_id, created: self.clock.now(), rotation: None })
    }
}

/// What one scheduler run did: counts, and each key acted on (for the audit trail's service events).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueJobs {
    pub deleted: usize,
    pub rotated: usize,
    pub expired: usize,
    pub done: Vec<(JobKind, String)>,
}

/// Associated data binding wrapped material to its key and version, so rows cannot be swapped in the store.
fn wrap_binding(arn: &str, version: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(arn.len() + 5);
    b.extend_from_slice(arn.as_bytes());
    b.push(0);
    b.extend_from_slice(&version.to_be_bytes());
    b
}

/// The per-state error for operations that need a usable key (the KMS key-state table).
fn require_usable(live: &LiveKey) -> Result<(), KmsError> {
    let arn = &live.arn;
    match live.record.state {
        KeyState::Enabled | KeyState::Updating => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{arn} is disabled."))),
        KeyState::PendingDeletion => Err(KmsError::InvalidState(format!("{arn} is pending deletion."))),
        KeyState::PendingReplicaDeletion => Err(KmsError::InvalidState(format!("{arn} is pending replica deletion."))),
        KeyState::PendingImport => Err(KmsError::InvalidState(format!("{arn} is pending import."))),
        KeyState::Unavailable => Err(KmsError::InvalidState(format!("{arn} is unavailable."))),
        KeyState::Creating => Err(KmsError::InvalidState(format!("{arn} is creating."))),
    }
}

/// `InvalidKeyUsageException` unless the key was made for `usage`.
fn require_usage(live: &LiveKey, usage: crate::model::KeyUsage, op: &str) -> Result<(), KmsError> {
    if live.record.key_usage != usage {
        return Err(KmsError::InvalidKeyUsage(format!(
            "{} key usage is {} which is not valid for {op}.",
            live.arn, live.record.key_usage
        )));
    }
    Ok(())
}

/// Management operations name the key itself: an alias (or alias ARN) is a NotFoundException quoting the
/// caller's text, as in AWS.
fn refuse_alias(key: &KeyRef) -> Result<(), KmsError> {
    if !key.is_key() {
        return Err(KmsError::invalid_key_id(&key.to_string()));
    }
    Ok(())
}

/// Management operations that are refused while a key waits for deletion.
fn refuse_pending_deletion(live: &LiveKey) -> Result<(), KmsError> {
    if live.record.state == KeyState::PendingDeletion {
        return Err(KmsError::InvalidState(format!("{} is pending deletion.", live.arn)));
    }
    Ok(())
}

/// Shared pagination: `Limit` 1..=1000 (default 100) and an opaque marker.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: Option<u32>,
    pub marker: Option<String>,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: usize = 100;

    pub(crate) fn limit(&self) -> usize {
        self.limit.map_or(Self::DEFAULT_LIMIT, |l| l as usize)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod security_tests;

#[cfg(test)]
mod schedule_tests;

#[cfg(test)]
mod import_tests;
