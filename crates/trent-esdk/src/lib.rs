//! The AWS Encryption SDK message format, natively in Rust.
//!
//! Role: envelope encryption of data of any size, reading and writing the same bytes as the official
//! SDKs (message format v1 and v2, all 11 algorithm suites, framed bodies written, framed and
//! non-framed read). A materials manager asks keyrings for a data key and its encrypted copies; the
//! message stores the copies, and the data key (through the suite's KDF) encrypts the body.
//!
//! Rules this crate keeps:
//! - Every cipher, KDF, signature and random byte comes from `trent-crypto`; this crate never picks
//!   an IV (the IV rule is computed there from sequence numbers) and never sees aws-lc-rs.
//! - Data keys are `SecretBytes` (zeroized on drop, never printed) from keyring to KDF.
//! - Untrusted input is parsed defensively: every length is checked, buffers grow only as input
//!   arrives, and no input can make the parser panic.
//! - Streaming in both directions with memory bounded by the frame length. For signed suites the
//!   final frame is never released before the footer signature verifies ([`DecryptMode`] also offers
//!   buffering the whole message, or refusing signed messages).
//! - Key commitment is checked in constant time before the data key is used; the commitment policy
//!   is enforced before any keyring runs and again on the materials returned.
//! - One error type, [`Error`].
//!
//! ```no_run
//! # fn demo() -> trent_esdk::Result<()> {
//! use std::sync::Arc;
//! use trent_esdk::{Client, DefaultMaterialsManager, EncryptOptions, DecryptOptions, RawAesKeyring};
//! let keyring = RawAesKeyring::new("my-namespace", "my-key", trent_crypto::random_secret(32)?)?;
//! let cmm = DefaultMaterialsManager::new(Arc::new(keyring));
//! let client = Client::new();
//! let ec = [("purpose".to_string(), "demo".to_string())].into_iter().collect();
//! let message = client.encrypt(&cmm, &ec, b"hello", &EncryptOptions::default())?;
//! let out = client.decrypt(&cmm, &message, &DecryptOptions::default())?;
//! assert_eq!(out.plaintext, b"hello");
//! # Ok(()) }
//! ```

mod body;
mod caching;
mod client;
mod cmm;
pub mod context;
mod decrypt;
mod encrypt;
mod error;
pub mod header;
pub mod keyring;
mod materials;
mod suite;
mod wire;

pub use body::MAX_FRAME_LENGTH;
pub use caching::{CacheLimits, CachingMaterialsManager};
pub use client::{Client, Decrypted};
pub use cmm::{DefaultMaterialsManager, MaterialsManager, RequiredEncryptionContextManager};
pub use context::EncryptionContext;
pub use decrypt::{DecryptMode, DecryptOptions, Decryptor};
pub use encrypt::{EncryptOptions, Encryptor};
pub use error::{Error, Result};
pub use header::{ContentType, EncryptedDataKey, HeaderAuth, HeaderBody};
#[cfg(feature = "kms")]
pub use keyring::{AwsKmsDiscoveryKeyring, AwsKmsKeyring, DiscoveryFilter};
pub use keyring::{Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring};
pub use materials::{DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest};
pub use suite::{AlgorithmSuite, CommitmentPolicy, Kdf};
/// The KMS client the AWS KMS keyrings use (re-exported so callers need not depend on it).
#[cfg(feature = "kms")]
pub use trent_client;
pub use trent_crypto::esdk::RsaPadding;
