//! The crate's one error type.

use trent_crypto::CryptoError;

use crate::CommitmentPolicy;

/// Every failure of encryption, decryption, parsing and keyrings.
///
/// Authentication failures say which check failed (header, frame, signature, commitment) but never
/// why, so no oracle leaks through detail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the message ends early")]
    Truncated,
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("unsupported message format version {0:#04x}")]
    UnsupportedVersion(u8),
    #[error("unsupported algorithm suite {0:#06x}")]
    UnsupportedSuite(u16),
    #[error("algorithm suite {suite:#06x} is not allowed by commitment policy {policy:?}")]
    CommitmentPolicy { suite: u16, policy: CommitmentPolicy },
    #[error("the message has {count} or more encrypted data keys, above the limit of {max}")]
    TooManyEncryptedDataKeys { count: usize, max: usize },
    #[error("invalid encryption context: {0}")]
    InvalidEncryptionContext(String),
    #[error("the encryption context does not match for key {0:?}")]
    EncryptionContextMismatch(String),
    #[error("key commitment check failed")]
    Commitment,
    #[error("header authentication failed")]
    HeaderAuthentication,
    #[error("message body authentication failed")]
    BodyAuthentication,
    #[error("signature verification failed")]
    Signature,
    #[error("the message is signed and signed messages are refused (decrypt unsigned only)")]
    SignedMessageRefused,
    #[error("no keyring could decrypt a data key: {0}")]
    NoDecryptableKey(String),
    #[error("keyring failure: {0}")]
    Keyring(String),
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("limit exceeded: {0}")]
    LimitExceeded(&'static str),
    #[error("bytes follow the end of the message")]
    TrailingBytes,
    #[error("cryptographic failure: {0}")]
    Crypto(#[from] CryptoError),
}

impl Error {
    /// Maps an I/O error from the message source: a short read is a truncated message.
    pub(crate) fn from_read(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::UnexpectedEof { Self::Truncated } else { Self::Io(e) }
    }
}

/// So that [`crate::Decryptor`] can implement `std::io::Read` and [`crate::Encryptor`] `Write`: the
/// original error is kept as the source (`InvalidData` for message problems).
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => io,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
