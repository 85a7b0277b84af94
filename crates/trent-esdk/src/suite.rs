//! The 11 ESDK algorithm suites and the three commitment policies.

use trent_crypto::esdk::{EcdsaCurve, HkdfHash};

use crate::{Error, Result};

/// How a suite turns the plaintext data key into the content-encryption key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// The data key is the encryption key (legacy suites 0x0014/0x0046/0x0078).
    Identity,
    /// HKDF with no salt and info = `suite id ‖ message id`.
    Hkdf(HkdfHash),
    /// HKDF-SHA512 with the message id as salt, plus a commit key stored in the header.
    CommittingHkdfSha512,
}

/// An ESDK algorithm suite. All use AES-GCM with a 12-byte IV and a 16-byte tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlgorithmSuite {
    Aes128GcmIv12Tag16NoKdf,
    Aes192GcmIv12Tag16NoKdf,
    Aes256GcmIv12Tag16NoKdf,
    Aes128GcmIv12Tag16HkdfSha256,
    Aes192GcmIv12Tag16HkdfSha256,
    Aes256GcmIv12Tag16HkdfSha256,
    Aes128GcmIv12Tag16HkdfSha256EcdsaP256,
    Aes192GcmIv12Tag16HkdfSha384EcdsaP384,
    Aes256GcmIv12Tag16HkdfSha384EcdsaP384,
    Aes256GcmHkdfSha512CommitKey,
    Aes256GcmHkdfSha512CommitKeyEcdsaP384,
}

impl AlgorithmSuite {
    pub const ALL: [Self; 11] = [
        Self::Aes128GcmIv12Tag16NoKdf,
        Self::Aes192GcmIv12Tag16NoKdf,
        Self::Aes256GcmIv12Tag16NoKdf,
        Self::Aes128GcmIv12Tag16HkdfSha256,
        Self::Aes192GcmIv12Tag16HkdfSha256,
        Self::Aes256GcmIv12Tag16HkdfSha256,
        Self::Aes128GcmIv12Tag16HkdfSha256EcdsaP256,
        Self::Aes192GcmIv12Tag16HkdfSha384EcdsaP384,
        Self::Aes256GcmIv12Tag16HkdfSha384EcdsaP384,
        Self::Aes256GcmHkdfSha512CommitKey,
        Self::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
    ];

    /// The 2-byte identifier written in headers.
    pub fn id(self) -> u16 {
        match self {
            Self::Aes128GcmIv12Tag16NoKdf => 0x0014,
            Self::Aes192GcmIv12Tag16NoKdf => 0x0046,
            Self::Aes256GcmIv12Tag16NoKdf => 0x0078,
            Self::Aes128GcmIv12Tag16HkdfSha256 => 0x0114,
            Self::Aes192GcmIv12Tag16HkdfSha256 => 0x0146,
            Self::Aes256GcmIv12Tag16HkdfSha256 => 0x0178,
            Self::Aes128GcmIv12Tag16HkdfSha256EcdsaP256 => 0x0214,
            Self::Aes192GcmIv12Tag16HkdfSha384EcdsaP384 => 0x0346,
            Self::Aes256GcmIv12Tag16HkdfSha384EcdsaP384 => 0x0378,
            Self::Aes256GcmHkdfSha512CommitKey => 0x0478,
            Self::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => 0x0578,
        }
    }

    /// The suite with identifier `id`. Reserved (0x0000) and non-ESDK suites (S3EC, DBE) are
    /// rejected.
    pub fn from_id(id: u16) -> Result<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id).ok_or(Error::UnsupportedSuite(id))
    }

    /// The name used by the Python SDK's `Algorithm` enum and the CLI's `--algorithm`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes128GcmIv12Tag16NoKdf => "AES_128_GCM_IV12_TAG16",
            Self::Aes192GcmIv12Tag16NoKdf => "AES_192_GCM_IV12_TAG16",
            Self::Aes256GcmIv12Tag16NoKdf => "AES_256_GCM_IV12_TAG16",
            Self::Aes128GcmIv12Tag16HkdfSha256 => "AES_128_GCM_IV12_TAG16_HKDF_SHA256",
            Self::Aes192GcmIv12Tag16HkdfSha256 => "AES_192_GCM_IV12_TAG16_HKDF_SHA256",
            Self::Aes256GcmIv12Tag16HkdfSha256 => "AES_256_GCM_IV12_TAG16_HKDF_SHA256",
            Self::Aes128GcmIv12Tag16HkdfSha256EcdsaP256 => "AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256",
            Self::Aes192GcmIv12Tag16HkdfSha384EcdsaP384 => "AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
            Self::Aes256GcmIv12Tag16HkdfSha384EcdsaP384 => "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
            Self::Aes256GcmHkdfSha512CommitKey => "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
            Self::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
        }
    }

    /// The suite whose [`AlgorithmSuite::name`] is `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Message format version: 2 for the committing suites, 1 otherwise.
    pub fn message_format_version(self) -> u8 {
        if self.is_committing() { 2 } else { 1 }
    }

    /// Length of the plaintext data key, which is also the AES key length.
    pub fn data_key_len(self) -> usize {
        match self.id() & 0x00ff {
            0x14 => 16,
            0x46 => 24,
            _ => 32,
        }
    }

    pub fn kdf(self) -> Kdf {
        match self {
            Self::Aes128GcmIv12Tag16NoKdf | Self::Aes192GcmIv12Tag16NoKdf | Self::Aes256GcmIv12Tag16NoKdf => {
                Kdf::Identity
            }
            Self::Aes128GcmIv12Tag16HkdfSha256
            | Self::Aes192GcmIv12Tag16HkdfSha256
            | Self::Aes256GcmIv12Tag16HkdfSha256
            | Self::Aes128GcmIv12Tag16HkdfSha256EcdsaP256 => Kdf::Hkdf(HkdfHash::Sha256),
            Self::Aes192GcmIv12Tag16HkdfSha384EcdsaP384 | Self::Aes256GcmIv12Tag16HkdfSha384EcdsaP384 => {
                Kdf::Hkdf(HkdfHash::Sha384)
            }
            Self::Aes256GcmHkdfSha512CommitKey | Self::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => {
                Kdf::CommittingHkdfSha512
            }
        }
    }

    /// The footer signature's curve, for signed suites.
    pub fn signature(self) -> Option<EcdsaCurve> {
        match self {
            Self::Aes128GcmIv12Tag16HkdfSha256EcdsaP256 => Some(EcdsaCurve::P256),
            Self::Aes192GcmIv12Tag16HkdfSha384EcdsaP384
            | Self::Aes256GcmIv12Tag16HkdfSha384EcdsaP384
            | Self::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => Some(EcdsaCurve::P384),
            _ => None,
        }
    }

    pub fn is_signed(self) -> bool {
        self.signature().is_some()
    }

    pub fn is_committing(self) -> bool {
        self.kdf() == Kdf::CommittingHkdfSha512
    }

    /// Message id length: 16 bytes in v1 messages, 32 in v2.
    pub fn message_id_len(self) -> usize {
        if self.is_committing() { 32 } else { 16 }
    }
}

