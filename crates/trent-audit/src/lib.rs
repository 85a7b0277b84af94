//! Trent's audit trail: every request recorded as a CloudTrail event, durable before the reply, tamper-evident.
//!
//! Role: `trent-api` builds one [`AuditEvent`] per request (allowed, denied or failed) and awaits
//! [`AuditSink::record`] before it answers; `trent audit verify` calls [`verify`]; `trent audit lookup` and
//! CloudTrail's LookupEvents read the trail through [`search`]; KMS GetKeyLastUsage reads the key-usage
//! index the writer keeps ([`usage`]).
//!
//! Rules:
//! - Secrets never enter an event: the event type has no field that could hold plaintext, data keys,
//!   ciphertext blobs or secret keys (see [`event`]). Encryption context is logged, as AWS does.
//! - Durable before the response: one writer thread owns the segment file and group-commits (one fsync per
//!   batch). A full queue, a failed write or a slow disk past the ack timeout fails the request; nothing waits
//!   unboundedly.
//! - Tamper evidence: records are hash-chained across segments and sealed by Ed25519-signed digest records
//!   (periodically and at shutdown); [`verify`] checks a trail from its files alone (see [`record`]).
//! - Only `trent-crypto` touches cryptographic primitives; this crate does file I/O but no HTTP.

pub mod event;
pub mod export;
mod files;
mod identity;
mod maintenance;
pub mod record;
pub mod search;
pub mod usage;
mod verify;
mod writer;

#[cfg(test)]
mod tests;

pub use event::{
    AssumedRoleUser, AuditEvent, EventType, IssuedCredentials, RequestParameters, Resource, ResponseElements,
    TlsDetails, UserIdentity,
};
pub use export::{ExportConfig, ExportFormat, ExportSummary, export_closed};
pub use verify::{Location, VerifyError, VerifyMode, VerifyReport, verify, verify_with};
pub use writer::{AuditConfig, AuditSink, AuditStats};

/// Why an event could not be recorded. Every variant fails the request that produced the event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditFailure {
    #[error("the audit queue is full")]
    QueueFull,
    #[error("the audit trail could not be written")]
    Write,
    #[error("the audit write did not complete in time")]
    Timeout,
    #[error("the audit trail is closed")]
    Closed,
    #[error("the audit event could not be encoded: {0}")]
    Encode(String),
}

/// Why the trail could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit trail: {0}")]
    Io(String),
    #[error("audit signing key: {0}")]
    Key(String),
    #[error("audit trail: {0}")]
    Corrupt(String),
}
