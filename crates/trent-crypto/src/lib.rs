//! Trent's cryptographic core.
//!
//! This crate is the only place in Trent that calls a cipher (aws-lc-rs). It does no I/O, knows nothing
//! of HTTP, storage or AWS wire formats, and exposes small, hard-to-misuse operations:
//!
//! - [`SecretBytes`]: secret material that zeroizes on drop and cannot be printed or serialized.
//! - [`RootKey`]: wraps and unwraps stored key material (AES-256-GCM, random nonce chosen inside).
//! - [`BackingKey`] and [`blob`]: the versioned KMS ciphertext-blob format (per-message HKDF key).
//! - [`digest`]: SHA-256, HMAC-SHA256 and constant-time comparison, for request signing.
//!
//! No function here takes a nonce or IV from its caller.

pub mod asymmetric;
pub mod blob;
pub mod digest;
mod error;
pub mod esdk;
pub mod import;
mod keys;
mod random;
mod secret;
pub mod signing;

pub use error::CryptoError;
pub use keys::{BackingKey, KEY_LEN, RootKey};
pub use random::{random_array, random_secret};
pub use secret::SecretBytes;