/// Which suites a client may encrypt and decrypt with (key commitment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitmentPolicy {
    /// Encrypt only with non-committing suites; decrypt anything. For migrating from SDK 1.x.
    ForbidEncryptAllowDecrypt,
    /// Encrypt only with committing suites; decrypt anything.
    RequireEncryptAllowDecrypt,
    /// Encrypt and decrypt only committing suites (v2 messages). The default.
    #[default]
    RequireEncryptRequireDecrypt,
}

impl CommitmentPolicy {
    pub fn allows_encrypt(self, suite: AlgorithmSuite) -> bool {
        match self {
            Self::ForbidEncryptAllowDecrypt => !suite.is_committing(),
            Self::RequireEncryptAllowDecrypt | Self::RequireEncryptRequireDecrypt => suite.is_committing(),
        }
    }

    pub fn allows_decrypt(self, suite: AlgorithmSuite) -> bool {
        match self {
            Self::ForbidEncryptAllowDecrypt | Self::RequireEncryptAllowDecrypt => true,
            Self::RequireEncryptRequireDecrypt => suite.is_committing(),
        }
    }

    /// The suite used when the caller names none. Under FORBID the implementations (not the spec
    /// text, which says 0x0078) use 0x0378; we follow them.
    pub fn default_suite(self) -> AlgorithmSuite {
        match self {
            Self::ForbidEncryptAllowDecrypt => AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384,
            _ => AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
        }
    }

    pub(crate) fn check_encrypt(self, suite: AlgorithmSuite) -> Result<()> {
        if self.allows_encrypt(suite) {
            Ok(())
        } else {
            Err(Error::CommitmentPolicy { suite: suite.id(), policy: self })
        }
    }

    pub(crate) fn check_decrypt(self, suite: AlgorithmSuite) -> Result<()> {
        if self.allows_decrypt(suite) {
            Ok(())
        } else {
            Err(Error::CommitmentPolicy { suite: suite.id(), policy: self })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_properties() {
        for s in AlgorithmSuite::ALL {
            assert_eq!(AlgorithmSuite::from_id(s.id()).unwrap(), s);
            assert_eq!(AlgorithmSuite::from_name(s.name()), Some(s));
        }
        for bad in [0x0000, 0x0070, 0x0072, 0x0074, 0x6700, 0x6701, 0xffff] {
            assert!(AlgorithmSuite::from_id(bad).is_err());
        }
        let s = AlgorithmSuite::from_id(0x0346).unwrap();
        assert_eq!((s.data_key_len(), s.signature(), s.message_format_version()), (24, Some(EcdsaCurve::P384), 1));
        let s = AlgorithmSuite::from_id(0x0578).unwrap();
        assert_eq!((s.data_key_len(), s.message_id_len(), s.message_format_version()), (32, 32, 2));
        assert_eq!(AlgorithmSuite::from_id(0x0114).unwrap().data_key_len(), 16);
    }

    #[test]
    fn policies() {
        let v1 = AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384;
        let v2 = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
        let p = CommitmentPolicy::default();
        assert_eq!(p, CommitmentPolicy::RequireEncryptRequireDecrypt);
        assert!(!p.allows_decrypt(v1) && p.allows_decrypt(v2) && !p.allows_encrypt(v1));
        let p = CommitmentPolicy::RequireEncryptAllowDecrypt;
        assert!(p.allows_decrypt(v1) && !p.allows_encrypt(v1) && p.allows_encrypt(v2));
        let p = CommitmentPolicy::ForbidEncryptAllowDecrypt;
        assert!(p.allows_encrypt(v1) && !p.allows_encrypt(v2) && p.allows_decrypt(v2));
        assert_eq!(p.default_suite().id(), 0x0378);
        assert_eq!(CommitmentPolicy::default().default_suite().id(), 0x0578);
    }
}
