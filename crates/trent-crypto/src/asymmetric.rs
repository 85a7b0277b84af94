//! Asymmetric KMS keys (RSA, NIST and secp256k1 ECC, Ed25519) and HMAC keys: generation, signing and
//! verification, RSA-OAEP encryption, ECDH key agreement, MACs.
//!
//! Private keys live as PKCS#8 DER inside [`SecretBytes`] (that is what the store wraps under the root key) and
//! are parsed once into the aws-lc-rs objects each operation needs.

use aws_lc_rs::agreement;
use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};

use crate::{CryptoError, SecretBytes, random_secret};

/// The asymmetric key specs Trent serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsymmetricSpec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EccP256,
    EccP384,
    EccP521,
    EccSecp256k1,
    Ed25519,
}

/// What a private key will be used for; decides which parsed forms are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Sign,
    Encrypt,
    Agree,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            Self::Sha256 => &digest::SHA256,
            Self::Sha384 => &digest::SHA384,
            Self::Sha512 => &digest::SHA512,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    RsaPss(Hash),
    RsaPkcs1(Hash),
    Ecdsa(Hash),
    Ed25519,
}

/// What is signed: the message itself, or a digest the caller computed (KMS `MessageType=DIGEST`).
#[derive(Debug, Clone, Copy)]
pub enum SignInput<'a> {
    Raw(&'a [u8]),
    Digest(&'a [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OaepHash {
    Sha1,
    Sha256,
}

/// Fresh private key material for `spec`, as PKCS#8 DER.
pub fn generate_pkcs8(spec: AsymmetricSpec, purpose: Purpose) -> Result<SecretBytes, CryptoError> {
    let der: Vec<u8> = match (spec, purpose) {
        (AsymmetricSpec::Rsa2048 | AsymmetricSpec::Rsa3072 | AsymmetricSpec::Rsa4096, _) => {
            let size = match spec {
                AsymmetricSpec::Rsa2048 => KeySize::Rsa2048,
                AsymmetricSpec::Rsa3072 => KeySize::Rsa3072,
                _ => KeySize::Rsa4096,
            };
            let k = PrivateDecryptingKey::generate(size).map_err(|_| CryptoError::Internal)?;
            let der: Pkcs8V1Der<'static> = k.as_der().map_err(|_| CryptoError::Internal)?;
            der.as_ref().to_vec()
        }
        (AsymmetricSpec::Ed25519, _) => {
            let k = Ed25519KeyPair::generate().map_err(|_| CryptoError::Internal)?;
            k.to_pkcs8v1().map_err(|_| CryptoError::Internal)?.as_ref().to_vec()
        }
        (_, Purpose::Agree) => {
            let k = agreement::PrivateKey::generate(ecdh_alg(spec)?).map_err(|_| CryptoError::Internal)?;
            let der: Pkcs8V1Der<'static> = k.as_der().map_err(|_| CryptoError::Internal)?;
            der.as_ref().to_vec()
        }
        _ => {
            let k = EcdsaKeyPair::generate(ecdsa_signing_alg(spec)?).map_err(|_| CryptoError::Internal)?;
            k.to_pkcs8v1().map_err(|_| CryptoError::Internal)?.as_ref().to_vec()
        }
    };
    Ok(SecretBytes::new(der))
}

enum Parsed {
    Rsa { sign: RsaKeyPair, pkcs8: SecretBytes, modulus_len: usize },
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Ecdh(agreement::PrivateKey),
}

/// A parsed private key of a KMS key version.
pub struct PrivateKey {
    spec: AsymmetricSpec,
    parsed: Parsed,
    public_der: Vec<u8>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({:?}, [REDACTED])", self.spec)
    }
}

