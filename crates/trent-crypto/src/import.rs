//! Importing key material (bring your own key): the RSA wrapping key AWS's GetParametersForImport hands out, and
//! the unwrapping of what the customer encrypted under it.
//!
//! Supported wrapping algorithms, as AWS defines them:
//! - `RSAES_OAEP_SHA_1`, `RSAES_OAEP_SHA_256`: the key material itself, RSA-OAEP encrypted (MGF1 with the same
//!   hash).
//! - `RSAES_PKCS1_V1_5`: deprecated by AWS, still accepted for symmetric material.
//! - `RSA_AES_KEY_WRAP_SHA_1`, `RSA_AES_KEY_WRAP_SHA_256`: an ephemeral AES-256 key RSA-OAEP encrypted, followed
//!   by the key material wrapped under it with AES key wrap with padding (RFC 5649), as `openssl pkeyutl` plus
//!   `openssl enc -id-aes256-wrap-pad` produce it.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey,
    PrivateDecryptingKey,
};

use crate::digest::{HmacSha256Key, hex};
use crate::{CryptoError, SecretBytes};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingKeySpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingAlgorithm {
    RsaesPkcs1V15,
    RsaesOaepSha1,
    RsaesOaepSha256,
    RsaAesKeyWrapSha1,
    RsaAesKeyWrapSha256,
}

/// The private half of an import wrapping key. Stored only wrapped under the root key, for the 24 hours the
/// import token is valid.
pub struct ImportWrappingKey(PrivateDecryptingKey);

impl ImportWrappingKey {
    pub fn generate(spec: WrappingKeySpec) -> Result<Self, CryptoError> {
        let size = match spec {
            WrappingKeySpec::Rsa2048 => KeySize::Rsa2048,
            WrappingKeySpec::Rsa3072 => KeySize::Rsa3072,
            WrappingKeySpec::Rsa4096 => KeySize::Rsa4096,
        };
        PrivateDecryptingKey::generate(size).map(Self).map_err(|_| CryptoError::Internal)
    }

    pub fn from_pkcs8(der: &SecretBytes) -> Result<Self, CryptoError> {
        PrivateDecryptingKey::from_pkcs8(der.expose_secret()).map(Self).map_err(|_| CryptoError::Malformed)
    }

    /// PKCS#8 DER of the private key, to be wrapped under the root key.
    pub fn to_pkcs8(&self) -> Result<SecretBytes, CryptoError> {
        let der: Pkcs8V1Der<'static> = self.0.as_der().map_err(|_| CryptoError::Internal)?;
        Ok(SecretBytes::new(der.as_ref().to_vec()))
    }

    /// The public key as DER SubjectPublicKeyInfo, what GetParametersForImport returns.
    pub fn public_key_der(&self) -> Result<Vec<u8>, CryptoError> {
        let der: PublicKeyX509Der<'static> = self.0.public_key().as_der().map_err(|_| CryptoError::Internal)?;
        Ok(der.as_ref().to_vec())
    }

    /// Recovers key material encrypted under this key with `algorithm`.
    pub fn unwrap_material(&self, algorithm: WrappingAlgorithm, encrypted: &[u8]) -> Result<SecretBytes, CryptoError> {
        let modulus = self.0.key_size_bytes();
        match algorithm {
            WrappingAlgorithm::RsaesOaepSha1 => self.oaep(&OAEP_SHA1_MGF1SHA1, encrypted),
            WrappingAlgorithm::RsaesOaepSha256 => self.oaep(&OAEP_SHA256_MGF1SHA256, encrypted),
            WrappingAlgorithm::RsaesPkcs1V15 => {
                let key = Pkcs1PrivateDecryptingKey::new(self.clone_key()?).map_err(|_| CryptoError::Internal)?;
                let mut out = SecretBytes::zeroed(modulus);
                let n = key.decrypt(encrypted, out.expose_secret_mut()).map_err(|_| CryptoError::Authentication)?.len();
                out.expose_secret_mut().truncate(n);
                Ok(out)
            }
            WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
                if encrypted.len() <= modulus {
                    return Err(CryptoError::Malformed);
                }
                let (rsa_part, wrapped) = encrypted.split_at(modulus);
                let oaep = if algorithm == WrappingAlgorithm::RsaAesKeyWrapSha1 {
                    &OAEP_SHA1_MGF1SHA1
                } else {
                    &OAEP_SHA256_MGF1SHA256
                };
                let kek = self.oaep(oaep, rsa_part)?;
                let kek = AesKek::new(&AES_256, kek.expose_secret()).map_err(|_| CryptoError::Malformed)?;
                let mut out = SecretBytes::zeroed(wrapped.len());
                let n = kek
                    .unwrap_with_padding(wrapped, out.expose_secret_mut())
                    .map_err(|_| CryptoError::Authentication)?
                    .len();
                out.expose_secret_mut().truncate(n);
                Ok(out)
            }
        }
    }

    fn oaep(&self, alg: &'static aws_lc_rs::rsa::OaepAlgorithm, ct: &[u8]) -> Result<SecretBytes, CryptoError> {
        let key = OaepPrivateDecryptingKey::new(self.clone_key()?).map_err(|_| CryptoError::Internal)?;
        let mut out = SecretBytes::zeroed(self.0.key_size_bytes());
        let n = key.decrypt(alg, ct, out.expose_secret_mut(), None).map_err(|_| CryptoError::Authentication)?.len();
        out.expose_secret_mut().truncate(n);
        Ok(out)
    }

    /// aws-lc-rs's decrypting wrappers take the key by value; a PKCS#8 round trip is the supported way to get
    /// a second handle. Imports are rare (AWS allows a few per second), so the cost does not matter.
    fn clone_key(&self) -> Result<PrivateDecryptingKey, CryptoError> {
        let der = self.to_pkcs8()?;
        PrivateDecryptingKey::from_pkcs8(der.expose_secret()).map_err(|_| CryptoError::Internal)
    }
}

