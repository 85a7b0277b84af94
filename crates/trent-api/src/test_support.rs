//! What the in-process router tests share: an app on memory stores with the account root's credentials, and
//! requests signed exactly as the Rust SDK signs them (the `aws-sigv4` crate).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use axum::body::Body;
use axum::http::Request;
use trent_core::clock::SystemClock;
use trent_core::identity::Identities;
use trent_core::ids::{AccountId, Region};
use trent_core::service::Kms;
use trent_core::ssm::{MemoryParameterStore, Ssm};
use trent_core::store::MemoryStore;
use trent_crypto::{RootKey, SecretBytes};

use crate::{AppState, router};

/// Credentials a test signs with (`token` for STS sessions).
pub(crate) struct Creds {
    pub(crate) akid: String,
    pub(crate) secret: String,
    pub(crate) token: Option<String>,
}

/// The router for a Trent serving `region`, with IAM policies wired into authorization, and the root's
/// credentials of account 111122223333.
pub(crate) fn app_in(region: &str) -> (axum::Router, Creds) {
    let (state, creds) = state_in(region);
    (router(Arc::new(state)), creds)
}

/// The state behind [`app_in`], for tests that add to it (an audit trail).
pub(crate) fn state_in(region: &str) -> (AppState, Creds) {
    let store = Arc::new(MemoryStore::new());
    let root = Arc::new(RootKey::from_secret(&SecretBytes::new(vec![5; 32])).unwrap());
    let clock = Arc::new(SystemClock);
    let kms = Arc::new(Kms::new(store.clone(), root.clone(), clock.clone(), Region::parse(region).unwrap()));
    let ids = Arc::new(Identities::new(store, root, clock));
    kms.set_principal_directory(ids.clone());
    let (akid, secret) = ids.ensure_root_access_key(&AccountId::parse("111122223333").unwrap()).unwrap();
    let secret = String::from_utf8(secret.expose_secret().to_vec()).unwrap();
    let ssm = Arc::new(Ssm::new(kms.clone(), Arc::new(MemoryParameterStore::new())));
    (AppState::new(kms, ssm, ids), Creds { akid, secret, token: None })
}

/// `POST /` with `headers` and `body`, signed for `service` in `region` with `c`.
pub(crate) fn signed(service: &str, region: &str, headers: &[(&str, &str)], body: &[u8], c: &Creds) -> Request<Body> {
    let mut b = Request::builder().method("POST").uri("https://localhost/").header("host", "localhost");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let mut req = b.body(body.to_vec()).unwrap();
    let identity: Identity = Credentials::new(&c.akid, &c.secret, c.token.clone(), None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let hs: Vec<(String, String)> =
        req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
    let signable = SignableRequest::new(
        "POST",
        "https://localhost/",
        hs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req.map(Body::from)
}
