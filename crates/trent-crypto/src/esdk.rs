//! Primitives for the AWS Encryption SDK message format (used by `trent-esdk`).
//!
//! The ESDK fixes its algorithms by suite; this module offers exactly those, with APIs that keep the
//! format's safety rules inside this crate:
//!
//! - [`hkdf`] and [`derive_committing_keys`]: HKDF-SHA256/384/512 and the commit-key derivation of the
//!   committing suites (0x0478, 0x0578).
//! - [`GcmKey`]: AES-128/192/256-GCM where the IV is computed here from a sequence number (the ESDK IV
//!   rule: 8 zero bytes then the big-endian u32 sequence number, sequence 0 for the header), or, on
//!   decryption only, taken from message bytes as a [`ParsedIv`]. No caller can choose an IV to seal with.
//! - [`wrap_with_random_iv`]: the raw AES keyring's wrapping, with a random IV chosen here.
//! - [`EcdsaSigner`] / [`EcdsaVerifier`]: ECDSA P-256/P-384 over a running SHA-256/384 hash, public keys
//!   in SEC1 compressed form (what the `aws-crypto-public-key` context entry carries, base64-encoded).
//! - [`RsaPublicKey`] / [`RsaPrivateKey`]: RSA OAEP (SHA-1/256/384/512, MGF1 with the same hash, empty
//!   label) and PKCS#1 v1.5 wrapping for the raw RSA keyring.
//! - [`ct_eq`]: constant-time comparison (key commitment).

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyCompressedBin};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair, ParsedPublicKey,
};
use aws_lc_rs::{digest, hkdf, rsa};

use crate::{CryptoError, SecretBytes, random_array};

/// Length of every ESDK AES-GCM IV.
pub const IV_LEN: usize = 12;
/// Length of every ESDK AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Length of the commit key stored in a v2 header.
pub const COMMIT_KEY_LEN: usize = 32;

/// Compares two byte strings in time independent of their contents (lengths are public).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    crate::digest::constant_time_eq(a, b)
}

// ---------------------------------------------------------------------------------------------
// HKDF
// ---------------------------------------------------------------------------------------------

/// The hash of an HKDF instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HkdfHash {
    Sha256,
    Sha384,
    Sha512,
}

impl HkdfHash {
    fn algorithm(self) -> hkdf::Algorithm {
        match self {
            Self::Sha256 => hkdf::HKDF_SHA256,
            Self::Sha384 => hkdf::HKDF_SHA384,
            Self::Sha512 => hkdf::HKDF_SHA512,
        }
    }
}

/// Output length for aws-lc-rs' `Okm`, which wants the length as a type.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand(prk: &hkdf::Prk, info: &[u8], len: usize) -> Result<SecretBytes, CryptoError> {
    let mut out = SecretBytes::zeroed(len);
    let parts = [info];
    // `expand` fails only when `len` exceeds 255 hash lengths: a caller error, reported as such.
    prk.expand(&parts, Len(len))
        .map_err(|_| CryptoError::BadKeyLength)?
        .fill(out.expose_secret_mut())
        .map_err(|_| CryptoError::BadKeyLength)?;
    Ok(out)
}

/// HKDF (RFC 5869) extract then expand. An empty `salt` means "no salt", which RFC 5869 defines as a
/// string of hash-length zero bytes; the ESDK's non-committing suites use exactly that.
pub fn hkdf(
    hash: HkdfHash,
    salt: &[u8],
    ikm: &SecretBytes,
    info: &[u8],
    len: usize,
) -> Result<SecretBytes, CryptoError> {
    let salt = hkdf::Salt::new(hash.algorithm(), salt);
    // Needed to key the extraction; the PRK is wiped by aws-lc-rs on drop.
    let prk = salt.extract(ikm.expose_secret());
    expand(&prk, info, len)
}

