//! Principals and their credentials: each account's root (long-term keys in the KMS `Store`), IAM users (keys
//! in the `IamStore`), and STS sessions (temporary keys whose session token carries the session, see
//! `iam::session`). Also the identity policies and principal tags that authorization needs, cached.
//!
//! Secret access keys are needed in clear to verify SigV4, so they are stored wrapped under the root key and
//! kept unwrapped in memory only, in a cache that serves every authenticated request.

use std::sync::Arc;
use std::time::Duration;

use trent_crypto::{RootKey, SecretBytes, random_array};

use crate::KmsError;
use crate::clock::Clock;
use crate::iam::session::{self, SessionClaims};
use crate::iam::{IamError, IamStore, MemoryIamStore, PrincipalRef, Tags};
use crate::ids::AccountId;
use crate::model::{AccessKeyRecord, Timestamp};
use crate::policy::document::PolicyKind;
use crate::policy::{Policy, parse_policy};
use crate::service::Caller;
use crate::store::Store;

/// Bound on each cache: past it the least useful entries are evicted (moka's TinyLFU), one at a time.
const CACHE_CAPACITY: u64 = 10_000;
/// How long an entry may serve before it is read from the store again. Every change this process makes
/// drops its entries at once; the time-to-live bounds how long a change made elsewhere (`trent admin`, later
/// another node) can go unseen.
const CACHE_TTL: Duration = Duration::from_secs(60);

/// A bounded cache with a time-to-live, keyed by text.
type Cache<V> = moka::sync::Cache<String, V>;

fn new_cache<V: Clone + Send + Sync + 'static>() -> Cache<V> {
    moka::sync::Cache::builder().max_capacity(CACHE_CAPACITY).time_to_live(CACHE_TTL).build()
}

/// An authenticated principal's credentials as the request pipeline needs them.
pub struct ActiveAccessKey {
    pub caller: Caller,
    pub secret: Arc<SecretBytes>,
}

pub struct Identities {
    store: Arc<dyn Store>,
    iam: Arc<dyn IamStore>,
    root: Arc<RootKey>,
    clock: Arc<dyn Clock>,
    cache: Cache<Arc<ActiveAccessKey>>,
    /// Temporary access key id -> the session it was opened as (token kept to compare on each use).
    sessions: Cache<Arc<CachedSession>>,
    /// Principal cache key (`principal_key`) -> parsed inline policies / tags.
    policies: Cache<Arc<Vec<Policy>>>,
    tags: Cache<Arc<Tags>>,
    /// Role cache key -> the unique id of the role of that name now (`None`: no such role), which every use of
    /// a session is checked against.
    role_ids: Cache<Option<String>>,
    /// Held to fill `role_ids` and to bump `role_generation` and drop an entry, so that neither can slip
    /// between the other's check and write.
    role_fill: std::sync::Mutex<()>,
    /// Bumped by every principal change before its cache entries are dropped: a role id read from the store
    /// while a change commits is cached only if no change happened meanwhile, so a deleted role's id cannot
    /// be put back into the cache by a lookup that raced with the deletion.
    role_generation: std::sync::atomic::AtomicU64,
}

/// Who an authenticated caller is beyond its ARN: the unique ids that GetCallerIdentity and CloudTrail's
/// `userIdentity` show, fixed when the credentials were looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalIdentity {
    Root,
    /// An IAM user, by its unique id (`AIDA...`).
    User {
        user_id: String,
    },
    /// An assumed-role session: the role it was issued for (id `AROA...`, ARN with path) and when.
    Session {
        role_id: String,
        role_arn: String,
        issued: Timestamp,
    },
}

struct CachedSession {
    token: String,
    expires: Timestamp,
    key: Arc<ActiveAccessKey>,
}

/// The newly issued credentials of an STS session.
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret: SecretBytes,
    pub session_token: String,
    pub issued: Timestamp,
    pub expires: Timestamp,
}

/// Where a principal's policies and tags live: its user, or its role (for the role and all its sessions).
enum PrincipalKey {
    User(AccountId, String),
    Role(AccountId, String),
}