impl PrivateKey {
    pub fn from_pkcs8(spec: AsymmetricSpec, purpose: Purpose, pkcs8: &SecretBytes) -> Result<Self, CryptoError> {
        let der = pkcs8.expose_secret(); // parsing the key is the point
        let bad = |_| CryptoError::Malformed;
        let (parsed, public_der) = match spec {
            AsymmetricSpec::Rsa2048 | AsymmetricSpec::Rsa3072 | AsymmetricSpec::Rsa4096 => {
                let sign = RsaKeyPair::from_pkcs8(der).map_err(bad)?;
                let dec = PrivateDecryptingKey::from_pkcs8(der).map_err(bad)?;
                let public: PublicKeyX509Der<'static> = dec.public_key().as_der().map_err(|_| CryptoError::Internal)?;
                let modulus_len = sign.public_modulus_len();
                (Parsed::Rsa { sign, pkcs8: SecretBytes::new(der.to_vec()), modulus_len }, public.as_ref().to_vec())
            }
            AsymmetricSpec::Ed25519 => {
                let k = Ed25519KeyPair::from_pkcs8(der).map_err(bad)?;
                let public: PublicKeyX509Der<'static> = k.public_key().as_der().map_err(|_| CryptoError::Internal)?;
                (Parsed::Ed25519(k), public.as_ref().to_vec())
            }
            _ if purpose == Purpose::Agree => {
                let k = agreement::PrivateKey::from_private_key_der(ecdh_alg(spec)?, der).map_err(bad)?;
                let public: PublicKeyX509Der<'static> =
                    k.compute_public_key().and_then(|p| p.as_der()).map_err(|_| CryptoError::Internal)?;
                (Parsed::Ecdh(k), public.as_ref().to_vec())
            }
            _ => {
                let k = EcdsaKeyPair::from_pkcs8(ecdsa_signing_alg(spec)?, der).map_err(bad)?;
                let public: PublicKeyX509Der<'static> = k.public_key().as_der().map_err(|_| CryptoError::Internal)?;
                (Parsed::Ecdsa(k), public.as_ref().to_vec())
            }
        };
        Ok(Self { spec, parsed, public_der })
    }

    pub fn spec(&self) -> AsymmetricSpec {
        self.spec
    }

    /// DER SubjectPublicKeyInfo, what GetPublicKey returns.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_der
    }

    /// Signs with `alg`. The caller has checked that `alg` suits the key spec (KMS's per-spec algorithm lists);
    /// a mismatch here is refused rather than trusted.
    pub fn sign(&self, alg: SigningAlgorithm, input: SignInput<'_>) -> Result<Vec<u8>, CryptoError> {
        match (&self.parsed, alg) {
            (Parsed::Rsa { sign, modulus_len, .. }, SigningAlgorithm::RsaPss(h) | SigningAlgorithm::RsaPkcs1(h)) => {
                let encoding = rsa_encoding(alg, h);
                let mut sig = vec![0u8; *modulus_len];
                match input {
                    SignInput::Raw(m) => sign.sign(encoding, &SystemRandom::new(), m, &mut sig),
                    SignInput::Digest(d) => sign.sign_digest(encoding, &import_digest(h, d)?, &mut sig),
                }
                .map_err(|_| CryptoError::Internal)?;
                Ok(sig)
            }
            (Parsed::Ecdsa(k), SigningAlgorithm::Ecdsa(h)) if ecdsa_hash(self.spec) == Some(h) => {
                let sig = match input {
                    SignInput::Raw(m) => k.sign(&SystemRandom::new(), m),
                    SignInput::Digest(d) => k.sign_digest(&import_digest(h, d)?),
                }
                .map_err(|_| CryptoError::Internal)?;
                Ok(sig.as_ref().to_vec())
            }
            (Parsed::Ed25519(k), SigningAlgorithm::Ed25519) => match input {
                SignInput::Raw(m) => Ok(k.sign(m).as_ref().to_vec()),
                SignInput::Digest(_) => Err(CryptoError::Malformed),
            },
            _ => Err(CryptoError::Malformed),
        }
    }

    /// Verifies a signature with this key's public half.
    pub fn verify(&self, alg: SigningAlgorithm, input: SignInput<'_>, sig: &[u8]) -> Result<bool, CryptoError> {
        verify(self.spec, &self.public_der, alg, input, sig)
    }

    /// RSA-OAEP encryption under this key's public half (what a KMS Encrypt with an RSA key does).
    pub fn encrypt(&self, hash: OaepHash, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let Parsed::Rsa { pkcs8, .. } = &self.parsed else { return Err(CryptoError::Malformed) };
        let private = PrivateDecryptingKey::from_pkcs8(pkcs8.expose_secret()).map_err(|_| CryptoError::Internal)?;
        let key = OaepPublicEncryptingKey::new(private.public_key()).map_err(|_| CryptoError::Internal)?;
        if plaintext.len() > key.max_plaintext_size(oaep(hash)) {
            return Err(CryptoError::Malformed);
        }
        let mut out = vec![0u8; key.ciphertext_size()];
        let n = key.encrypt(oaep(hash), plaintext, &mut out, None).map_err(|_| CryptoError::Internal)?.len();
        out.truncate(n);
        Ok(out)
    }

    pub fn decrypt(&self, hash: OaepHash, ciphertext: &[u8]) -> Result<SecretBytes, CryptoError> {
        let Parsed::Rsa { pkcs8, modulus_len, .. } = &self.parsed else { return Err(CryptoError::Malformed) };
        let private = PrivateDecryptingKey::from_pkcs8(pkcs8.expose_secret()).map_err(|_| CryptoError::Internal)?;
        let key = OaepPrivateDecryptingKey::new(private).map_err(|_| CryptoError::Internal)?;
        let mut out = SecretBytes::zeroed(*modulus_len);
        let n = key
            .decrypt(oaep(hash), ciphertext, out.expose_secret_mut(), None)
            .map_err(|_| CryptoError::Authentication)?
            .len();
        out.expose_secret_mut().truncate(n);
        Ok(out)
    }

    /// Largest plaintext RSA-OAEP with `hash` can encrypt under this key (KMS's documented limits).
    pub fn max_plaintext_len(&self, hash: OaepHash) -> Option<usize> {
        let Parsed::Rsa { modulus_len, .. } = &self.parsed else { return None };
        let h = match hash {
            OaepHash::Sha1 => 20,
            OaepHash::Sha256 => 32,
        };
        modulus_len.checked_sub(2 * h + 2)
    }

    /// ECDH with a peer's DER SubjectPublicKeyInfo: the raw shared secret (x coordinate).
    pub fn agree(&self, peer_spki: &[u8]) -> Result<SecretBytes, CryptoError> {
        let Parsed::Ecdh(k) = &self.parsed else { return Err(CryptoError::Malformed) };
        let alg = ecdh_alg(self.spec)?;
        let peer = agreement::UnparsedPublicKey::new(alg, peer_spki);
        agreement::agree(k, peer, CryptoError::Malformed, |s| Ok(SecretBytes::new(s.to_vec())))
    }
}

