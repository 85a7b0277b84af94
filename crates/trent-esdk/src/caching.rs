//! Caching materials manager (SPEC framework/caching-cmm.md): reuses data keys across messages so
//! that many small messages do not each call KMS, within limits on age, messages and bytes per data
//! key, and on the number of cached entries.
//!
//! What is never cached, as in the Python SDK: encryption with an unknown plaintext length, with a
//! length at or above the byte limit, and legacy suites whose KDF is the identity (the data key would
//! be the content key of every message). One limitation of ours: **signed suites are not cached for
//! encryption**, because a cached entry would have to reuse the per-message signing key and
//! `trent-crypto`'s signer cannot be duplicated; those requests go to the inner manager. Decryption
//! materials are cached for every non-identity suite (the verification key is public).
//!
//! Cache ids are SHA-256 over a length-prefixed encoding of what determines the materials (partition,
//! suite, context, required keys, and for decryption the sorted EDKs). They are internal, so they
//! need not match other SDKs' formulas.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trent_crypto::SecretBytes;
use trent_crypto::digest::sha256;

use crate::{
    AlgorithmSuite, DecryptionMaterials, DecryptionRequest, EncryptedDataKey, EncryptionContext, EncryptionMaterials,
    EncryptionRequest, Error, Kdf, MaterialsManager, Result, context,
};

/// Limits of a [`CachingMaterialsManager`].
#[derive(Debug, Clone)]
pub struct CacheLimits {
    /// How long an entry may be used after it was created. Must be positive.
    pub max_age: Duration,
    /// Messages encrypted under one data key, 1 to 2^32 (the default).
    pub max_messages: u64,
    /// Plaintext bytes encrypted under one data key, at most 2^63 - 1 (the default).
    pub max_bytes: u64,
    /// Entries kept; the oldest is evicted beyond this. At least 1.
    pub capacity: usize,
}

impl CacheLimits {
    pub fn new(max_age: Duration, capacity: usize) -> Self {
        Self { max_age, max_messages: 1 << 32, max_bytes: i64::MAX as u64, capacity }
    }
}

struct EncryptEntry {
    suite: AlgorithmSuite,
    context: EncryptionContext,
    required: BTreeSet<String>,
    edks: Vec<EncryptedDataKey>,
    data_key: SecretBytes,
    messages: u64,
    bytes: u64,
}

struct DecryptEntry {
    suite: AlgorithmSuite,
    context: EncryptionContext,
    required: BTreeSet<String>,
    verification_key: Option<Vec<u8>>,
    data_key: SecretBytes,
}

enum Entry {
    Encrypt(EncryptEntry),
    Decrypt(DecryptEntry),
}

#[derive(Default)]
struct Cache {
    entries: HashMap<[u8; 32], (Instant, Entry)>,
}

/// Wraps another materials manager with a data-key cache.
pub struct CachingMaterialsManager {
    inner: Arc<dyn MaterialsManager>,
    limits: CacheLimits,
    /// Separates caches that would otherwise share ids (the spec's partition id).
    partition: [u8; 16],
    cache: Mutex<Cache>,
}

/// A copy of a data key for the cache or for one message's materials; each copy is its own
/// `SecretBytes`, wiped when it drops.
fn copy_key(key: &SecretBytes) -> SecretBytes {
    SecretBytes::new(key.expose_secret().to_vec())
}

fn push_field(id: &mut Vec<u8>, field: &[u8]) {
    id.extend_from_slice(&(field.len() as u64).to_be_bytes());
    id.extend_from_slice(field);
}

impl CachingMaterialsManager {
    pub fn new(inner: Arc<dyn MaterialsManager>, limits: CacheLimits) -> Result<Self> {
        if limits.max_age.is_zero() || limits.capacity == 0 {
            return Err(Error::Config("cache max age and capacity must be positive".into()));
        }
        if !(1..=1 << 32).contains(&limits.max_messages) || limits.max_bytes > i64::MAX as u64 {
            return Err(Error::Config("cache max messages must be 1..=2^32 and max bytes at most 2^63-1".into()));
        }
        Ok(Self { inner, limits, partition: trent_crypto::random_array()?, cache: Mutex::new(Cache::default()) })
    }

