//! Keyrings: they generate, encrypt and decrypt data keys.
//!
//! The trait is synchronous and object-safe, and a keyring sees only materials and encrypted data
//! keys, so a keyring that calls a remote service (an AWS KMS keyring calling Trent or AWS over
//! HTTP: GenerateDataKey when no data key exists yet, Encrypt otherwise, Decrypt on the way back) fits
//! without changing it; it reports remote failures as [`Error::Keyring`](crate::Error::Keyring).

#[cfg(feature = "kms")]
mod aws_kms;
mod multi;
mod raw_aes;
mod raw_rsa;

#[cfg(feature = "kms")]
pub use aws_kms::{AwsKmsDiscoveryKeyring, AwsKmsKeyring, DiscoveryFilter, KmsArn, mrk_match};
pub use multi::MultiKeyring;
pub use raw_aes::RawAesKeyring;
pub use raw_rsa::RawRsaKeyring;

use trent_crypto::SecretBytes;

use crate::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials, Error, Result};

/// Provider ids starting with this are reserved for the AWS KMS keyrings.
pub const AWS_KMS_PROVIDER_ID: &str = "aws-kms";

pub trait Keyring: Send + Sync {
    /// Adds an encrypted copy of the data key to `materials`. When the materials have no data key
    /// yet, a keyring that can generate one does so first (and sets it); one that cannot fails.
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<()>;

    /// Returns the data key decrypted from the first of `encrypted_data_keys` this keyring can
    /// decrypt, or fails (typically [`Error::NoDecryptableKey`]) when it can decrypt none.
    /// `materials` is read-only here, so every keyring (and every child of a multi-keyring) sees the
    /// same unmodified input; the caller stores the key.
    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<SecretBytes>;
}

/// Raw keyrings' namespaces must not impersonate KMS keyrings.
pub(crate) fn check_namespace(namespace: &str) -> Result<()> {
    if namespace.starts_with(AWS_KMS_PROVIDER_ID) {
        return Err(Error::Config(format!("key namespace {namespace:?} is reserved for AWS KMS keyrings")));
    }
    if namespace.len() > usize::from(u16::MAX) {
        return Err(Error::Config("key namespace longer than 65535 bytes".into()));
    }
    Ok(())
}

/// A fresh data key for `materials`' suite.
pub(crate) fn generate_data_key(materials: &mut EncryptionMaterials) -> Result<()> {
    let key = trent_crypto::random_secret(materials.suite().data_key_len())?;
    materials.set_plaintext_data_key(key)
}
