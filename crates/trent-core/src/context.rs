//! Encryption context: non-secret key/value pairs bound to a ciphertext as authenticated data.

use std::collections::BTreeMap;

use crate::KmsError;

/// An encryption context. Kept in a `BTreeMap` so its canonical encoding (and thus the associated data) does
/// not depend on the order the caller sent the pairs in. Empty and absent are the same context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new(pairs: BTreeMap<String, String>) -> Self {
        Self(pairs)
    }

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The associated-data encoding the ciphertext blob binds.
    pub(crate) fn aad(&self) -> Result<Vec<u8>, KmsError> {
        trent_crypto::blob::canonical_context(&self.0)
            .map_err(|_| KmsError::Validation("Encryption context is too large.".into()))
    }
}
