//! AWS KMS keyrings (SPEC framework/aws-kms/aws-kms-keyring.md): data keys generated and wrapped by a
//! KMS, Trent or AWS, reached through [`trent_client::KmsClient`] (endpoint and credentials the
//! standard way).
//!
//! EDK: provider id `aws-kms`, provider info = the key ARN KMS answered with, ciphertext = KMS's
//! CiphertextBlob. The KMS encryption context is the message's (including `aws-crypto-public-key`),
//! so the data key is bound to it by KMS.
//!
//! - [`AwsKmsKeyring`] (strict): encrypts with every listed key (the first generates the data key
//!   when none exists yet); decrypts only EDKs whose provider info is one of the listed key ARNs,
//!   calling Decrypt with that `KeyId`.
//! - [`AwsKmsDiscoveryKeyring`]: cannot encrypt; decrypts any `aws-kms` EDK (optionally only those
//!   of given accounts in a partition), with the ARN from the message as `KeyId`.
//!
//! Both require the reply's `KeyId` to equal the ARN asked for, and the plaintext to have the suite's
//! data key length, as the official SDKs do.
//!
//! Multi-Region keys (SPEC aws-kms-mrk-match-for-decrypt): the strict keyring treats a configured key
//! ARN and an EDK's key ARN as the same key when both are multi-Region keys (`key/mrk-...`) that
//! differ only in region, and then asks its own configured ARN (its own region) to decrypt, as the
//! MRK-aware keyrings of the official SDKs do. Discovery keyrings use the EDK's ARN as written (no
//! region substitution).

use std::sync::Arc;

use trent_client::KmsClient;
use trent_crypto::SecretBytes;

use super::{AWS_KMS_PROVIDER_ID, Keyring};
use crate::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials, Error, Result};

/// A parsed KMS ARN (`arn:<partition>:kms:<region>:<account>:<key|alias>/<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    /// `key` or `alias`.
    pub resource_type: &'a str,
    pub resource_id: &'a str,
}

impl<'a> KmsArn<'a> {
    /// The spec's validity rules: six `:`-separated parts, `arn`, non-empty partition, `kms`,
    /// non-empty region and account, resource `key/<id>` or `alias/<id>`.
    pub fn parse(s: &'a str) -> Option<Self> {
        let mut parts = s.splitn(6, ':');
        let (arn, partition, service, region, account, resource) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if arn != "arn" || service != "kms" || [partition, region, account].iter().any(|p| p.is_empty()) {
            return None;
        }
        let (resource_type, resource_id) = resource.split_once('/')?;
        if !matches!(resource_type, "key" | "alias") || resource_id.is_empty() {
            return None;
        }
        Some(Self { partition, region, account, resource_type, resource_id })
    }
}

impl KmsArn<'_> {
    /// A multi-Region key: resource type `key` and an id starting with `mrk-`.
    pub fn is_multi_region_key(&self) -> bool {
        self.resource_type == "key" && self.resource_id.starts_with("mrk-")
    }
}

/// Whether a configured key identifier and an EDK's key ARN name the same key for decryption: equal,
/// or both multi-Region key ARNs equal in everything but the region.
pub fn mrk_match(configured: &str, edk_arn: &str) -> bool {
    if configured == edk_arn {
        return true;
    }
    match (KmsArn::parse(configured), KmsArn::parse(edk_arn)) {
        (Some(a), Some(b)) => {
            a.is_multi_region_key()
                && b.is_multi_region_key()
                && (a.partition, a.account, a.resource_type, a.resource_id)
                    == (b.partition, b.account, b.resource_type, b.resource_id)
        }
        _ => false,
    }
}

/// The key ARN of an `aws-kms` EDK, if it is one.
fn edk_key_arn(edk: &EncryptedDataKey) -> Option<&str> {
    if edk.provider_id != AWS_KMS_PROVIDER_ID {
        return None;
    }
    let arn = std::str::from_utf8(&edk.provider_info).ok()?;
    KmsArn::parse(arn).filter(|a| a.resource_type == "key").map(|_| arn)
}

