//! Authentication as the SDK experiences it: SigV4 failures, and HTTPS trust in the generated CA.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_kms::Client;
use aws_smithy_async::time::StaticTimeSource;

use crate::server::{self, Server};
use crate::{expect_code, ok};

#[tokio::test]
async fn wrong_secret_key_is_an_invalid_signature() {
    let s = server::shared();
    let c = Client::from_conf(s.config_with(&s.env.access_key_id, "not-the-secret-key-0123456789abcdefghij").build());
    let msg = expect_code!(c.list_keys().send(), "InvalidSignatureException");
    assert!(msg.unwrap().starts_with("The request signature we calculated does not match the signature you provided."),);
}

#[tokio::test]
async fn unknown_access_key_is_unrecognized() {
    let s = server::shared();
    let c = Client::from_conf(s.config_with("AKIAEXAMPLEUNKNOWN00", &s.env.secret_access_key).build());
    let msg = expect_code!(c.generate_random().number_of_bytes(8).send(), "UnrecognizedClientException");
    assert_eq!(msg.as_deref(), Some("The security token included in the request is invalid."));
}

#[tokio::test]
async fn session_token_on_a_long_term_key_is_unrecognized() {
    let s = server::shared();
    let creds = Credentials::new(
        &s.env.access_key_id,
        &s.env.secret_access_key,
        Some("FwoGZXIvYXdzEXAMPLETOKEN".into()),
        None,
        "trent-it",
    );
    let c = Client::from_conf(
        s.config_with(&s.env.access_key_id, &s.env.secret_access_key).credentials_provider(creds).build(),
    );
    expect_code!(c.list_keys().send(), "UnrecognizedClientException");
}

/// A request signed 20 minutes ago (the SDK's clock is set back) is outside the 15-minute window.
#[tokio::test]
async fn expired_signature_is_refused() {
    let s = server::shared();
    let past = SystemTime::now() - Duration::from_secs(20 * 60);
    let c = Client::from_conf(
        s.config_with(&s.env.access_key_id, &s.env.secret_access_key).time_source(StaticTimeSource::new(past)).build(),
    );
    let msg = expect_code!(c.list_keys().send(), "InvalidSignatureException");
    let msg = msg.unwrap();
    assert!(msg.starts_with("Signature expired: "), "{msg}");
    assert!(msg.ends_with(" - 15 min.)"), "{msg}");
}

/// Likewise 20 minutes in the future.
#[tokio::test]
async fn future_signature_is_refused() {
    let s = server::shared();
    let future = SystemTime::now() + Duration::from_secs(20 * 60);
    let c = Client::from_conf(
        s.config_with(&s.env.access_key_id, &s.env.secret_access_key)
            .time_source(StaticTimeSource::new(future))
            .build(),
    );
    let msg = expect_code!(c.list_keys().send(), "InvalidSignatureException").unwrap();
    assert!(msg.starts_with("Signature not yet current: "), "{msg}");
}

/// Within the window (5 minutes off) the request is accepted.
#[tokio::test]
async fn small_clock_skew_is_accepted() {
    let s = server::shared();
    let c = Client::from_conf(
        s.config_with(&s.env.access_key_id, &s.env.secret_access_key)
            .time_source(StaticTimeSource::new(SystemTime::now() - Duration::from_secs(5 * 60)))
            .build(),
    );
    ok!(c.list_keys().limit(1).send());
}

/// Without the generated CA in the trust store, the TLS handshake fails: nothing is sent.
#[tokio::test]
async fn https_requires_trusting_the_generated_ca() {
    let s = server::shared();
    let c = Client::from_conf(
        s.config_with(&s.env.access_key_id, &s.env.secret_access_key).http_client(Server::https_client(None)).build(),
    );
    let err = c.list_keys().send().await.expect_err("an untrusted certificate must fail the handshake");
    assert!(
        matches!(err, aws_sdk_kms::error::SdkError::DispatchFailure(_)),
        "expected a connection failure, got {err:?}"
    );
    // Plain HTTP to the HTTPS port is not answered as KMS either.
    let http = s.env.endpoint_url.replacen("https://", "http://", 1);
    let c = Client::from_conf(
        s.config_with(&s.env.access_key_id, &s.env.secret_access_key)
            .endpoint_url(http)
            .http_client(Server::https_client(Some(s.ca_pem())))
            .build(),
    );
    assert!(c.list_keys().send().await.is_err());
}
