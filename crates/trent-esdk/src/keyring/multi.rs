//! Multi-keyring: a generator plus children. Encryption: the generator makes the data key, every
//! child adds its copy (any failure fails). Decryption: the first keyring that succeeds wins.

use std::sync::Arc;

use trent_crypto::SecretBytes;

use super::Keyring;
use crate::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials, Error, Result};

pub struct MultiKeyring {
    generator: Option<Arc<dyn Keyring>>,
    children: Vec<Arc<dyn Keyring>>,
}

impl MultiKeyring {
    /// Needs a generator, at least one child, or both.
    pub fn new(generator: Option<Arc<dyn Keyring>>, children: Vec<Arc<dyn Keyring>>) -> Result<Self> {
        if generator.is_none() && children.is_empty() {
            return Err(Error::Config("a multi-keyring needs a generator or children".into()));
        }
        Ok(Self { generator, children })
    }
}

impl Keyring for MultiKeyring {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<()> {
        match &self.generator {
            Some(g) => {
                if materials.plaintext_data_key().is_some() {
                    return Err(Error::Keyring(
                        "multi-keyring generator given materials that already have a data key".into(),
                    ));
                }
                g.on_encrypt(materials)?;
                if materials.plaintext_data_key().is_none() {
                    return Err(Error::Keyring("the generator did not produce a data key".into()));
                }
            }
            None if materials.plaintext_data_key().is_none() => {
                return Err(Error::Keyring("multi-keyring without generator needs an existing data key".into()));
            }
            None => {}
        }
        for child in &self.children {
            child.on_encrypt(materials)?;
        }
        Ok(())
    }

    fn on_decrypt(&self, materials: &DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<SecretBytes> {
        let mut failures = Vec::new();
        for k in self.generator.iter().chain(self.children.iter()) {
            match k.on_decrypt(materials, edks) {
                Ok(key) => return Ok(key),
                Err(e) => failures.push(e.to_string()),
            }
        }
        Err(Error::NoDecryptableKey(failures.join("; ")))
    }
}