/// Decrypts `edk` under `key_arn` and applies the reply checks both keyrings share.
fn decrypt_one(
    client: &KmsClient,
    grant_tokens: &[String],
    materials: &DecryptionMaterials,
    key_arn: &str,
    edk: &EncryptedDataKey,
) -> Result<SecretBytes> {
    let out = client
        .decrypt(key_arn, &edk.ciphertext, materials.encryption_context(), grant_tokens)
        .map_err(|e| Error::Keyring(e.to_string()))?;
    if out.key_id != key_arn {
        return Err(Error::Keyring(format!("KMS decrypted with {} instead of the requested {key_arn}", out.key_id)));
    }
    if out.plaintext.len() != materials.suite().data_key_len() {
        return Err(Error::Keyring(format!("KMS returned a data key of the wrong length for {key_arn}")));
    }
    Ok(out.plaintext)
}

fn no_key(what: &str, errors: Vec<String>) -> Error {
    if errors.is_empty() {
        Error::NoDecryptableKey(format!("{what}: no encrypted data key matches"))
    } else {
        Error::NoDecryptableKey(format!("{what}: {}", errors.join("; ")))
    }
}

/// Strict AWS KMS keyring: a list of key identifiers; the first is the generator.
pub struct AwsKmsKeyring {
    client: Arc<KmsClient>,
    key_ids: Vec<String>,
    grant_tokens: Vec<String>,
}

impl AwsKmsKeyring {
    /// `key_ids`: key ARNs (needed to decrypt), or for encryption also key ids, alias names and alias
    /// ARNs. The first generates the data key when the materials have none.
    pub fn new(client: Arc<KmsClient>, key_ids: Vec<String>) -> Result<Self> {
        if key_ids.is_empty() || key_ids.iter().any(String::is_empty) {
            return Err(Error::Config("an AWS KMS keyring needs at least one non-empty key id".into()));
        }
        Ok(Self { client, key_ids, grant_tokens: Vec::new() })
    }

    pub fn with_grant_tokens(mut self, grant_tokens: Vec<String>) -> Self {
        self.grant_tokens = grant_tokens;
        self
    }

    fn add_edk(materials: &mut EncryptionMaterials, key_arn: String, ciphertext: Vec<u8>) -> Result<()> {
        if KmsArn::parse(&key_arn).is_none_or(|a| a.resource_type != "key") {
            return Err(Error::Keyring(format!("KMS answered with an invalid key ARN {key_arn:?}")));
        }
        materials.add_encrypted_data_key(EncryptedDataKey {
            provider_id: AWS_KMS_PROVIDER_ID.to_owned(),
            provider_info: key_arn.into_bytes(),
            ciphertext,
        });
        Ok(())
    }
}