impl PrincipalKey {
    fn of(principal_arn: &str) -> Option<Self> {
        match PrincipalRef::parse(principal_arn)? {
            PrincipalRef::User(a, n) => Some(Self::User(a, n)),
            PrincipalRef::Role(a, n) | PrincipalRef::Session(a, n, _) => Some(Self::Role(a, n)),
            PrincipalRef::Root(_) => None,
        }
    }

    fn cache_key(&self) -> String {
        match self {
            Self::User(a, n) => format!("user/{a}/{}", n.to_ascii_lowercase()),
            Self::Role(a, n) => format!("role/{a}/{}", n.to_ascii_lowercase()),
        }
    }
}

/// The ARN of an account's root principal.
pub fn root_arn(account: &AccountId) -> String {
    format!("arn:aws:iam::{account}:root")
}

impl Identities {
    /// Users and roles are kept in memory until [`Identities::with_iam_store`] attaches a persistent store.
    pub fn new(store: Arc<dyn Store>, root: Arc<RootKey>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            iam: Arc::new(MemoryIamStore::new()),
            root,
            clock,
            cache: new_cache(),
            sessions: new_cache(),
            policies: new_cache(),
            tags: new_cache(),
            role_ids: new_cache(),
            role_fill: std::sync::Mutex::new(()),
            role_generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Keeps IAM users and roles in `iam` (the server passes its SQLite store).
    pub fn with_iam_store(mut self, iam: Arc<dyn IamStore>) -> Self {
        self.iam = iam;
        self
    }

    /// The active access key with this id, or `None` if unknown or inactive. Cached after the first use.
    pub fn access_key(&self, access_key_id: &str) -> Result<Option<Arc<ActiveAccessKey>>, KmsError> {
        if let Some(k) = self.cache.get(access_key_id) {
            return Ok(Some(k));
        }
        // Access key ids have a fixed shape; refusing others early keeps junk out of the store's query path.
        if access_key_id.len() != 20 || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let rec = match self.store.access_key(access_key_id)? {
            Some(rec) => rec,
            // Not a root key: perhaps an IAM user's.
            None => match self.iam.user_access_key(access_key_id).map_err(KmsError::internal)? {
                Some(rec) => rec,
                None => return Ok(None),
            },
        };
        if !rec.active {
            return Ok(None);
        }
        let identity = match PrincipalRef::parse(&rec.principal_arn) {
            Some(PrincipalRef::Root(_)) => PrincipalIdentity::Root,
            Some(PrincipalRef::User(account, name)) => {
                match self.iam.user(&account, &name).map_err(KmsError::internal)? {
                    Some(u) => PrincipalIdentity::User { user_id: u.id },
                    // A key whose user is gone is no credential (the store deletes keys with their user).
                    None => return Ok(None),
                }
            }
            _ => return Err(KmsError::internal(format!("access key {access_key_id} of {}", rec.principal_arn))),
        };
        let secret = self
            .root
            .unwrap(&rec.wrapped_secret, &secret_binding(&rec.access_key_id))
            .map_err(|e| KmsError::internal(format!("unwrapping secret of {access_key_id}: {e}")))?;
        let mut caller = Caller::new(rec.account.clone(), rec.principal_arn.clone());
        caller.identity = Some(Arc::new(identity));
        let active = Arc::new(ActiveAccessKey { caller, secret: Arc::new(secret) });
        self.cache.insert(access_key_id.to_owned(), active.clone());
        Ok(Some(active))
    }

    /// The first active access key of the account's root principal, creating one if there is none.
    /// Returns the key id and its secret; used by `trent serve` on first start and by `trent env`.
    pub fn ensure_root_access_key(&self, account: &AccountId) -> Result<(String, SecretBytes), KmsError> {
        let arn = root_arn(account);
        if let Some(rec) = self.store.access_keys_of(&arn)?.into_iter().find(|k| k.active) {
            let secret = self
                .root
                .unwrap(&rec.wrapped_secret, &secret_binding(&rec.access_key_id))
                .map_err(|e| KmsError::internal(format!("unwrapping secret of {}: {e}", rec.access_key_id)))?;
            return Ok((rec.access_key_id, secret));
        }
        self.create_access_key(account, &arn)
    }

    /// Creates a new access key for `principal_arn`.
    pub fn create_access_key(
        &self,
        account: &AccountId,
        principal_arn: &str,
    ) -> Result<(String, SecretBytes), KmsError> {
        let id = new_access_key_id()?;
        let secret = new_secret()?;
        let wrapped = self.root.wrap(&secret, &secret_binding(&id)).map_err(KmsError::internal)?;
        self.store.put_access_key(&AccessKeyRecord {
            access_key_id: id.clone(),
            account: account.clone(),
            principal_arn: principal_arn.to_owned(),
            wrapped_secret: wrapped,
            active: true,
            created: self.clock.now(),
        })?;
        Ok((id, secret))
    }
}

impl Identities {
    /// The STS session behind a temporary access key id and its session token. An unknown or altered token is
    /// `InvalidClientTokenId`; an expired session `ExpiredToken`. A session whose role was deleted, or deleted
    /// and created again under the same name (another unique id), is `InvalidClientTokenId` too: it is bound to
    /// the role it was issued for (checked on every use, from a cache kept in step with role changes).
    ///
    /// AWS evaluates such a session against the role by its unique id and finds no permissions; refusing it
    /// here is the same outcome for every path that trusts the principal's ARN (its identity policies, key
    /// policies and grants naming the role or the session) without teaching each authorizer about role ids.
    pub fn session(&self, access_key_id: &str, token: &str) -> Result<Arc<ActiveAccessKey>, IamError> {
        let now = self.clock.now();
        let cached = self.sessions.get(access_key_id);
        if let Some(c) = cached.filter(|c| c.token == token) {
            if now.0 >= c.expires.0 {
                return Err(IamError::ExpiredToken);
            }
            self.check_role_binding(&c.key.caller)?;
            return Ok(c.key.clone());
        }
        let claims = session::open(&self.root, access_key_id, token)?;
        if now.0 >= claims.expires.0 {
            return Err(IamError::ExpiredToken);
        }
        let mut caller = Caller::new(claims.account, claims.principal_arn);
        caller.identity = Some(Arc::new(PrincipalIdentity::Session {
            role_id: claims.role_id,
            role_arn: claims.role_arn,
            issued: claims.issued,
        }));
        self.check_role_binding(&caller)?;
        let key = Arc::new(ActiveAccessKey { caller, secret: Arc::new(claims.secret) });
        let entry = CachedSession { token: token.to_owned(), expires: claims.expires, key: key.clone() };
        self.sessions.insert(access_key_id.to_owned(), Arc::new(entry));
        Ok(key)
    }

