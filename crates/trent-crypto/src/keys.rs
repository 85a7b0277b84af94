use aws_lc_rs::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, RandomizedNonceKey, UnboundKey};

use crate::{CryptoError, SecretBytes, random_secret};

/// Length of every symmetric key Trent holds: 256 bits.
pub const KEY_LEN: usize = 32;

/// Format version of a wrapped key. Stored forever: DO NOT CHANGE THIS VALUE.
const WRAP_V1: u8 = 0x01;
/// Domain separation for root-key wrapping, so a wrapped key can never be confused with a KMS blob.
const WRAP_AAD_PREFIX: &[u8] = b"trent/root-wrap/v1\0";
const TAG_LEN: usize = 16;

/// The 256-bit root key: it only wraps and unwraps stored key material, never data.
///
/// Wrapped format v1: `0x01 || nonce (12) || AES-256-GCM(material) || tag (16)`, with the caller's
/// binding (for a backing key: its key id and version) as associated data. The nonce is random and chosen
/// here; the root key wraps one item per backing-key version or access key, many orders of magnitude below
/// the 2^32 random-nonce bound of AES-GCM.
pub struct RootKey {
    key: RandomizedNonceKey,
    // Kept for opening: RandomizedNonceKey can open too, but we want a LessSafeKey for explicit nonces read
    // from stored bytes.
    opener: LessSafeKey,
}

impl RootKey {
    pub fn from_secret(material: &SecretBytes) -> Result<Self, CryptoError> {
        let bytes = material.expose_secret(); // needed to key the cipher
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::BadKeyLength);
        }
        let key = RandomizedNonceKey::new(&aead::AES_256_GCM, bytes).map_err(|_| CryptoError::Internal)?;
        let opener = LessSafeKey::new(UnboundKey::new(&aead::AES_256_GCM, bytes).map_err(|_| CryptoError::Internal)?);
        Ok(Self { key, opener })
    }

    /// Fresh random root-key material, for a new installation.
    pub fn generate_material() -> Result<SecretBytes, CryptoError> {
        random_secret(KEY_LEN)
    }

    /// Wraps `material`, binding `binding` (an identity such as key ARN and version) as associated data.
    pub fn wrap(&self, material: &SecretBytes, binding: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let aad = wrap_aad(binding);
        // The buffer briefly holds plaintext, then ciphertext in place; only ciphertext leaves.
        let mut buf = material.expose_secret().to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad.as_slice()), &mut buf)
            .map_err(|_| CryptoError::Internal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(WRAP_V1);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Unwraps what [`RootKey::wrap`] produced with the same `binding`.
    pub fn unwrap(&self, wrapped: &[u8], binding: &[u8]) -> Result<SecretBytes, CryptoError> {
        if wrapped.len() < 1 + NONCE_LEN + TAG_LEN || wrapped[0] != WRAP_V1 {
            return Err(CryptoError::Malformed);
        }
        let nonce = Nonce::try_assume_unique_for_key(&wrapped[1..1 + NONCE_LEN]).map_err(|_| CryptoError::Malformed)?;
        let mut buf = SecretBytes::new(wrapped[1 + NONCE_LEN..].to_vec());
        let aad = wrap_aad(binding);
        let len = self
            .opener
            .open_in_place(nonce, Aad::from(aad.as_slice()), buf.expose_secret_mut())
            .map_err(|_| CryptoError::Authentication)?
            .len();
        buf.expose_secret_mut().truncate(len);
        Ok(buf)
    }
}

fn wrap_aad(binding: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_AAD_PREFIX.len() + binding.len());
    aad.extend_from_slice(WRAP_AAD_PREFIX);
    aad.extend_from_slice(binding);
    aad
}

/// One version of a KMS key's symmetric backing material (256 bits), unwrapped, in memory only.
pub struct BackingKey {
    material: SecretBytes,
}

impl BackingKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self { material: random_secret(KEY_LEN)? })
    }

    pub fn from_secret(material: SecretBytes) -> Result<Self, CryptoError> {
        if material.len() != KEY_LEN {
            return Err(CryptoError::BadKeyLength);
        }
        Ok(Self { material })
    }

    /// The raw material, for wrapping under the root key. Named so that every use is visible.
    pub fn material_for_wrapping(&self) -> &SecretBytes {
        &self.material
    }

    pub(crate) fn ikm(&self) -> &[u8] {
        self.material.expose_secret()
    }
}

impl std::fmt::Debug for BackingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackingKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> RootKey {
        RootKey::from_secret(&SecretBytes::new(vec![7u8; 32])).unwrap()
    }

    #[test]
    fn wrap_round_trip_and_binding() {
        let r = root();
        let m = SecretBytes::new(vec![42u8; 32]);
        let w = r.wrap(&m, b"key-1:v1").unwrap();
        assert_eq!(w.len(), 1 + 12 + 32 + 16);
        assert_eq!(r.unwrap(&w, b"key-1:v1").unwrap().expose_secret(), m.expose_secret());
        assert_eq!(r.unwrap(&w, b"key-1:v2").unwrap_err(), CryptoError::Authentication);
        let mut t = w.clone();
        t[20] ^= 1;
        assert_eq!(r.unwrap(&t, b"key-1:v1").unwrap_err(), CryptoError::Authentication);
        assert_eq!(r.unwrap(&w[..10], b"key-1:v1").unwrap_err(), CryptoError::Malformed);
    }

    #[test]
    fn wrap_nonces_differ() {
        let r = root();
        let m = SecretBytes::new(vec![1u8; 32]);
        assert_ne!(r.wrap(&m, b"x").unwrap(), r.wrap(&m, b"x").unwrap());
    }

    #[test]
    fn wrong_root_key_length_rejected() {
        assert_eq!(RootKey::from_secret(&SecretBytes::new(vec![0; 16])).err(), Some(CryptoError::BadKeyLength));
    }
}
