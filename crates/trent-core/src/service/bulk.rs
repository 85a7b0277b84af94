//! Bulk key provisioning: many symmetric keys in one store transaction. Not an AWS operation; used to seed
//! large stores (the benchmark's million-key row) where CreateKey's one durable transaction per key would
//! take hours.

use std::collections::BTreeMap;

use trent_crypto::BackingKey;

use super::policy::default_key_policy;
use super::{Caller, Kms};
use crate::KmsError;
use crate::ids::{KeyId, key_arn};
use crate::model::{KeyRecord, KeySpec, KeyState, KeyUsage, Origin};

impl Kms {
    /// Creates `n` enabled SYMMETRIC_DEFAULT keys for `caller`, as CreateKey with only a description would,
    /// in one transaction. Returns their ids. The keys are not put in the cache: a bulk load is usually done
    /// with the server stopped, and the cache fills on first use anyway.
    pub fn create_keys_bulk(&self, caller: &Caller, n: usize, description: &str) -> Result<Vec<KeyId>, KmsError> {
        let policy = default_key_policy(&caller.account);
        let now = self.clock.now();
        let mut batch = Vec::with_capacity(n);
        for _ in 0..n {
            let key_id = KeyId::random();
            let record = KeyRecord {
                key_id,
                account: caller.account.clone(),
                region: self.region.clone(),
                description: description.to_owned(),
                key_spec: KeySpec::SymmetricDefault,
                key_usage: KeyUsage::EncryptDecrypt,
                origin: Origin::AwsKms,
                state: KeyState::Enabled,
                created: now,
                deletion_date: None,
                pending_window_days: None,
                policy: policy.clone(),
                tags: BTreeMap::new(),
                current_version: 1,
                rotation: None,
                materials: Vec::new(),
                key_manager: crate::model::KeyManager::Customer,
            };
            let arn = key_arn(&record.region, &record.account, &key_id);
            let backing = BackingKey::generate().map_err(KmsError::internal)?;
            let version = self.new_version_record(&arn, key_id, 1, &backing)?;
            batch.push((record, version));
        }
        self.store.create_keys(&batch)?;
        Ok(batch.into_iter().map(|(k, _)| k.key_id).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use trent_crypto::{RootKey, SecretBytes};

    use super::*;
    use crate::clock::SystemClock;
    use crate::context::EncryptionContext;
    use crate::ids::{AccountId, KeyRef, Region};
    use crate::service::{DecryptRequest, EncryptRequest, PageRequest};
    use crate::store::MemoryStore;

    #[test]
    fn bulk_keys_are_usable_like_created_ones() {
        let root = RootKey::from_secret(&SecretBytes::new(vec![7; 32])).unwrap();
        let kms = Kms::new(
            Arc::new(MemoryStore::new()),
            Arc::new(root),
            Arc::new(SystemClock),
            Region::parse("us-east-1").unwrap(),
        );
        let account = AccountId::parse("111122223333").unwrap();
        let caller = Caller::root(account);
        let ids = kms.create_keys_bulk(&caller, 5, "seeded").unwrap();
        assert_eq!(ids.len(), 5);
        let listed = kms.list_keys(&caller, &PageRequest::default()).unwrap();
        assert_eq!(listed.items.len(), 5);
        let key = KeyRef::parse(&ids[3].to_string()).unwrap();
        let m = kms.describe_key(&caller, &key).unwrap();
        assert_eq!(m.record.description, "seeded");
        assert_eq!(m.record.state, KeyState::Enabled);
        let e = kms
            .encrypt(
                &caller,
                EncryptRequest {
                    key,
                    plaintext: SecretBytes::new(b"hi".to_vec()),
                    context: EncryptionContext::default(),
                    algorithm: None,
                },
            )
            .unwrap();
        let d = kms
            .decrypt(
                &caller,
                DecryptRequest {
                    ciphertext: e.ciphertext,
                    context: EncryptionContext::default(),
                    key: None,
                    algorithm: None,
                },
            )
            .unwrap();
        assert_eq!(d.plaintext.expose_secret(), b"hi");
    }
}
