//! Trent's domain and service layer.
//!
//! - [`ids`], [`model`], [`context`]: domain types, parsed at the edge by the protocol layer.
//! - [`service::Kms`]: one method per KMS operation; no HTTP types, no wire DTOs.
//! - [`store::Store`]: the storage boundary (implemented in `trent-store`).
//! - [`root_key::RootKeyProvider`], [`clock::Clock`]: the other things the service depends on.
//!
//! Depends on `trent-crypto` for every cryptographic operation and never on a cipher crate directly; knows
//! nothing of axum, hyper or SQL.

pub mod authz;
mod cache;
pub mod clock;
pub mod context;
mod error;
pub mod iam;
pub mod identity;
pub mod ids;
pub mod model;
pub mod policy;
pub mod root_key;
pub mod service;
pub mod specs;
pub mod ssm;
pub mod store;

pub use error::{KmsError, Validation};