    /// Number of live entries (for tests and metrics).
    pub fn len(&self) -> usize {
        self.cache.lock().map(|c| c.entries.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Cache>> {
        self.cache.lock().map_err(|_| Error::Config("materials cache lock poisoned".into()))
    }

    fn insert(&self, id: [u8; 32], entry: Entry) -> Result<()> {
        let mut cache = self.lock()?;
        let max_age = self.limits.max_age;
        cache.entries.retain(|_, (created, _)| created.elapsed() < max_age);
        while cache.entries.len() >= self.limits.capacity {
            let oldest = cache.entries.iter().min_by_key(|(_, (t, _))| *t).map(|(k, _)| *k);
            match oldest {
                Some(k) => cache.entries.remove(&k),
                None => break,
            };
        }
        cache.entries.insert(id, (Instant::now(), entry));
        Ok(())
    }

    fn encrypt_id(&self, suite: AlgorithmSuite, request: &EncryptionRequest) -> Result<[u8; 32]> {
        let mut id = vec![0x01];
        push_field(&mut id, &self.partition);
        push_field(&mut id, &suite.id().to_be_bytes());
        push_field(&mut id, &context::serialize(&request.encryption_context)?);
        for k in &request.required_encryption_context_keys {
            push_field(&mut id, k.as_bytes());
        }
        Ok(sha256(&id))
    }

    fn decrypt_id(&self, request: &DecryptionRequest) -> Result<[u8; 32]> {
        let mut id = vec![0x02];
        push_field(&mut id, &self.partition);
        push_field(&mut id, &request.suite.id().to_be_bytes());
        let mut edks: Vec<Vec<u8>> = request.encrypted_data_keys.iter().map(edk_bytes).collect();
        edks.sort();
        push_field(&mut id, &(edks.len() as u64).to_be_bytes());
        for e in &edks {
            push_field(&mut id, e);
        }
        push_field(&mut id, &context::serialize(&request.encryption_context)?);
        match &request.reproduced_encryption_context {
            Some(r) => push_field(&mut id, &context::serialize(r)?),
            None => id.push(0xff),
        }
        Ok(sha256(&id))
    }
}

fn edk_bytes(e: &EncryptedDataKey) -> Vec<u8> {
    let mut out = Vec::new();
    push_field(&mut out, e.provider_id.as_bytes());
    push_field(&mut out, &e.provider_info);
    push_field(&mut out, &e.ciphertext);
    out
}

impl MaterialsManager for CachingMaterialsManager {
    fn get_encryption_materials(&self, request: EncryptionRequest) -> Result<EncryptionMaterials> {
        let suite = request.suite.unwrap_or_else(|| request.commitment_policy.default_suite());
        let cacheable = match request.max_plaintext_length {
            Some(len) => len < self.limits.max_bytes && suite.kdf() != Kdf::Identity && !suite.is_signed(),
            None => false,
        };
        if !cacheable {
            return self.inner.get_encryption_materials(request);
        }
        let len = request.max_plaintext_length.unwrap_or(0);
        request.commitment_policy.check_encrypt(suite)?;
        let id = self.encrypt_id(suite, &request)?;
        {
            let mut cache = self.lock()?;
            let mut evict = false;
            if let Some((created, Entry::Encrypt(e))) = cache.entries.get_mut(&id) {
                let fits = created.elapsed() < self.limits.max_age
                    && e.messages < self.limits.max_messages
                    && e.bytes.saturating_add(len) <= self.limits.max_bytes;
                if fits {
                    e.messages += 1;
                    e.bytes += len;
                    let mut m = EncryptionMaterials::new(e.suite, e.context.clone(), e.required.clone(), None)?;
                    m.set_plaintext_data_key(copy_key(&e.data_key))?;
                    for edk in &e.edks {
                        m.add_encrypted_data_key(edk.clone());
                    }
                    return Ok(m);
                }
                evict = true;
            }
            if evict {
                cache.entries.remove(&id);
            }
        }
        let materials = self.inner.get_encryption_materials(request)?;
        if materials.suite() != suite {
            return Ok(materials);
        }
        if let Some(key) = materials.plaintext_data_key() {
            let entry = EncryptEntry {
                suite,
                context: materials.encryption_context().clone(),
                required: materials.required_encryption_context_keys().clone(),
                edks: materials.encrypted_data_keys().to_vec(),
                data_key: copy_key(key),
                messages: 1,
                bytes: len,
            };
            self.insert(id, Entry::Encrypt(entry))?;
        }
        Ok(materials)
    }

    fn decrypt_materials(&self, request: DecryptionRequest) -> Result<DecryptionMaterials> {
        let suite = request.suite;
        if suite.kdf() == Kdf::Identity {
            return self.inner.decrypt_materials(request);
        }
        request.commitment_policy.check_decrypt(suite)?;
        let id = self.decrypt_id(&request)?;
        {
            let cache = self.lock()?;
            if let Some((created, Entry::Decrypt(e))) = cache.entries.get(&id)
                && created.elapsed() < self.limits.max_age
            {
                let mut m = DecryptionMaterials::new(
                    e.suite,
                    e.context.clone(),
                    e.required.clone(),
                    e.verification_key.clone(),
                )?;
                m.set_plaintext_data_key(copy_key(&e.data_key))?;
                return Ok(m);
            }
        }
        let materials = self.inner.decrypt_materials(request)?;
        if let Some(key) = materials.plaintext_data_key() {
            let entry = DecryptEntry {
                suite: materials.suite(),
                context: materials.encryption_context().clone(),
                required: materials.required_encryption_context_keys().clone(),
                verification_key: materials.verification_key().map(<[u8]>::to_vec),
                data_key: copy_key(key),
            };
            self.insert(id, Entry::Decrypt(entry))?;
        }
        Ok(materials)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{Client, DecryptOptions, DefaultMaterialsManager, EncryptOptions, Keyring, RawAesKeyring};

    /// Counts calls to the wrapped keyring, i.e. what would be KMS calls.
    struct Counting(RawAesKeyring, AtomicUsize, AtomicUsize);

    impl Keyring for Counting {
        fn on_encrypt(&self, m: &mut EncryptionMaterials) -> Result<()> {
            self.1.fetch_add(1, Ordering::Relaxed);
            self.0.on_encrypt(m)
        }
        fn on_decrypt(&self, m: &DecryptionMaterials, e: &[EncryptedDataKey]) -> Result<SecretBytes> {
            self.2.fetch_add(1, Ordering::Relaxed);
            self.0.on_decrypt(m, e)
        }
    }

    fn setup(limits: CacheLimits) -> (Arc<Counting>, CachingMaterialsManager) {
        let raw = RawAesKeyring::new("ns", "k", SecretBytes::new(vec![7; 32])).unwrap();
        let kr = Arc::new(Counting(raw, AtomicUsize::new(0), AtomicUsize::new(0)));
        let inner = Arc::new(DefaultMaterialsManager::new(kr.clone()));
        (kr, CachingMaterialsManager::new(inner, limits).unwrap())
    }

    fn opts(suite: AlgorithmSuite, len: usize) -> EncryptOptions {
        EncryptOptions { suite: Some(suite), plaintext_length: Some(len as u64), ..EncryptOptions::default() }
    }

    #[test]
    fn reuses_data_keys_within_limits() {
        let mut limits = CacheLimits::new(Duration::from_secs(60), 10);
        limits.max_messages = 3;
        let (kr, cmm) = setup(limits);
        let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
        let ec: EncryptionContext = [("a".to_string(), "1".to_string())].into_iter().collect();
        let client = Client::new();
        let mut messages = Vec::new();
        for i in 0..5u8 {
            let pt = vec![i; 100];
            messages.push((client.encrypt(&cmm, &ec, &pt, &opts(suite, 100)).unwrap(), pt));
        }
        // 3 messages per data key: keys for messages 1-3 and 4-5.
        assert_eq!(kr.1.load(Ordering::Relaxed), 2);
        for (m, pt) in &messages {
            assert_eq!(client.decrypt(&cmm, m, &DecryptOptions::default()).unwrap().plaintext, *pt);
        }
        // Two distinct EDK sets: two keyring decryptions, the rest from the cache.
        assert_eq!(kr.2.load(Ordering::Relaxed), 2);
        // Another context is another entry.
        let other: EncryptionContext = [("a".to_string(), "2".to_string())].into_iter().collect();
        client.encrypt(&cmm, &other, b"x", &opts(suite, 1)).unwrap();
        assert_eq!(kr.1.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn bypasses_what_must_not_be_cached() {
        let mut limits = CacheLimits::new(Duration::from_secs(60), 10);
        limits.max_bytes = 1000;
        let (kr, cmm) = setup(limits);
        let client = Client::new();
        let ec = EncryptionContext::new();
        let signed = AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384;
        let unsigned = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
        for _ in 0..2 {
            client.encrypt(&cmm, &ec, b"abc", &opts(signed, 3)).unwrap();
            client.encrypt(&cmm, &ec, &[0; 1000], &opts(unsigned, 1000)).unwrap();
            let no_len = EncryptOptions { suite: Some(unsigned), ..EncryptOptions::default() };
            client.encrypt(&cmm, &ec, b"abc", &no_len).unwrap();
        }
        assert_eq!(kr.1.load(Ordering::Relaxed), 6);
        assert!(cmm.is_empty());
    }

    #[test]
    fn capacity_and_age_evict() {
        let (kr, cmm) = setup(CacheLimits::new(Duration::from_millis(50), 2));
        let client = Client::new();
        let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
        for v in ["1", "2", "3"] {
            let ec: EncryptionContext = [("a".to_string(), v.to_string())].into_iter().collect();
            client.encrypt(&cmm, &ec, b"x", &opts(suite, 1)).unwrap();
        }
        assert_eq!(cmm.len(), 2);
        std::thread::sleep(Duration::from_millis(60));
        let ec: EncryptionContext = [("a".to_string(), "3".to_string())].into_iter().collect();
        client.encrypt(&cmm, &ec, b"x", &opts(suite, 1)).unwrap();
        assert_eq!(kr.1.load(Ordering::Relaxed), 4, "an expired entry is not used");
        assert_eq!(cmm.len(), 1, "expired entries are dropped on insert");
        assert!(
            CachingMaterialsManager::new(
                Arc::new(DefaultMaterialsManager::new(kr)),
                CacheLimits::new(Duration::ZERO, 1)
            )
            .is_err()
        );
    }
}
