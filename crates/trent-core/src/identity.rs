//! Principals and their access keys. For now every account has its root principal; IAM users, roles and STS
//! sessions arrive with the access issue and plug in here.
//!
//! Secret access keys are needed in clear to verify SigV4, so they are stored wrapped under the root key and
//! kept unwrapped in memory only, in a cache that serves every authenticated request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use trent_crypto::{random_array, RootKey, SecretBytes};

use crate::clock::Clock;
use crate::ids::AccountId;
use crate::model::AccessKeyRecord;
use crate::service::Caller;
use crate::store::Store;
use crate::KmsError;

/// An authenticated principal's credentials as the request pipeline needs them.
pub struct ActiveAccessKey {
    pub caller: Caller,
    pub secret: Arc<SecretBytes>,
}

pub struct Identities {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    clock: Arc<dyn Clock>,
    cache: RwLock<HashMap<String, Arc<ActiveAccessKey>>>,
}

/// The ARN of an account's root principal.
pub fn root_arn(account: &AccountId) -> String {
    format!("arn:aws:iam::{account}:root")
}

impl Identities {
    pub fn new(store: Arc<dyn Store>, root: Arc<RootKey>, clock: Arc<dyn Clock>) -> Self {
        Self { store, root, clock, cache: RwLock::default() }
    }

    /// The active access key with this id, or `None` if unknown or inactive. Cached after the first use.
    pub fn access_key(&self, access_key_id: &str) -> Result<Option<Arc<ActiveAccessKey>>, KmsError> {
        if let Some(k) = self.cache.read().unwrap_or_else(|p| p.into_inner()).get(access_key_id) {
            return Ok(Some(k.clone()));
        }
        // Access key ids have a fixed shape; refusing others early keeps junk out of the store's query path.
        if access_key_id.len() != 20 || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let Some(rec) = self.store.access_key(access_key_id)? else { return Ok(None) };
        if !rec.active {
            return Ok(None);
        }
        let secret = self
            .root
            .unwrap(&rec.wrapped_secret, &secret_binding(&rec.access_key_id))
            .map_err(|e| KmsError::internal(format!("unwrapping secret of {access_key_id}: {e}")))?;
        let active = Arc::new(ActiveAccessKey {
            caller: Caller { account: rec.account.clone(), principal_arn: rec.principal_arn.clone() },
            secret: Arc::new(secret),
        });
        self.cache
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(access_key_id.to_owned(), active.clone());
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
    pub fn create_access_key(&self, account: &AccountId, principal_arn: &str) -> Result<(String, SecretBytes), KmsError> {
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
