//! Cryptographic materials: what a materials manager hands to encryption and decryption, and what
//! keyrings fill in.

use std::collections::BTreeSet;

use trent_crypto::SecretBytes;
use trent_crypto::esdk::EcdsaSigner;

use crate::{AlgorithmSuite, CommitmentPolicy, EncryptedDataKey, EncryptionContext, Error, Result};

/// Request to a materials manager for encrypting one message.
#[derive(Debug, Clone, Default)]
pub struct EncryptionRequest {
    pub encryption_context: EncryptionContext,
    pub commitment_policy: CommitmentPolicy,
    /// The suite to use; `None` lets the materials manager choose the policy's default.
    pub suite: Option<AlgorithmSuite>,
    /// The plaintext length when known in advance (a caching manager uses it for its limits).
    pub max_plaintext_length: Option<u64>,
    /// Context keys to authenticate but not store in the message; the decryptor must supply them.
    pub required_encryption_context_keys: BTreeSet<String>,
}

/// Request to a materials manager for decrypting one message, built from its parsed header.
#[derive(Debug, Clone)]
pub struct DecryptionRequest {
    pub suite: AlgorithmSuite,
    pub commitment_policy: CommitmentPolicy,
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// The context stored in the message.
    pub encryption_context: EncryptionContext,
    /// The context the caller expects (pairs may be absent from the message if they were
    /// required-only at encryption).
    pub reproduced_encryption_context: Option<EncryptionContext>,
}

/// Materials for encrypting one message. Keyrings set the data key (once) and add encrypted copies.
pub struct EncryptionMaterials {
    suite: AlgorithmSuite,
    encryption_context: EncryptionContext,
    required_encryption_context_keys: BTreeSet<String>,
    encrypted_data_keys: Vec<EncryptedDataKey>,
    plaintext_data_key: Option<SecretBytes>,
    signer: Option<EcdsaSigner>,
}

impl EncryptionMaterials {
    /// Fails when a required key is missing from `encryption_context`.
    pub fn new(
        suite: AlgorithmSuite,
        encryption_context: EncryptionContext,
        required_encryption_context_keys: BTreeSet<String>,
        signer: Option<EcdsaSigner>,
    ) -> Result<Self> {
        if let Some(k) = required_encryption_context_keys.iter().find(|k| !encryption_context.contains_key(*k)) {
            return Err(Error::InvalidEncryptionContext(format!("required key {k:?} is not in the context")));
        }
        if suite.signature() != signer.as_ref().map(EcdsaSigner::curve) {
            return Err(Error::Config("the signing key does not match the algorithm suite".into()));
        }
        Ok(Self {
            suite,
            encryption_context,
            required_encryption_context_keys,
            encrypted_data_keys: Vec::new(),
            plaintext_data_key: None,
            signer,
        })
    }

    pub fn suite(&self) -> AlgorithmSuite {
        self.suite
    }

    /// The full context (what keyrings bind to, e.g. KMS encryption context or raw AES AAD).
    pub fn encryption_context(&self) -> &EncryptionContext {
        &self.encryption_context
    }

    pub fn required_encryption_context_keys(&self) -> &BTreeSet<String> {
        &self.required_encryption_context_keys
    }

    pub fn encrypted_data_keys(&self) -> &[EncryptedDataKey] {
        &self.encrypted_data_keys
    }

    pub fn plaintext_data_key(&self) -> Option<&SecretBytes> {
        self.plaintext_data_key.as_ref()
    }

    /// Sets the data key (a generator keyring does this once). Checks the length for the suite.
    pub fn set_plaintext_data_key(&mut self, key: SecretBytes) -> Result<()> {
        if self.plaintext_data_key.is_some() {
            return Err(Error::Keyring("the data key is already set".into()));
        }
        if key.len() != self.suite.data_key_len() {
            return Err(Error::Keyring("data key length does not match the algorithm suite".into()));
        }
        self.plaintext_data_key = Some(key);
        Ok(())
    }

    pub fn add_encrypted_data_key(&mut self, edk: EncryptedDataKey) {
        self.encrypted_data_keys.push(edk);
    }

    pub(crate) fn into_parts(
        self,
    ) -> (
        AlgorithmSuite,
        EncryptionContext,
        BTreeSet<String>,
        Vec<EncryptedDataKey>,
        Option<SecretBytes>,
        Option<EcdsaSigner>,
    ) {
        (
            self.suite,
            self.encryption_context,
            self.required_encryption_context_keys,
            self.encrypted_data_keys,
            self.plaintext_data_key,
            self.signer,
        )
    }
}

/// Materials for decrypting one message.
pub struct DecryptionMaterials {
    suite: AlgorithmSuite,
    encryption_context: EncryptionContext,
    required_encryption_context_keys: BTreeSet<String>,
    plaintext_data_key: Option<SecretBytes>,
    verification_key: Option<Vec<u8>>,
}

impl DecryptionMaterials {
    pub fn new(
        suite: AlgorithmSuite,
        encryption_context: EncryptionContext,
        required_encryption_context_keys: BTreeSet<String>,
        verification_key: Option<Vec<u8>>,
    ) -> Result<Self> {
        if suite.is_signed() != verification_key.is_some() {
            return Err(Error::Config("verification key presence does not match the algorithm suite".into()));
        }
        Ok(Self {
            suite,
            encryption_context,
            required_encryption_context_keys,
            plaintext_data_key: None,
            verification_key,
        })
    }

    pub fn suite(&self) -> AlgorithmSuite {
        self.suite
    }

    /// The message's context plus reproduced pairs that were not stored.
    pub fn encryption_context(&self) -> &EncryptionContext {
        &self.encryption_context
    }

    pub fn required_encryption_context_keys(&self) -> &BTreeSet<String> {
        &self.required_encryption_context_keys
    }

    pub fn plaintext_data_key(&self) -> Option<&SecretBytes> {
        self.plaintext_data_key.as_ref()
    }

    /// SEC1 compressed public point of the message's signing key, for signed suites.
    pub fn verification_key(&self) -> Option<&[u8]> {
        self.verification_key.as_deref()
    }

    pub fn set_plaintext_data_key(&mut self, key: SecretBytes) -> Result<()> {
        if self.plaintext_data_key.is_some() {
            return Err(Error::Keyring("the data key is already set".into()));
        }
        if key.len() != self.suite.data_key_len() {
            return Err(Error::Keyring("data key length does not match the algorithm suite".into()));
        }
        self.plaintext_data_key = Some(key);
        Ok(())
    }
}