impl Keyring for AwsKmsKeyring {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<()> {
        let kms_err = |id: &str, e: trent_client::Error| Error::Keyring(format!("KMS key {id}: {e}"));
        let mut wrap_with = &self.key_ids[..];
        if materials.plaintext_data_key().is_none()
            && let Some((generator, rest)) = self.key_ids.split_first()
        {
            let out = self
                .client
                .generate_data_key(
                    generator,
                    materials.suite().data_key_len(),
                    materials.encryption_context(),
                    &self.grant_tokens,
                )
                .map_err(|e| kms_err(generator, e))?;
            materials.set_plaintext_data_key(out.plaintext)?;
            Self::add_edk(materials, out.key_id, out.ciphertext_blob)?;
            wrap_with = rest;
        }
        for key_id in wrap_with {
            let dk = materials.plaintext_data_key().ok_or_else(|| Error::Keyring("no data key".into()))?;
            let out = self
                .client
                .encrypt(key_id, dk, materials.encryption_context(), &self.grant_tokens)
                .map_err(|e| kms_err(key_id, e))?;
            Self::add_edk(materials, out.key_id, out.ciphertext_blob)?;
        }
        Ok(())
    }

    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<SecretBytes> {
        let mut errors = Vec::new();
        for edk in encrypted_data_keys {
            let Some(arn) = edk_key_arn(edk) else { continue };
            // Only the configured identifiers: an alias or a bare key id never matches an EDK; a
            // multi-Region key matches its replicas, and is asked in the configured region.
            let Some(key) = self.key_ids.iter().find(|k| mrk_match(k, arn)) else {
                continue;
            };
            match decrypt_one(&self.client, &self.grant_tokens, materials, key, edk) {
                Ok(key) => return Ok(key),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(no_key("AWS KMS keyring", errors))
    }
}

/// Which EDKs a discovery keyring may try: keys of these accounts in this partition.
#[derive(Debug, Clone)]
pub struct DiscoveryFilter {
    pub partition: String,
    pub accounts: Vec<String>,
}

/// Discovery AWS KMS keyring: decrypt-only, with whatever key ARN each EDK names.
pub struct AwsKmsDiscoveryKeyring {
    client: Arc<KmsClient>,
    filter: Option<DiscoveryFilter>,
    grant_tokens: Vec<String>,
}

impl AwsKmsDiscoveryKeyring {
    pub fn new(client: Arc<KmsClient>, filter: Option<DiscoveryFilter>) -> Result<Self> {
        if let Some(f) = &filter
            && (f.partition.is_empty() || f.accounts.is_empty() || f.accounts.iter().any(String::is_empty))
        {
            return Err(Error::Config("a discovery filter needs a partition and at least one account".into()));
        }
        Ok(Self { client, filter, grant_tokens: Vec::new() })
    }

    pub fn with_grant_tokens(mut self, grant_tokens: Vec<String>) -> Self {
        self.grant_tokens = grant_tokens;
        self
    }

    fn allowed(&self, arn: &KmsArn<'_>) -> bool {
        self.filter.as_ref().is_none_or(|f| f.partition == arn.partition && f.accounts.iter().any(|a| a == arn.account))
    }
}

impl Keyring for AwsKmsDiscoveryKeyring {
    fn on_encrypt(&self, _materials: &mut EncryptionMaterials) -> Result<()> {
        Err(Error::Config("a discovery AWS KMS keyring cannot encrypt".into()))
    }

    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<SecretBytes> {
        let mut errors = Vec::new();
        for edk in encrypted_data_keys {
            let Some(arn) = edk_key_arn(edk) else { continue };
            if !KmsArn::parse(arn).is_some_and(|a| self.allowed(&a)) {
                continue;
            }
            match decrypt_one(&self.client, &self.grant_tokens, materials, arn, edk) {
                Ok(key) => return Ok(key),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(no_key("AWS KMS discovery keyring", errors))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn arn_validation() {
        let a = KmsArn::parse("arn:aws:kms:us-east-1:111122223333:key/1234abcd").unwrap();
        assert_eq!((a.partition, a.region, a.account, a.resource_type), ("aws", "us-east-1", "111122223333", "key"));
        assert!(KmsArn::parse("arn:aws:kms:us-east-1:111122223333:alias/my").is_some());
        for bad in [
            "1234abcd",
            "alias/x",
            "arn:aws:kms:us-east-1:111122223333:key/",
            "arn:aws:kms::111122223333:key/x",
            "arn:aws:kms:us-east-1::key/x",
            "arn::kms:us-east-1:1:key/x",
            "arn:aws:s3:us-east-1:1:key/x",
            "arn:aws:kms:us-east-1:1:grant/x",
            "arn:aws:kms:us-east-1:1:keyx",
        ] {
            assert!(KmsArn::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn multi_region_keys_match_across_regions_only() {
        let east = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd";
        let west = "arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd";
        assert!(mrk_match(east, east) && mrk_match(east, west) && mrk_match(west, east));
        for other in [
            "arn:aws:kms:us-west-2:444455556666:key/mrk-1234abcd", // another account
            "arn:aws-cn:kms:us-west-2:111122223333:key/mrk-1234abcd", // another partition
            "arn:aws:kms:us-west-2:111122223333:key/mrk-9999",     // another key
            "arn:aws:kms:us-west-2:111122223333:alias/mrk-1234abcd", // an alias
            "mrk-1234abcd",                                        // a bare key id
        ] {
            assert!(!mrk_match(east, other) && !mrk_match(other, east), "{other}");
        }
        // Single-Region keys must match exactly.
        let a = "arn:aws:kms:us-east-1:111122223333:key/1234abcd";
        assert!(!mrk_match(a, "arn:aws:kms:us-west-2:111122223333:key/1234abcd"));
        assert!(mrk_match(a, a));
    }

    #[test]
    fn only_aws_kms_key_arns_are_candidates() {
        let edk = |id: &str, info: &str| EncryptedDataKey {
            provider_id: id.into(),
            provider_info: info.as_bytes().to_vec(),
            ciphertext: vec![1],
        };
        let arn = "arn:aws:kms:us-east-1:111122223333:key/k";
        assert_eq!(edk_key_arn(&edk("aws-kms", arn)), Some(arn));
        assert_eq!(edk_key_arn(&edk("aws-kms-x", arn)), None);
        assert_eq!(edk_key_arn(&edk("aws-kms", "arn:aws:kms:us-east-1:111122223333:alias/a")), None);
        assert_eq!(edk_key_arn(&edk("raw", arn)), None);
    }
}