    /// A session of a role acts only while the role of that name is the one it was issued for.
    fn check_role_binding(&self, caller: &Caller) -> Result<(), IamError> {
        let Some(PrincipalIdentity::Session { role_id, .. }) = caller.identity.as_deref() else { return Ok(()) };
        let Some(PrincipalRef::Session(account, role, _)) = PrincipalRef::parse(&caller.principal_arn) else {
            return Err(IamError::InvalidClientTokenId);
        };
        let ck = PrincipalKey::Role(account.clone(), role.clone()).cache_key();
        let current = match self.role_ids.get(&ck) {
            Some(id) => id,
            None => {
                use std::sync::atomic::Ordering;
                let generation = self.role_generation.load(Ordering::SeqCst);
                let id = self.iam.role(&account, &role)?.map(|r| r.id);
                let _fill = self.role_fill.lock().unwrap_or_else(|p| p.into_inner());
                if self.role_generation.load(Ordering::SeqCst) == generation {
                    self.role_ids.insert(ck, id.clone());
                }
                id
            }
        };
        if current.as_deref() == Some(role_id.as_str()) { Ok(()) } else { Err(IamError::InvalidClientTokenId) }
    }

    /// Issues temporary credentials of `role` acting as `principal_arn` (its assumed-role ARN) for
    /// `duration_secs`, bound to the role's unique id.
    pub(crate) fn issue_session(
        &self,
        role: &crate::iam::RoleRecord,
        principal_arn: &str,
        duration_secs: u32,
    ) -> Result<SessionCredentials, IamError> {
        let access_key_id = crate::iam::new_id("ASIA")?;
        let secret = new_secret().map_err(IamError::internal)?;
        let issued = self.clock.now();
        let expires = Timestamp(issued.0 + i64::from(duration_secs) * 1000);
        // The claims hold a copy of the secret only long enough to be sealed into the token.
        let claims = SessionClaims {
            account: role.account.clone(),
            principal_arn: principal_arn.to_owned(),
            role_id: role.id.clone(),
            role_arn: role.arn.clone(),
            issued,
            expires,
            secret: SecretBytes::new(secret.expose_secret().to_vec()),
        };
        let session_token = session::seal(&self.root, &access_key_id, &claims)?;
        Ok(SessionCredentials { access_key_id, secret, session_token, issued, expires })
    }