/// Key derivation of the committing suites (0x0478, 0x0578): one HKDF-SHA512 extraction with the
/// 32-byte message id as salt, then the 32-byte encryption key (info = `suite id ‖ "DERIVEKEY"`) and
/// the 32-byte commit key (info = `"COMMITKEY"`). The commit key is not secret once the message is
/// written (it is stored in the header), hence a plain array.
pub fn derive_committing_keys(
    data_key: &SecretBytes,
    message_id: &[u8],
    suite_id: u16,
) -> Result<(SecretBytes, [u8; COMMIT_KEY_LEN]), CryptoError> {
    let salt = hkdf::Salt::new(hkdf::HKDF_SHA512, message_id);
    let prk = salt.extract(data_key.expose_secret()); // needed to key the extraction
    let mut info = Vec::with_capacity(2 + 9);
    info.extend_from_slice(&suite_id.to_be_bytes());
    info.extend_from_slice(b"DERIVEKEY");
    let key = expand(&prk, &info, 32)?;
    let commit = expand(&prk, b"COMMITKEY", COMMIT_KEY_LEN)?;
    let mut out = [0u8; COMMIT_KEY_LEN];
    out.copy_from_slice(commit.expose_secret()); // the commit key is public by design
    Ok((key, out))
}

// ---------------------------------------------------------------------------------------------
// AES-GCM
// ---------------------------------------------------------------------------------------------

/// The ESDK IV for sequence number `seq`: 8 zero bytes, then `seq` big-endian. Sequence 0 is the
/// all-zero header IV, sequences 1.. are frames (a non-framed body uses 1). Public so that writers
/// can serialize the IV field; sealing computes it again itself.
pub fn sequence_iv(seq: u32) -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    iv[8..].copy_from_slice(&seq.to_be_bytes());
    iv
}

/// An IV read from message bytes, usable only to open (decrypt), never to seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedIv([u8; IV_LEN]);

impl ParsedIv {
    /// Takes exactly [`IV_LEN`] bytes read from a message.
    pub fn from_message_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let iv: [u8; IV_LEN] = bytes.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self(iv))
    }

    pub fn as_bytes(&self) -> &[u8; IV_LEN] {
        &self.0
    }
}

/// An AES-GCM key of 128, 192 or 256 bits (chosen by the key's length).
pub struct GcmKey(LessSafeKey);

impl GcmKey {
    pub fn new(key: &SecretBytes) -> Result<Self, CryptoError> {
        let alg = match key.len() {
            16 => &aead::AES_128_GCM,
            24 => &aead::AES_192_GCM,
            32 => &aead::AES_256_GCM,
            _ => return Err(CryptoError::BadKeyLength),
        };
        // Needed to key the cipher.
        let unbound = UnboundKey::new(alg, key.expose_secret()).map_err(|_| CryptoError::Internal)?;
        Ok(Self(LessSafeKey::new(unbound)))
    }

