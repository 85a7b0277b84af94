//! Encryption context: non-secret key/value pairs bound to a ciphertext as authenticated data.

use std::collections::BTreeMap;

use trent_crypto::blob::canonical_context;

use crate::KmsError;

/// An encryption context. Kept in a `BTreeMap` so its canonical encoding (and thus the associated data) does
/// not depend on the order the caller sent the pairs in. Empty and absent are the same context.
///
/// The canonical encoding is computed when the context is built, so a context too large to encode is refused
/// at the protocol edge, before the key is looked up or the caller authorized, and the service never meets one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionContext {
    pairs: BTreeMap<String, String>,
    aad: Vec<u8>,
}

impl EncryptionContext {
    /// A context from the caller's pairs; `ValidationException` if it cannot be encoded (a key or value longer
    /// than 65535 bytes, or more than 65535 pairs).
    pub fn try_new(pairs: BTreeMap<String, String>) -> Result<Self, KmsError> {
        let aad =
            canonical_context(&pairs).map_err(|_| KmsError::Validation("Encryption context is too large.".into()))?;
        Ok(Self { pairs, aad })
    }

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.pairs
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The associated-data encoding the ciphertext blob binds.
    pub(crate) fn aad(&self) -> &[u8] {
        &self.aad
    }
}

impl Default for EncryptionContext {
    fn default() -> Self {
        // The only encoding failure is a length past u16::MAX; zero pairs have none.
        #[allow(clippy::expect_used)]
        Self::try_new(BTreeMap::new()).expect("the empty context encodes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_large_a_context_is_refused_when_built() {
        let long = "v".repeat(usize::from(u16::MAX) + 1);
        let err = EncryptionContext::try_new(BTreeMap::from([("k".to_owned(), long)])).unwrap_err();
        assert!(matches!(&err, KmsError::Validation(m) if m == "Encryption context is too large."), "{err:?}");
        let fits = "v".repeat(usize::from(u16::MAX));
        assert!(EncryptionContext::try_new(BTreeMap::from([("k".to_owned(), fits)])).is_ok());
    }

    #[test]
    fn empty_and_default_are_the_same_context() {
        let empty = EncryptionContext::try_new(BTreeMap::new()).unwrap();
        assert_eq!(empty, EncryptionContext::default());
        assert_eq!(empty.aad(), EncryptionContext::default().aad());
    }
}