    /// The identity-based policies of a principal: a user's inline policies, or for a role and each of its
    /// assumed-role sessions the role's inline policies. Empty for an account root (whose authority comes from
    /// being the account) and for principals that no longer exist. Cached until the principal changes.
    pub fn identity_policies(&self, principal_arn: &str) -> Result<Arc<Vec<Policy>>, IamError> {
        let Some(pk) = PrincipalKey::of(principal_arn) else { return Ok(Arc::new(Vec::new())) };
        let ck = pk.cache_key();
        if let Some(p) = self.policies.get(&ck) {
            return Ok(p);
        }
        let docs = match &pk {
            PrincipalKey::User(a, n) => self.iam.user(a, n)?.map(|u| u.policies),
            PrincipalKey::Role(a, n) => self.iam.role(a, n)?.map(|r| r.policies),
        }
        .unwrap_or_default();
        let parsed = docs
            .iter()
            .map(|(name, doc)| {
                // Validated when put; a failure here means the stored text changed under us.
                parse_policy(doc, PolicyKind::Identity)
                    .map_err(|e| IamError::internal(format!("stored policy {name} of {ck}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let parsed = Arc::new(parsed);
        self.policies.insert(ck, parsed.clone());
        Ok(parsed)
    }

    /// The tags of a principal (`aws:PrincipalTag/*`): a user's, or a role's for the role and its sessions.
    pub fn principal_tags(&self, principal_arn: &str) -> Result<Arc<Tags>, IamError> {
        let Some(pk) = PrincipalKey::of(principal_arn) else { return Ok(Arc::new(Tags::new())) };
        let ck = pk.cache_key();
        if let Some(t) = self.tags.get(&ck) {
            return Ok(t);
        }
        let tags = match &pk {
            PrincipalKey::User(a, n) => self.iam.user(a, n)?.map(|u| u.tags),
            PrincipalKey::Role(a, n) => self.iam.role(a, n)?.map(|r| r.tags),
        }
        .unwrap_or_default();
        let tags = Arc::new(tags);
        self.tags.insert(ck, tags.clone());
        Ok(tags)
    }

    pub(crate) fn iam_store(&self) -> &Arc<dyn IamStore> {
        &self.iam
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Drops cached policies and tags after a user changed (or was deleted).
    pub(crate) fn user_changed(&self, account: &AccountId, name: &str) {
        self.forget(&PrincipalKey::User(account.clone(), name.to_owned()).cache_key());
    }

    pub(crate) fn role_changed(&self, account: &AccountId, name: &str) {
        self.forget(&PrincipalKey::Role(account.clone(), name.to_owned()).cache_key());
    }

    fn forget(&self, cache_key: &str) {
        self.policies.invalidate(cache_key);
        self.tags.invalidate(cache_key);
        // Bump and drop under the fill lock: a racing lookup either sees the new generation and does not
        // cache, or cached before this removal and is removed with it.
        let _fill = self.role_fill.lock().unwrap_or_else(|p| p.into_inner());
        self.role_generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.role_ids.invalidate(cache_key);
    }

    /// Drops a cached access key after it was deactivated or deleted, so its next use is refused.
    pub(crate) fn access_key_changed(&self, access_key_id: &str) {
        self.cache.invalidate(access_key_id);
    }

    /// A fresh user access key: id, secret, and the record with the secret wrapped under the root key.
    pub(crate) fn new_user_access_key(
        &self,
        account: &AccountId,
        principal_arn: &str,
    ) -> Result<(AccessKeyRecord, SecretBytes), IamError> {
        let id = new_access_key_id().map_err(IamError::internal)?;
        let secret = new_secret().map_err(IamError::internal)?;
        let wrapped = self.root.wrap(&secret, &secret_binding(&id)).map_err(IamError::internal)?;
        let rec = AccessKeyRecord {
            access_key_id: id,
            account: account.clone(),
            principal_arn: principal_arn.to_owned(),
            wrapped_secret: wrapped,
            active: true,
            created: self.clock.now(),
        };
        Ok((rec, secret))
    }
}

/// KMS authorization reads callers' IAM policies and tags from here (`Kms::set_principal_directory`).
impl crate::service::PrincipalDirectory for Identities {
    fn identity_policies(&self, principal_arn: &str) -> Result<Arc<Vec<Policy>>, KmsError> {
        Identities::identity_policies(self, principal_arn).map_err(KmsError::internal)
    }

    fn principal_tags(&self, principal_arn: &str) -> Result<Arc<Tags>, KmsError> {
        Identities::principal_tags(self, principal_arn).map_err(KmsError::internal)
    }

    /// Account roots always exist; users and roles must be in the IAM store. An ARN of another shape (a
    /// service principal, a federated user) is not an IAM principal Trent knows.
    fn principal_exists(&self, principal_arn: &str) -> Result<bool, KmsError> {
        Ok(match PrincipalRef::parse(principal_arn) {
            Some(PrincipalRef::Root(_)) => true,
            Some(PrincipalRef::User(account, name)) => {
                self.iam.user(&account, &name).map_err(KmsError::internal)?.is_some()
            }
            Some(PrincipalRef::Role(account, name)) => {
                self.iam.role(&account, &name).map_err(KmsError::internal)?.is_some()
            }
            Some(PrincipalRef::Session(..)) | None => false,
        })
    }
}

fn secret_binding(access_key_id: &str) -> Vec<u8> {
    format!("access-key:{access_key_id}").into_bytes()
}

/// `AKIA` + 16 characters of the base32 alphabet, the shape AWS's long-term access key ids have.
fn new_access_key_id() -> Result<String, KmsError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes: [u8; 16] = random_array().map_err(KmsError::internal)?;
    let mut id = String::from("AKIA");
    id.extend(bytes.iter().map(|b| ALPHABET[(b & 31) as usize] as char));
    Ok(id)
}

/// 40 characters of `[A-Za-z0-9+/]`, like AWS secret access keys (240 bits of entropy).
fn new_secret() -> Result<SecretBytes, KmsError> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = trent_crypto::random_secret(40).map_err(KmsError::internal)?;
    let chars: Vec<u8> = bytes.expose_secret().iter().map(|b| ALPHABET[(b & 63) as usize]).collect();
    Ok(SecretBytes::new(chars))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::store::MemoryStore;

    fn ids() -> Identities {
        let root = RootKey::from_secret(&SecretBytes::new(vec![3; 32])).unwrap();
        Identities::new(Arc::new(MemoryStore::new()), Arc::new(root), Arc::new(SystemClock))
    }

    #[test]
    fn root_key_is_created_once_and_found() {
        let i = ids();
        let acct = AccountId::parse("111122223333").unwrap();
        let (id, secret) = i.ensure_root_access_key(&acct).unwrap();
        assert!(id.starts_with("AKIA") && id.len() == 20);
        assert_eq!(secret.len(), 40);
        let (id2, secret2) = i.ensure_root_access_key(&acct).unwrap();
        assert_eq!(id, id2);
        assert_eq!(secret.expose_secret(), secret2.expose_secret());
        let active = i.access_key(&id).unwrap().unwrap();
        assert_eq!(active.caller.principal_arn, "arn:aws:iam::111122223333:root");
        assert_eq!(active.secret.expose_secret(), secret.expose_secret());
        assert!(i.access_key("AKIAAAAAAAAAAAAAAAAA").unwrap().is_none());
        assert!(i.access_key("short").unwrap().is_none());
    }
}