/// A public, stable identifier of key material: HMAC-SHA256 keyed by the material itself over a fixed label.
/// Reveals nothing about the material, and the same material always gets the same id, which is how a
/// re-import is checked to be the same key.
pub fn material_fingerprint(material: &SecretBytes) -> String {
    hex(&HmacSha256Key::new(material.expose_secret()).sign(b"trent/key-material-id/v1"))
}

/// AWS's `KeyMaterialId` of imported material: HMAC-SHA256 keyed by the material over a label and the key id.
/// As in AWS, the same material imported into two keys gets two unrelated ids (an id never links keys), and
/// the same material in one key always gets the same id, which is how a re-import is recognised.
/// Materials imported before Trent bound ids to keys keep their `material_fingerprint` id.
pub fn key_material_id(key_id: &str, material: &SecretBytes) -> String {
    let mut label = b"trent/key-material-id/v2\0".to_vec();
    label.extend_from_slice(key_id.as_bytes());
    hex(&HmacSha256Key::new(material.expose_secret()).sign(&label))
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey};

    use super::*;

    fn public(k: &ImportWrappingKey) -> PublicEncryptingKey {
        PublicEncryptingKey::from_der(&k.public_key_der().unwrap()).unwrap()
    }

    #[test]
    fn oaep_and_pkcs1_round_trip() {
        let k = ImportWrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let material = [0x42u8; 32];
        for (alg, oaep) in [
            (WrappingAlgorithm::RsaesOaepSha256, &OAEP_SHA256_MGF1SHA256),
            (WrappingAlgorithm::RsaesOaepSha1, &OAEP_SHA1_MGF1SHA1),
        ] {
            let enc = OaepPublicEncryptingKey::new(public(&k)).unwrap();
            let mut ct = vec![0u8; enc.ciphertext_size()];
            let ct = enc.encrypt(oaep, &material, &mut ct, None).unwrap().to_vec();
            assert_eq!(k.unwrap_material(alg, &ct).unwrap().expose_secret(), material);
            let other = if alg == WrappingAlgorithm::RsaesOaepSha1 {
                WrappingAlgorithm::RsaesOaepSha256
            } else {
                WrappingAlgorithm::RsaesOaepSha1
            };
            assert!(k.unwrap_material(other, &ct).is_err());
        }
        let enc = Pkcs1PublicEncryptingKey::new(public(&k)).unwrap();
        let mut ct = vec![0u8; enc.ciphertext_size()];
        let ct = enc.encrypt(&material, &mut ct).unwrap().to_vec();
        assert_eq!(k.unwrap_material(WrappingAlgorithm::RsaesPkcs1V15, &ct).unwrap().expose_secret(), material);
    }

    #[test]
    fn rsa_aes_key_wrap_round_trip() {
        let k = ImportWrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let material = [7u8; 32];
        let ephemeral = [9u8; 32];
        let enc = OaepPublicEncryptingKey::new(public(&k)).unwrap();
        let mut rsa = vec![0u8; enc.ciphertext_size()];
        let rsa = enc.encrypt(&OAEP_SHA256_MGF1SHA256, &ephemeral, &mut rsa, None).unwrap().to_vec();
        let mut wrapped = vec![0u8; 48];
        let wrapped =
            AesKek::new(&AES_256, &ephemeral).unwrap().wrap_with_padding(&material, &mut wrapped).unwrap().to_vec();
        let blob = [rsa, wrapped].concat();
        let out = k.unwrap_material(WrappingAlgorithm::RsaAesKeyWrapSha256, &blob).unwrap();
        assert_eq!(out.expose_secret(), material);
        assert!(k.unwrap_material(WrappingAlgorithm::RsaAesKeyWrapSha1, &blob).is_err());
    }

    #[test]
    fn pkcs8_round_trip_keeps_the_key() {
        let k = ImportWrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let again = ImportWrappingKey::from_pkcs8(&k.to_pkcs8().unwrap()).unwrap();
        assert_eq!(k.public_key_der().unwrap(), again.public_key_der().unwrap());
    }

    #[test]
    fn fingerprint_is_stable_and_distinct() {
        let m = SecretBytes::new(vec![1; 32]);
        let bound = key_material_id("k1", &m);
        assert_eq!(bound.len(), 64);
        assert_eq!(bound, key_material_id("k1", &SecretBytes::new(vec![1; 32])));
        assert_ne!(bound, key_material_id("k2", &m));
        assert_ne!(bound, material_fingerprint(&m));
        let a = material_fingerprint(&SecretBytes::new(vec![1; 32]));
        assert_eq!(a, material_fingerprint(&SecretBytes::new(vec![1; 32])));
        assert_ne!(a, material_fingerprint(&SecretBytes::new(vec![2; 32])));
        assert_eq!(a.len(), 64);
    }
}

/// The customer's side of an import, for other crates' tests: RSA-OAEP-SHA256 encryption under a DER public
/// key, as `openssl pkeyutl` does it. Not for production use (hence the module name).
#[doc(hidden)]
pub mod test_support {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey};

    /// Panics on bad input: test code only.
    #[allow(clippy::unwrap_used, clippy::expect_used)]
    pub fn oaep_sha256_encrypt(public_key_der: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let key = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(public_key_der).unwrap()).unwrap();
        let mut out = vec![0u8; key.ciphertext_size()];
        key.encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None).unwrap().to_vec()
    }
}