/// Verifies with a public key (DER SubjectPublicKeyInfo).
pub fn verify(
    spec: AsymmetricSpec,
    public_der: &[u8],
    alg: SigningAlgorithm,
    input: SignInput<'_>,
    sig: &[u8],
) -> Result<bool, CryptoError> {
    let verifier: &'static dyn signature::VerificationAlgorithm = match (spec, alg) {
        (AsymmetricSpec::Rsa2048 | AsymmetricSpec::Rsa3072 | AsymmetricSpec::Rsa4096, SigningAlgorithm::RsaPss(h)) => {
            match h {
                Hash::Sha256 => &signature::RSA_PSS_2048_8192_SHA256,
                Hash::Sha384 => &signature::RSA_PSS_2048_8192_SHA384,
                Hash::Sha512 => &signature::RSA_PSS_2048_8192_SHA512,
            }
        }
        (
            AsymmetricSpec::Rsa2048 | AsymmetricSpec::Rsa3072 | AsymmetricSpec::Rsa4096,
            SigningAlgorithm::RsaPkcs1(h),
        ) => match h {
            Hash::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Hash::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        },
        (AsymmetricSpec::EccP256, SigningAlgorithm::Ecdsa(Hash::Sha256)) => &signature::ECDSA_P256_SHA256_ASN1,
        (AsymmetricSpec::EccSecp256k1, SigningAlgorithm::Ecdsa(Hash::Sha256)) => &signature::ECDSA_P256K1_SHA256_ASN1,
        (AsymmetricSpec::EccP384, SigningAlgorithm::Ecdsa(Hash::Sha384)) => &signature::ECDSA_P384_SHA384_ASN1,
        (AsymmetricSpec::EccP521, SigningAlgorithm::Ecdsa(Hash::Sha512)) => &signature::ECDSA_P521_SHA512_ASN1,
        (AsymmetricSpec::Ed25519, SigningAlgorithm::Ed25519) => &signature::ED25519,
        _ => return Err(CryptoError::Malformed),
    };
    let key = UnparsedPublicKey::new(verifier, public_der);
    let ok = match (input, alg) {
        (SignInput::Raw(m), _) => key.verify(m, sig).is_ok(),
        (SignInput::Digest(_), SigningAlgorithm::Ed25519) => return Err(CryptoError::Malformed),
        (
            SignInput::Digest(d),
            SigningAlgorithm::RsaPss(h) | SigningAlgorithm::RsaPkcs1(h) | SigningAlgorithm::Ecdsa(h),
        ) => key.verify_digest(&import_digest(h, d)?, sig).is_ok(),
    };
    Ok(ok)
}

/// An HMAC key of a KMS key version. The length of the material follows the key spec (HMAC_224: 28 bytes, ...).
pub struct MacKey {
    key: hmac::Key,
    tag_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl MacAlgorithm {
    /// Key and tag length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::HmacSha224 => 28,
            Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
        }
    }
}

