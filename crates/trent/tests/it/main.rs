//! End-to-end tests: the official AWS SDK for Rust (`aws-sdk-kms`) against a real `trent serve` over HTTPS,
//! trusting only the CA that Trent generated, with the credentials `trent env` prints.
//!
//! One server is shared by the whole binary (`server::shared()`); tests use fresh keys and unique alias
//! names so they can run in parallel. The restart test runs its own server.

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod asymmetric;
mod auth;
mod errors;
mod esdk;
mod kms;
mod limits;
mod lock;
mod restart;
mod server;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyMetadata, Tag};

/// The account and region a fresh data directory gets.
pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-east-1";

/// Unwraps an SDK result, printing the full error chain (the SDK's Display alone says "service error").
#[macro_export]
macro_rules! ok {
    ($fut:expr) => {
        match $fut.await {
            Ok(v) => v,
            Err(e) => panic!("{} failed: {}", stringify!($fut), aws_sdk_kms::error::DisplayErrorContext(&e)),
        }
    };
}

/// Sends a request that must fail with a service error matching `$pat`, then evaluates `$body`.
#[macro_export]
macro_rules! expect_err {
    ($fut:expr, $pat:pat => $body:expr) => {{
        match $fut.await {
            Ok(v) => panic!("{} succeeded, expected an error: {v:?}", stringify!($fut)),
            Err(e) => match e.into_service_error() {
                #[allow(clippy::redundant_pattern_matching)]
                $pat => $body,
                #[allow(unreachable_patterns)]
                other => panic!("{}: expected {}, got {other:?}", stringify!($fut), stringify!($pat)),
            },
        }
    }};
}

/// Sends a request that must fail with the given error code (for errors the KMS model does not name);
/// returns the message.
#[macro_export]
macro_rules! expect_code {
    ($fut:expr, $code:expr) => {{
        use aws_sdk_kms::error::ProvideErrorMetadata as _;
        match $fut.await {
            Ok(v) => panic!("{} succeeded, expected {}: {v:?}", stringify!($fut), $code),
            Err(e) => {
                let e = e.into_service_error();
                assert_eq!(e.code(), Some($code), "{}: unexpected error {e:?}", stringify!($fut));
                e.message().map(str::to_owned)
            }
        }
    }};
}

pub fn client() -> Client {
    server::shared().client()
}

pub fn blob(b: impl Into<Vec<u8>>) -> Blob {
    Blob::new(b)
}

pub fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().tag_key(k).tag_value(v).build().expect("tag")
}

pub fn key_arn(key_id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}")
}

pub fn alias_arn(name: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:{name}")
}

/// A new symmetric key with a description.
pub async fn new_key(c: &Client, description: &str) -> KeyMetadata {
    let out = ok!(c.create_key().description(description).send());
    out.key_metadata().expect("CreateKey returns KeyMetadata").clone()
}

/// A new key's id.
pub async fn new_key_id(c: &Client) -> String {
    new_key(c, "it").await.key_id().to_owned()
}

/// A new unique alias name (`alias/it-...`).
pub fn new_alias() -> String {
    format!("alias/{}", server::unique("it"))
}
