/// Failures of the crypto core. Deliberately opaque (like ring's `Unspecified`): a caller learns that an
/// authenticated decryption failed, never why, so that no oracle leaks through error detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The input is not a well-formed blob of a known format version.
    Malformed,
    /// Authentication failed: wrong key, wrong associated data or tampered bytes.
    Authentication,
    /// Key material of the wrong length was supplied.
    BadKeyLength,
    /// The system random generator or a primitive failed unexpectedly.
    Internal,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed ciphertext",
            Self::Authentication => "authentication failed",
            Self::BadKeyLength => "bad key length",
            Self::Internal => "internal cryptographic failure",
        })
    }
}

impl std::error::Error for CryptoError {}