impl MacKey {
    pub fn generate_material(alg: MacAlgorithm) -> Result<SecretBytes, CryptoError> {
        random_secret(alg.key_len())
    }

    pub fn new(alg: MacAlgorithm, material: &SecretBytes) -> Self {
        let a = match alg {
            MacAlgorithm::HmacSha224 => hmac::HMAC_SHA224,
            MacAlgorithm::HmacSha256 => hmac::HMAC_SHA256,
            MacAlgorithm::HmacSha384 => hmac::HMAC_SHA384,
            MacAlgorithm::HmacSha512 => hmac::HMAC_SHA512,
        };
        Self { key: hmac::Key::new(a, material.expose_secret()), tag_len: alg.key_len() }
    }

    pub fn mac(&self, message: &[u8]) -> Vec<u8> {
        hmac::sign(&self.key, message).as_ref().to_vec()
    }

    /// Constant-time comparison of the expected tag with `tag`.
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        tag.len() == self.tag_len && hmac::verify(&self.key, message, tag).is_ok()
    }
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey([REDACTED])")
    }
}

fn rsa_encoding(alg: SigningAlgorithm, h: Hash) -> &'static dyn signature::RsaEncoding {
    match (alg, h) {
        (SigningAlgorithm::RsaPss(_), Hash::Sha256) => &signature::RSA_PSS_SHA256,
        (SigningAlgorithm::RsaPss(_), Hash::Sha384) => &signature::RSA_PSS_SHA384,
        (SigningAlgorithm::RsaPss(_), Hash::Sha512) => &signature::RSA_PSS_SHA512,
        (_, Hash::Sha256) => &signature::RSA_PKCS1_SHA256,
        (_, Hash::Sha384) => &signature::RSA_PKCS1_SHA384,
        (_, Hash::Sha512) => &signature::RSA_PKCS1_SHA512,
    }
}

fn ecdsa_signing_alg(spec: AsymmetricSpec) -> Result<&'static signature::EcdsaSigningAlgorithm, CryptoError> {
    Ok(match spec {
        AsymmetricSpec::EccP256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        AsymmetricSpec::EccP384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        AsymmetricSpec::EccP521 => &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
        AsymmetricSpec::EccSecp256k1 => &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
        _ => return Err(CryptoError::Malformed),
    })
}

/// The one hash each ECC signing key uses in KMS.
fn ecdsa_hash(spec: AsymmetricSpec) -> Option<Hash> {
    match spec {
        AsymmetricSpec::EccP256 | AsymmetricSpec::EccSecp256k1 => Some(Hash::Sha256),
        AsymmetricSpec::EccP384 => Some(Hash::Sha384),
        AsymmetricSpec::EccP521 => Some(Hash::Sha512),
        _ => None,
    }
}

fn ecdh_alg(spec: AsymmetricSpec) -> Result<&'static agreement::Algorithm, CryptoError> {
    Ok(match spec {
        AsymmetricSpec::EccP256 => &agreement::ECDH_P256,
        AsymmetricSpec::EccP384 => &agreement::ECDH_P384,
        AsymmetricSpec::EccP521 => &agreement::ECDH_P521,
        _ => return Err(CryptoError::Malformed),
    })
}

fn oaep(hash: OaepHash) -> &'static aws_lc_rs::rsa::OaepAlgorithm {
    match hash {
        OaepHash::Sha1 => &OAEP_SHA1_MGF1SHA1,
        OaepHash::Sha256 => &OAEP_SHA256_MGF1SHA256,
    }
}

fn import_digest(h: Hash, d: &[u8]) -> Result<digest::Digest, CryptoError> {
    if d.len() != h.digest_len() {
        return Err(CryptoError::Malformed);
    }
    digest::Digest::import_less_safe(d, h.digest_alg()).map_err(|_| CryptoError::Malformed)
}