    /// Encrypts `in_out` in place under the IV of sequence number `seq` and returns the tag.
    ///
    /// Nonce uniqueness: every ESDK message has its own data key (fresh from the keyring, and for KDF
    /// suites further derived with the random message id), and within a message each sequence number
    /// is used once (0 for the header, 1.. for frames), which the message writer guarantees.
    pub fn seal_in_place(&self, seq: u32, aad: &[u8], in_out: &mut [u8]) -> Result<[u8; TAG_LEN], CryptoError> {
        let nonce = Nonce::assume_unique_for_key(sequence_iv(seq));
        let tag =
            self.0.seal_in_place_separate_tag(nonce, Aad::from(aad), in_out).map_err(|_| CryptoError::Internal)?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts `ciphertext_and_tag` (`ciphertext ‖ tag`) in place under the IV of sequence number
    /// `seq`; returns the plaintext length (the plaintext is the prefix of the buffer). On failure the
    /// buffer's contents are unspecified and must be discarded.
    pub fn open_in_place(&self, seq: u32, aad: &[u8], ciphertext_and_tag: &mut [u8]) -> Result<usize, CryptoError> {
        self.open_with_iv(&ParsedIv(sequence_iv(seq)), aad, ciphertext_and_tag)
    }

    /// As [`GcmKey::open_in_place`], under an IV read from the message (a v1 header's IV field).
    pub fn open_with_iv(&self, iv: &ParsedIv, aad: &[u8], ciphertext_and_tag: &mut [u8]) -> Result<usize, CryptoError> {
        if ciphertext_and_tag.len() < TAG_LEN {
            return Err(CryptoError::Authentication);
        }
        let nonce = Nonce::assume_unique_for_key(iv.0);
        self.0
            .open_in_place(nonce, Aad::from(aad), ciphertext_and_tag)
            .map(|p| p.len())
            .map_err(|_| CryptoError::Authentication)
    }
}

/// Raw AES keyring wrapping: AES-GCM of `plaintext` under `key` with a random 12-byte IV chosen here
/// (the wrapping key is long-lived, so a counter is not available). Returns `(iv, ciphertext ‖ tag)`.
pub fn wrap_with_random_iv(
    key: &GcmKey,
    plaintext: &SecretBytes,
    aad: &[u8],
) -> Result<([u8; IV_LEN], Vec<u8>), CryptoError> {
    let iv: [u8; IV_LEN] = random_array()?;
    let mut buf = plaintext.expose_secret().to_vec(); // becomes ciphertext in place
    let tag = key
        .0
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(iv), Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Internal)?;
    buf.extend_from_slice(tag.as_ref());
    Ok((iv, buf))
}

/// Inverse of [`wrap_with_random_iv`]: `ciphertext_and_tag` is `ciphertext ‖ tag`.
pub fn unwrap_with_iv(
    key: &GcmKey,
    iv: &ParsedIv,
    ciphertext_and_tag: &[u8],
    aad: &[u8],
) -> Result<SecretBytes, CryptoError> {
    if ciphertext_and_tag.len() < TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let mut buf = SecretBytes::new(ciphertext_and_tag.to_vec());
    let len = key
        .0
        .open_in_place(Nonce::assume_unique_for_key(iv.0), Aad::from(aad), buf.expose_secret_mut())
        .map_err(|_| CryptoError::Authentication)?
        .len();
    buf.expose_secret_mut().truncate(len);
    Ok(buf)
}

// ---------------------------------------------------------------------------------------------
// ECDSA
// ---------------------------------------------------------------------------------------------

/// The ECDSA curves of the ESDK suites, each with its fixed hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcdsaCurve {
    /// P-256 with SHA-256 (suite 0x0214).
    P256,
    /// P-384 with SHA-384 (suites 0x0346, 0x0378, 0x0578).
    P384,
}

impl EcdsaCurve {
    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            Self::P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }

    fn verification(self) -> &'static EcdsaVerificationAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_ASN1,
            Self::P384 => &signature::ECDSA_P384_SHA384_ASN1,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Self::P256 => &digest::SHA256,
            Self::P384 => &digest::SHA384,
        }
    }

    /// Length of a SEC1 compressed point on this curve.
    pub fn compressed_point_len(self) -> usize {
        match self {
            Self::P256 => 33,
            Self::P384 => 49,
        }
    }
}

/// A fresh ECDSA signing key plus the running hash of everything signed so far.
pub struct EcdsaSigner {
    key: EcdsaKeyPair,
    hash: digest::Context,
    curve: EcdsaCurve,
}

impl EcdsaSigner {
    /// Generates a key pair for one message (the ESDK signs every message with a new key).
    pub fn generate(curve: EcdsaCurve) -> Result<Self, CryptoError> {
        let key = EcdsaKeyPair::generate(curve.signing()).map_err(|_| CryptoError::Internal)?;
        Ok(Self { key, hash: digest::Context::new(curve.digest()), curve })
    }

    pub fn curve(&self) -> EcdsaCurve {
        self.curve
    }

