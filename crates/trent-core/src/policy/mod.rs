//! The IAM JSON policy language: parse once into typed form ([`document`]), evaluate against a request
//! ([`eval`]), with conditions ([`condition`]) and wildcard matching ([`pattern`]). KMS's own authorization rules
//! (key policy first, IAM only where the key policy delegates to the account, grants, cross-account) are in
//! [`kms`].
//!
//! Pure code: no I/O, no clocks (the request context carries the time), so every rule is table-tested.

pub mod condition;
pub mod document;
pub mod eval;
pub mod kms;
pub mod pattern;

pub use document::{Policy, PolicyError, parse_policy};
pub use eval::{Decision, RequestContext, evaluate};
