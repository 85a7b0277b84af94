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
mod outbox;
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
pub use writer::{AuditConfig, AuditSink, AuditStats, Reservation};

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

/// For tests of the layers above: a trail on a disk that fails on demand.
#[cfg(feature = "test-util")]
pub mod testing {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    use trent_crypto::RootKey;

    use crate::files::SegmentFile;
    use crate::{AuditConfig, AuditError, AuditSink};

    /// Opens a trail in `dir` whose segment writes fail (after writing half, as a full disk does) whenever
    /// `fail` says so for the bytes about to be written.
    pub fn open_failing(
        dir: &Path,
        root: &RootKey,
        config: AuditConfig,
        fail: impl Fn(&[u8]) -> bool + Clone + Send + Sync + 'static,
    ) -> Result<AuditSink, AuditError> {
        AuditSink::open_with(dir, root, config, move |file| Box::new(Failing { file, fail: fail.clone() }))
    }

    struct Failing<F> {
        file: File,
        fail: F,
    }

    impl<F: Fn(&[u8]) -> bool + Send> SegmentFile for Failing<F> {
        fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
            if (self.fail)(data) {
                self.file.write_at(offset, &data[..data.len() / 2])?;
                return Err(io::Error::other("injected: no space left on device"));
            }
            self.file.write_at(offset, data)
        }

        fn sync(&mut self) -> io::Result<()> {
            self.file.sync()
        }

        fn set_len_synced(&mut self, len: u64) -> io::Result<()> {
            self.file.set_len_synced(len)
        }
    }
}