    /// The public key as a SEC1 compressed point (33 or 49 bytes).
    pub fn public_key_compressed(&self) -> Result<Vec<u8>, CryptoError> {
        let point: EcPublicKeyCompressedBin<'static> =
            self.key.public_key().as_be_bytes().map_err(|_| CryptoError::Internal)?;
        Ok(point.as_ref().to_vec())
    }

    /// Feeds signed bytes into the running hash.
    pub fn update(&mut self, data: &[u8]) {
        self.hash.update(data);
    }

    /// Signs the hash of everything fed so far; returns a DER `ECDSA-Sig-Value`.
    pub fn finish(self) -> Result<Vec<u8>, CryptoError> {
        let d = self.hash.finish();
        let sig = self.key.sign_digest(&d).map_err(|_| CryptoError::Internal)?;
        Ok(sig.as_ref().to_vec())
    }
}

/// A parsed ECDSA public key plus the running hash of everything to be verified.
pub struct EcdsaVerifier {
    key: ParsedPublicKey,
    hash: digest::Context,
}

impl EcdsaVerifier {
    /// Parses a SEC1 point (compressed, as the ESDK stores it, or uncompressed). Rejects points not on
    /// the curve.
    pub fn new(curve: EcdsaCurve, public_point: &[u8]) -> Result<Self, CryptoError> {
        let key = ParsedPublicKey::new(curve.verification(), public_point).map_err(|_| CryptoError::Malformed)?;
        Ok(Self { key, hash: digest::Context::new(curve.digest()) })
    }

    pub fn update(&mut self, data: &[u8]) {
        self.hash.update(data);
    }

    /// Checks a DER signature over everything fed so far (any valid DER length is accepted).
    pub fn verify(self, signature: &[u8]) -> Result<(), CryptoError> {
        let d = self.hash.finish();
        self.key.verify_digest_sig(&d, signature).map_err(|_| CryptoError::Authentication)
    }
}

// ---------------------------------------------------------------------------------------------
// RSA
// ---------------------------------------------------------------------------------------------

/// The raw RSA keyring's padding schemes. OAEP uses MGF1 with the same hash and an empty label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaPadding {
    Pkcs1V15,
    OaepSha1,
    OaepSha256,
    OaepSha384,
    OaepSha512,
}

impl RsaPadding {
    fn oaep(self) -> Option<&'static rsa::OaepAlgorithm> {
        match self {
            Self::Pkcs1V15 => None,
            Self::OaepSha1 => Some(&rsa::OAEP_SHA1_MGF1SHA1),
            Self::OaepSha256 => Some(&rsa::OAEP_SHA256_MGF1SHA256),
            Self::OaepSha384 => Some(&rsa::OAEP_SHA384_MGF1SHA384),
            Self::OaepSha512 => Some(&rsa::OAEP_SHA512_MGF1SHA512),
        }
    }
}

/// An RSA public key (2048 to 8192 bits), for wrapping data keys.
#[derive(Clone)]
pub struct RsaPublicKey(rsa::PublicEncryptingKey);

impl RsaPublicKey {
    /// Parses a DER X.509 `SubjectPublicKeyInfo` (the body of a `PUBLIC KEY` PEM block).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        rsa::PublicEncryptingKey::from_der(der).map(Self).map_err(|_| CryptoError::Malformed)
    }

    /// Encrypts a data key.
    pub fn wrap(&self, padding: RsaPadding, data_key: &SecretBytes) -> Result<Vec<u8>, CryptoError> {
        let mut out = vec![0u8; self.0.key_size_bytes()];
        let pt = data_key.expose_secret(); // needed to encrypt it
        let len = match padding.oaep() {
            Some(alg) => {
                let k = rsa::OaepPublicEncryptingKey::new(self.0.clone()).map_err(|_| CryptoError::Internal)?;
                k.encrypt(alg, pt, &mut out, None).map_err(|_| CryptoError::BadKeyLength)?.len()
            }
            None => {
                let k = rsa::Pkcs1PublicEncryptingKey::new(self.0.clone()).map_err(|_| CryptoError::Internal)?;
                k.encrypt(pt, &mut out).map_err(|_| CryptoError::BadKeyLength)?.len()
            }
        };
        out.truncate(len);
        Ok(out)
    }
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublicKey({} bits)", self.0.key_size_bits())
    }
}

