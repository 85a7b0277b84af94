//! Raw AES keyring: wraps data keys with a local AES-GCM key, binding the encryption context.
//!
//! EDK: provider id = key namespace; provider info = `key name ‖ u32 tag bits (128) ‖ u32 IV length
//! (12) ‖ IV`; ciphertext = `wrapped key ‖ tag`. AAD = the serialized encryption context.

use trent_crypto::SecretBytes;
use trent_crypto::esdk::{self, GcmKey, IV_LEN, ParsedIv, TAG_LEN};

use super::{Keyring, check_namespace, generate_data_key};
use crate::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials, Error, Result, context};

const TAG_BITS: u32 = (TAG_LEN * 8) as u32;

pub struct RawAesKeyring {
    namespace: String,
    name: String,
    key: GcmKey,
}

impl RawAesKeyring {
    /// `wrapping_key` must be 16, 24 or 32 bytes.
    pub fn new(namespace: &str, name: &str, wrapping_key: SecretBytes) -> Result<Self> {
        check_namespace(namespace)?;
        let key = GcmKey::new(&wrapping_key)
            .map_err(|_| Error::InvalidKey("AES wrapping key must be 128, 192 or 256 bits".into()))?;
        Ok(Self { namespace: namespace.to_owned(), name: name.to_owned(), key })
    }

    fn provider_info(&self, iv: &[u8; IV_LEN]) -> Vec<u8> {
        let mut info = Vec::with_capacity(self.name.len() + 8 + IV_LEN);
        info.extend_from_slice(self.name.as_bytes());
        info.extend_from_slice(&TAG_BITS.to_be_bytes());
        info.extend_from_slice(&(IV_LEN as u32).to_be_bytes());
        info.extend_from_slice(iv);
        info
    }

    /// The IV when `info` names this key with the expected tag and IV lengths.
    fn parse_info(&self, info: &[u8]) -> Option<ParsedIv> {
        let rest = info.strip_prefix(self.name.as_bytes())?;
        if rest.len() != 8 + IV_LEN
            || rest[..4] != TAG_BITS.to_be_bytes()
            || rest[4..8] != (IV_LEN as u32).to_be_bytes()
        {
            return None;
        }
        ParsedIv::from_message_bytes(&rest[8..]).ok()
    }
}

impl Keyring for RawAesKeyring {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<()> {
        if materials.plaintext_data_key().is_none() {
            generate_data_key(materials)?;
        }
        let aad = context::serialize(materials.encryption_context())?;
        let dk = materials.plaintext_data_key().ok_or_else(|| Error::Keyring("no data key".into()))?;
        let (iv, ciphertext) = esdk::wrap_with_random_iv(&self.key, dk, &aad)?;
        let edk = EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: self.provider_info(&iv),
            ciphertext,
        };
        materials.add_encrypted_data_key(edk);
        Ok(())
    }

    fn on_decrypt(&self, materials: &DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<SecretBytes> {
        let aad = context::serialize(materials.encryption_context())?;
        let want_len = materials.suite().data_key_len() + TAG_LEN;
        let mut tried = 0;
        for edk in edks.iter().filter(|e| e.provider_id == self.namespace && e.ciphertext.len() == want_len) {
            let Some(iv) = self.parse_info(&edk.provider_info) else {
                continue;
            };
            tried += 1;
            // A failure here is expected when several EDKs match by name; try the next one.
            if let Ok(key) = esdk::unwrap_with_iv(&self.key, &iv, &edk.ciphertext, &aad) {
                return Ok(key);
            }
        }
        Err(Error::NoDecryptableKey(format!(
            "raw AES key {}/{}: {tried} matching encrypted data key(s), none decrypted",
            self.namespace, self.name
        )))
    }
}
