//! Ed25519 signatures, for the audit trail's signed digest records.
//!
//! Ed25519 because its signatures are deterministic (no per-signature nonce to get wrong), small (64 bytes)
//! and verifiable with stock tools (`openssl pkeyutl -verify -rawin`) from the published public key alone.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use crate::{CryptoError, SecretBytes};

/// Length of an Ed25519 public key and of a signature.
pub const ED25519_PUBLIC_KEY_LEN: usize = 32;
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow. Lets callers write
/// and read `-----BEGIN PUBLIC KEY-----` files without an ASN.1 parser.
pub const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// An Ed25519 private key. No `Clone`; `Debug` shows only the public half.
pub struct SigningKey(Ed25519KeyPair);

impl SigningKey {
    /// A fresh key and its PKCS#8 encoding (secret: to be stored wrapped).
    pub fn generate() -> Result<(Self, SecretBytes), CryptoError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| CryptoError::Internal)?;
        let pkcs8 = SecretBytes::new(doc.as_ref().to_vec());
        let key = Self::from_pkcs8(&pkcs8)?;
        Ok((key, pkcs8))
    }

    /// Loads a key from its PKCS#8 encoding (v1 or v2).
    pub fn from_pkcs8(pkcs8: &SecretBytes) -> Result<Self, CryptoError> {
        // The PKCS#8 bytes are needed to build the key pair; they stay in `pkcs8`, which zeroizes.
        Ed25519KeyPair::from_pkcs8(pkcs8.expose_secret()).map(Self).map_err(|_| CryptoError::Malformed)
    }

    pub fn public_key(&self) -> [u8; ED25519_PUBLIC_KEY_LEN] {
        let mut out = [0u8; ED25519_PUBLIC_KEY_LEN];
        out.copy_from_slice(self.0.public_key().as_ref());
        out
    }

    pub fn sign(&self, message: &[u8]) -> [u8; ED25519_SIGNATURE_LEN] {
        let mut out = [0u8; ED25519_SIGNATURE_LEN];
        out.copy_from_slice(self.0.sign(message).as_ref());
        out
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(ed25519 public {})", crate::digest::hex(&self.public_key()))
    }
}

/// Whether `sig` is a valid Ed25519 signature of `message` by `public_key` (32 raw bytes).
pub fn verify_ed25519(public_key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::ED25519, public_key).verify(message, sig).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_reload() {
        let (key, pkcs8) = SigningKey::generate().unwrap();
        let sig = key.sign(b"digest");
        assert!(verify_ed25519(&key.public_key(), b"digest", &sig));
        assert!(!verify_ed25519(&key.public_key(), b"digesT", &sig));
        let again = SigningKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert!(!format!("{key:?}").is_empty());
    }

    #[test]
    fn rfc8032_test_1_verifies() {
        // RFC 8032 section 7.1, TEST 1 (empty message).
        let pk = unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let sig = unhex(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        );
        assert!(verify_ed25519(&pk, b"", &sig));
    }

    fn unhex(s: &str) -> Vec<u8> {
        ::hex::decode(s).unwrap()
    }
}
