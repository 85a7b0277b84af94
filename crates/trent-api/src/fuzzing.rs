//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing` only): the parsers of untrusted bytes,
//! reachable without a network or a signed request.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "fuzz harness: a panic is the finding")]

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use trent_core::clock::SystemClock;
use trent_core::ids::{AccountId, Region};
use trent_core::service::{Caller, Kms};
use trent_core::store::MemoryStore;
use trent_crypto::{RootKey, SecretBytes};

use crate::auth::SigV4Verifier;
use crate::kms::{KmsFacts, Operation, dispatch};

fn kms() -> &'static (Kms, Caller) {
    static KMS: OnceLock<(Kms, Caller)> = OnceLock::new();
    KMS.get_or_init(|| {
        let root = Arc::new(RootKey::from_secret(&SecretBytes::new(vec![1; 32])).unwrap());
        let kms =
            Kms::new(Arc::new(MemoryStore::new()), root, Arc::new(SystemClock), Region::parse("us-east-1").unwrap());
        let account = AccountId::parse("111122223333").unwrap();
        (kms, Caller::root(account))
    })
}

/// Runs operation number `op` (modulo the operation count) on `body` as the account root.
pub fn kms_request(op: u8, body: &[u8]) {
    let (kms, caller) = kms();
    let op = Operation::ALL[op as usize % Operation::ALL.len()];
    let _ = dispatch(kms, caller, op, body, &mut KmsFacts::recording());
}

/// Splits `data` into an Authorization header, a query string and a body, and verifies them.
pub fn sigv4(data: &[u8]) {
    static VERIFIER: OnceLock<SigV4Verifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| SigV4Verifier::new("us-east-1"));
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let auth = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    headers.insert("host", http::HeaderValue::from_static("localhost"));
    headers.insert("x-amz-date", http::HeaderValue::from_static("20260101T120000Z"));
    if let Ok(v) = http::HeaderValue::from_bytes(auth) {
        headers.insert("authorization", v);
    }
    let uri = match std::str::from_utf8(query) {
        Ok(q) => format!("/?{q}").parse().unwrap_or_else(|_| http::Uri::from_static("/")),
        Err(_) => http::Uri::from_static("/"),
    };
    let secret = Arc::new(SecretBytes::new(b"secret".to_vec()));
    let _ = verifier.verify(&http::Method::POST, &uri, &headers, body, SystemTime::now(), "kms", |_| Some(secret));
}