/// An RSA private key, for unwrapping data keys.
pub struct RsaPrivateKey(rsa::PrivateDecryptingKey);

impl RsaPrivateKey {
    /// Parses an unencrypted PKCS#8 `PrivateKeyInfo` (the body of a `PRIVATE KEY` PEM block).
    pub fn from_pkcs8_der(der: &SecretBytes) -> Result<Self, CryptoError> {
        // Needed to parse the key; aws-lc-rs keeps its own copy, which it frees on drop.
        rsa::PrivateDecryptingKey::from_pkcs8(der.expose_secret()).map(Self).map_err(|_| CryptoError::Malformed)
    }

    pub fn public_key(&self) -> RsaPublicKey {
        RsaPublicKey(self.0.public_key())
    }

    /// Decrypts a wrapped data key. Every failure is the same opaque error (no padding oracle detail).
    pub fn unwrap(&self, padding: RsaPadding, ciphertext: &[u8]) -> Result<SecretBytes, CryptoError> {
        let mut out = SecretBytes::zeroed(self.0.key_size_bytes());
        let len = match padding.oaep() {
            Some(alg) => {
                let k = rsa::OaepPrivateDecryptingKey::new(self.0.clone()).map_err(|_| CryptoError::Internal)?;
                k.decrypt(alg, ciphertext, out.expose_secret_mut(), None)
                    .map_err(|_| CryptoError::Authentication)?
                    .len()
            }
            None => {
                let k = rsa::Pkcs1PrivateDecryptingKey::new(self.0.clone()).map_err(|_| CryptoError::Internal)?;
                k.decrypt(ciphertext, out.expose_secret_mut()).map_err(|_| CryptoError::Authentication)?.len()
            }
        };
        out.expose_secret_mut().truncate(len);
        Ok(out)
    }
}

