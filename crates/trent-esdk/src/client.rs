//! The client: policy and limits, and the encrypt/decrypt entry points.

use std::io::{Read, Write};

use crate::{
    DecryptOptions, Decryptor, EncryptOptions, EncryptionContext, Encryptor, HeaderBody, MaterialsManager, Result,
};

/// Client configuration shared by many messages. Defaults: REQUIRE_ENCRYPT_REQUIRE_DECRYPT, no limit
/// on encrypted data keys, no .NET 4.0.0 retry.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub(crate) commitment_policy: crate::CommitmentPolicy,
    pub(crate) max_encrypted_data_keys: Option<usize>,
    pub(crate) net_v4_0_0_retry: bool,
}

/// A decrypted message.
#[derive(Debug)]
pub struct Decrypted {
    pub plaintext: Vec<u8>,
    pub header: HeaderBody,
    /// Stored pairs plus reproduced required-only pairs.
    pub encryption_context: EncryptionContext,
}

impl Client {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_commitment_policy(mut self, policy: crate::CommitmentPolicy) -> Self {
        self.commitment_policy = policy;
        self
    }

    /// Encryption fails with more EDKs than `max`; decryption fails as soon as it reads a count
    /// above `max`.
    pub fn with_max_encrypted_data_keys(mut self, max: usize) -> Self {
        self.max_encrypted_data_keys = Some(max);
        self
    }

    /// Accept messages written by ESDK-.NET 4.0.0 (non-conformant header authentication and HKDF):
    /// when header authentication fails, retry once the way that version computed it. Off by
    /// default; the Dafny-based SDKs turn it on by default.
    pub fn with_net_v4_0_0_retry(mut self, on: bool) -> Self {
        self.net_v4_0_0_retry = on;
        self
    }

    pub fn commitment_policy(&self) -> crate::CommitmentPolicy {
        self.commitment_policy
    }

    /// Starts a message written to `out`: the header is written now, frames as plaintext is
    /// written, the final frame and footer at [`Encryptor::finish`].
    pub fn encryptor<W: Write>(
        &self,
        cmm: &dyn MaterialsManager,
        encryption_context: &EncryptionContext,
        options: &EncryptOptions,
        out: W,
    ) -> Result<Encryptor<W>> {
        Encryptor::new(self, cmm, encryption_context, options, out)
    }

    /// Encrypts a whole buffer.
    pub fn encrypt(
        &self,
        cmm: &dyn MaterialsManager,
        encryption_context: &EncryptionContext,
        plaintext: &[u8],
        options: &EncryptOptions,
    ) -> Result<Vec<u8>> {
        let mut e = self.encryptor(cmm, encryption_context, options, Vec::new())?;
        e.write_all(plaintext).map_err(unwrap_io)?;
        e.finish()
    }

    /// Reads and authenticates the header from `input`; the returned reader yields the plaintext.
    pub fn decryptor<R: Read>(
        &self,
        cmm: &dyn MaterialsManager,
        input: R,
        options: &DecryptOptions,
    ) -> Result<Decryptor<R>> {
        Decryptor::new(self, cmm, input, options)
    }

    /// Decrypts a whole message; nothing is returned unless every check passed.
    pub fn decrypt(
        &self,
        cmm: &dyn MaterialsManager,
        ciphertext: &[u8],
        options: &DecryptOptions,
    ) -> Result<Decrypted> {
        let mut d = self.decryptor(cmm, ciphertext, options)?;
        let mut plaintext = Vec::new();
        d.read_to_end(&mut plaintext).map_err(unwrap_io)?;
        Ok(Decrypted { plaintext, header: d.header().clone(), encryption_context: d.encryption_context().clone() })
    }
}

/// Recovers our error from the `io::Error` a `Read` impl had to return.
pub(crate) fn unwrap_io(e: std::io::Error) -> crate::Error {
    if e.get_ref().is_some_and(|inner| inner.is::<crate::Error>()) {
        if let Some(inner) = e.into_inner()
            && let Ok(ours) = inner.downcast::<crate::Error>()
        {
            return *ours;
        }
        return crate::Error::Malformed("unexpected error");
    }
    crate::Error::from_read(e)
}