/// A message digest, for tests and for checking DIGEST-mode signatures against RAW ones.
pub fn hash(h: Hash, data: &[u8]) -> Vec<u8> {
    digest::digest(h.digest_alg(), data).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(spec: AsymmetricSpec, purpose: Purpose) -> PrivateKey {
        PrivateKey::from_pkcs8(spec, purpose, &generate_pkcs8(spec, purpose).unwrap()).unwrap()
    }

    #[test]
    fn every_signing_combination_signs_and_verifies_raw_and_digest() {
        let cases = [
            (AsymmetricSpec::Rsa2048, SigningAlgorithm::RsaPss(Hash::Sha256)),
            (AsymmetricSpec::Rsa2048, SigningAlgorithm::RsaPss(Hash::Sha512)),
            (AsymmetricSpec::Rsa2048, SigningAlgorithm::RsaPkcs1(Hash::Sha384)),
            (AsymmetricSpec::EccP256, SigningAlgorithm::Ecdsa(Hash::Sha256)),
            (AsymmetricSpec::EccP384, SigningAlgorithm::Ecdsa(Hash::Sha384)),
            (AsymmetricSpec::EccP521, SigningAlgorithm::Ecdsa(Hash::Sha512)),
            (AsymmetricSpec::EccSecp256k1, SigningAlgorithm::Ecdsa(Hash::Sha256)),
        ];
        for (spec, alg) in cases {
            let k = key(spec, Purpose::Sign);
            let msg = b"sign me";
            let sig = k.sign(alg, SignInput::Raw(msg)).unwrap();
            assert!(k.verify(alg, SignInput::Raw(msg), &sig).unwrap(), "{spec:?} {alg:?}");
            assert!(!k.verify(alg, SignInput::Raw(b"other"), &sig).unwrap());
            let h = match alg {
                SigningAlgorithm::RsaPss(h) | SigningAlgorithm::RsaPkcs1(h) | SigningAlgorithm::Ecdsa(h) => h,
                SigningAlgorithm::Ed25519 => unreachable!(),
            };
            let d = hash(h, msg);
            let sig2 = k.sign(alg, SignInput::Digest(&d)).unwrap();
            // A DIGEST signature verifies as a RAW signature of the message, and the other way round.
            assert!(k.verify(alg, SignInput::Raw(msg), &sig2).unwrap());
            assert!(k.verify(alg, SignInput::Digest(&d), &sig).unwrap());
            assert!(k.sign(alg, SignInput::Digest(&d[1..])).is_err());
        }
        let ed = key(AsymmetricSpec::Ed25519, Purpose::Sign);
        let sig = ed.sign(SigningAlgorithm::Ed25519, SignInput::Raw(b"m")).unwrap();
        assert!(ed.verify(SigningAlgorithm::Ed25519, SignInput::Raw(b"m"), &sig).unwrap());
        // Wrong algorithm for the spec is refused, not attempted.
        let p256 = key(AsymmetricSpec::EccP256, Purpose::Sign);
        assert!(p256.sign(SigningAlgorithm::Ecdsa(Hash::Sha384), SignInput::Raw(b"m")).is_err());
    }

    #[test]
    fn rsa_oaep_round_trip_and_limits() {
        let k = key(AsymmetricSpec::Rsa2048, Purpose::Encrypt);
        assert_eq!(k.max_plaintext_len(OaepHash::Sha1), Some(214));
        assert_eq!(k.max_plaintext_len(OaepHash::Sha256), Some(190));
        for h in [OaepHash::Sha1, OaepHash::Sha256] {
            let ct = k.encrypt(h, b"secret").unwrap();
            assert_eq!(k.decrypt(h, &ct).unwrap().expose_secret(), b"secret");
        }
        let ct = k.encrypt(OaepHash::Sha256, b"x").unwrap();
        assert!(k.decrypt(OaepHash::Sha1, &ct).is_err());
        assert!(k.encrypt(OaepHash::Sha256, &[0; 191]).is_err());
        assert_eq!(k.public_key_der().len(), 294);
    }

    #[test]
    fn ecdh_agrees_with_the_peer() {
        let a = key(AsymmetricSpec::EccP384, Purpose::Agree);
        let b = key(AsymmetricSpec::EccP384, Purpose::Agree);
        let s1 = a.agree(b.public_key_der()).unwrap();
        let s2 = b.agree(a.public_key_der()).unwrap();
        assert_eq!(s1.expose_secret(), s2.expose_secret());
        assert_eq!(s1.len(), 48);
        assert!(a.agree(b"not a key").is_err());
    }

    #[test]
    fn hmac_known_answer_and_verify() {
        // RFC 4231 test case 2, HMAC-SHA-256 (key "Jefe").
        let k = MacKey::new(MacAlgorithm::HmacSha256, &SecretBytes::new(b"Jefe".to_vec()));
        let tag = k.mac(b"what do ya want for nothing?");
        assert_eq!(crate::digest::hex(&tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(k.verify(b"what do ya want for nothing?", &tag));
        let mut bad = tag.clone();
        bad[0] ^= 1;
        assert!(!k.verify(b"what do ya want for nothing?", &bad));
        assert!(!k.verify(b"what do ya want for nothing!", &tag));
        assert_eq!(MacKey::generate_material(MacAlgorithm::HmacSha224).unwrap().len(), 28);
    }
}