impl std::fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaPrivateKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::hex;

    fn unhex(s: &str) -> Vec<u8> {
        ::hex::decode(s).unwrap()
    }

    fn secret(b: &[u8]) -> SecretBytes {
        SecretBytes::new(b.to_vec())
    }

    #[test]
    fn hkdf_sha256_rfc5869_cases_1_and_3() {
        let ikm = secret(&[0x0b; 22]);
        let okm =
            hkdf(HkdfHash::Sha256, &unhex("000102030405060708090a0b0c"), &ikm, &unhex("f0f1f2f3f4f5f6f7f8f9"), 42)
                .unwrap();
        assert_eq!(
            hex(okm.expose_secret()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
        // Case 3: no salt, no info. "No salt" is how the ESDK's non-committing suites derive.
        let okm = hkdf(HkdfHash::Sha256, &[], &ikm, &[], 42).unwrap();
        assert_eq!(
            hex(okm.expose_secret()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
        );
    }

    // The following answers come from Python `cryptography` 48 (an independent implementation).
    #[test]
    fn hkdf_sha384_and_sha512_known_answers() {
        let ikm = secret(&(0u8..32).collect::<Vec<_>>());
        let mut info = vec![0x03, 0x78];
        info.extend(0u8..16);
        let okm = hkdf(HkdfHash::Sha384, &[], &ikm, &info, 48).unwrap();
        assert_eq!(
            hex(okm.expose_secret()),
            "e3220b2746d755203b338e69d391531ece5bd610d652cc1b5ba6763edfe90436f1d2e2b42566c0ccaf18e2105ff2857e"
        );
        let okm = hkdf(HkdfHash::Sha512, b"salt", &ikm, b"info", 32).unwrap();
        assert_eq!(hex(okm.expose_secret()), "6d8dce04ad557757f4a66e4d531b08ac97249abf40424a65404f14ee3cab68c7");
    }

    #[test]
    fn committing_key_derivation_known_answer() {
        let dk = secret(&(0u8..32).collect::<Vec<_>>());
        let mid: Vec<u8> = (100u8..132).collect();
        let (key, commit) = derive_committing_keys(&dk, &mid, 0x0578).unwrap();
        assert_eq!(hex(key.expose_secret()), "95db223a8b466778e70084dc09410c71bfac9dff689497ae55a56caae0528da1");
        assert_eq!(hex(&commit), "b7c6b709e969c91cfc201a425d3dd061c11c998e16190e2caef2179c94eecc35");
    }

    #[test]
    fn gcm_sequence_iv_known_answer_and_round_trip() {
        assert_eq!(hex(&sequence_iv(7)), "000000000000000000000007");
        assert_eq!(sequence_iv(0), [0u8; 12]);
        let key = GcmKey::new(&secret(&(0u8..24).collect::<Vec<_>>())).unwrap();
        let mut buf = b"hello frame".to_vec();
        let tag = key.seal_in_place(7, b"aad", &mut buf).unwrap();
        buf.extend_from_slice(&tag);
        assert_eq!(hex(&buf), "6eba881a4672903d6287ff7faaf839f58619558291a518ab7641b5");
        let mut copy = buf.clone();
        assert_eq!(key.open_in_place(7, b"aad", &mut copy).unwrap(), 11);
        assert_eq!(&copy[..11], b"hello frame");
        // Wrong sequence number, wrong AAD, flipped bit, short input: all rejected.
        assert_eq!(key.open_in_place(8, b"aad", &mut buf.clone()), Err(CryptoError::Authentication));
        assert_eq!(key.open_in_place(7, b"aaD", &mut buf.clone()), Err(CryptoError::Authentication));
        let mut bad = buf.clone();
        bad[0] ^= 1;
        assert_eq!(key.open_in_place(7, b"aad", &mut bad), Err(CryptoError::Authentication));
        assert_eq!(key.open_in_place(7, b"aad", &mut [0u8; 5]), Err(CryptoError::Authentication));
        let iv = ParsedIv::from_message_bytes(&sequence_iv(7)).unwrap();
        assert_eq!(key.open_with_iv(&iv, b"aad", &mut buf.clone()).unwrap(), 11);
        assert!(ParsedIv::from_message_bytes(&[0u8; 11]).is_err());
    }

    #[test]
    fn gcm_rejects_bad_key_lengths() {
        for n in [0usize, 15, 17, 31, 33] {
            assert_eq!(GcmKey::new(&SecretBytes::zeroed(n)).err().map(|_| ()), Some(()));
        }
    }

    #[test]
    fn aes_wrap_round_trip_random_iv() {
        let key = GcmKey::new(&SecretBytes::zeroed(32)).unwrap();
        let dk = secret(&[9u8; 32]);
        let (iv1, w1) = wrap_with_random_iv(&key, &dk, b"ec").unwrap();
        let (iv2, _) = wrap_with_random_iv(&key, &dk, b"ec").unwrap();
        assert_ne!(iv1, iv2);
        assert_eq!(w1.len(), 48);
        let iv = ParsedIv::from_message_bytes(&iv1).unwrap();
        assert_eq!(unwrap_with_iv(&key, &iv, &w1, b"ec").unwrap().expose_secret(), dk.expose_secret());
        assert_eq!(unwrap_with_iv(&key, &iv, &w1, b"EC").err(), Some(CryptoError::Authentication));
        assert_eq!(unwrap_with_iv(&key, &iv, &w1[..10], b"ec").err(), Some(CryptoError::Malformed));
    }

    #[test]
    fn ecdsa_verifies_python_signatures_from_compressed_keys() {
        for (curve, public, sig) in [
            (
                EcdsaCurve::P256,
                "0226efcebd0ee9e34a669187e18b3a9122b2f733945b649cc9f9f921e9f9dad812",
                "3046022100f3b52423a96e7c3a64f164aa9d7fe75e4058e1dee9de50306872a1ea6cddaa0102210099d7f28a04408ec5527f9dea699b671ccaa692f5ff66e63b2e225439a24336a6",
            ),
            (
                EcdsaCurve::P384,
                "02e86b995e350e4d312a95a6b7d5d8cdcdb4682f588800a1cd6c972e1dcb2a5ac38d90046951b03ccb3b179a89fda88b1b",
                "3065023100bca0df07651eaedbb7ecdcdf2fbe0629eef62fc994d4e633d3bb6c56077a152f5d5d38827886a1d3115ed100731a25c302304648594939bdb0693693eb36faa66beeae20e44c8f826ad61cc24aee01906f14171de7471b44e1d8b508f9fa5cac5154",
            ),
        ] {
            // Fed in two pieces: the hash runs over the stream.
            let mut v = EcdsaVerifier::new(curve, &unhex(public)).unwrap();
            v.update(b"header and ");
            v.update(b"body");
            v.verify(&unhex(sig)).unwrap();
            let mut v = EcdsaVerifier::new(curve, &unhex(public)).unwrap();
            v.update(b"header and bodY");
            assert_eq!(v.verify(&unhex(sig)), Err(CryptoError::Authentication));
        }
        // x >= p is not a point; a P-256 point is not a P-384 one.
        let mut not_a_point = [0xffu8; 33];
        not_a_point[0] = 2;
        assert!(EcdsaVerifier::new(EcdsaCurve::P256, &not_a_point).is_err());
        assert!(
            EcdsaVerifier::new(
                EcdsaCurve::P384,
                &unhex("0226efcebd0ee9e34a669187e18b3a9122b2f733945b649cc9f9f921e9f9dad812")
            )
            .is_err()
        );
    }

    #[test]
    fn ecdsa_sign_verify_round_trip() {
        for curve in [EcdsaCurve::P256, EcdsaCurve::P384] {
            let mut s = EcdsaSigner::generate(curve).unwrap();
            let public = s.public_key_compressed().unwrap();
            assert_eq!(public.len(), curve.compressed_point_len());
            assert!(public[0] == 2 || public[0] == 3);
            s.update(b"abc");
            let sig = s.finish().unwrap();
            let mut v = EcdsaVerifier::new(curve, &public).unwrap();
            v.update(b"abc");
            v.verify(&sig).unwrap();
        }
    }

    #[test]
    fn rsa_all_paddings_round_trip() {
        let private = rsa::PrivateDecryptingKey::generate(rsa::KeySize::Rsa2048).unwrap();
        let private = RsaPrivateKey(private);
        let public = private.public_key();
        let dk = secret(&[5u8; 32]);
        for p in [
            RsaPadding::Pkcs1V15,
            RsaPadding::OaepSha1,
            RsaPadding::OaepSha256,
            RsaPadding::OaepSha384,
            RsaPadding::OaepSha512,
        ] {
            let w = public.wrap(p, &dk).unwrap();
            assert_eq!(w.len(), 256);
            assert_eq!(private.unwrap(p, &w).unwrap().expose_secret(), dk.expose_secret());
            let mut bad = w.clone();
            bad[100] ^= 1;
            assert!(private.unwrap(p, &bad).is_err());
            assert!(private.unwrap(p, &w[..100]).is_err());
        }
        // A different OAEP hash never decrypts.
        let w = public.wrap(RsaPadding::OaepSha256, &dk).unwrap();
        assert!(private.unwrap(RsaPadding::OaepSha1, &w).is_err());
        assert!(RsaPublicKey::from_spki_der(b"junk").is_err());
        assert!(RsaPrivateKey::from_pkcs8_der(&secret(b"junk")).is_err());
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
