//! Trent's HTTP layer: from a request to a typed operation and back.
//!
//! ```text
//! request -> protocol (X-Amz-Target) -> SigV4 (service must match the protocol) -> operation
//!         -> wire DTO parsed into domain types -> trent_core::service::Kms -> JSON response
//! ```
//!
//! Errors of every layer become wire responses in one place ([`error`]). Depends on `trent-core` and
//! `trent-crypto` (for SigV4 digests); knows nothing of TLS, listeners or storage backends.

mod audit;
mod audit_json;
mod auth;
mod cloudtrail;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod iam;
mod json;
mod kms;
mod limits;
mod protocol;
mod ssm;
mod throttle;

pub use limits::{BODY_ALLOWANCE, RequestLimits};
pub use throttle::Quotas;

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use trent_core::KmsError;
use trent_core::identity::Identities;
use trent_core::service::{Caller, DelegatedCalls, Kms, ResolvedKey};
use trent_core::ssm::{Ssm, SsmError};

use auth::SigV4Verifier;
use error::{ApiError, JSON_CONTENT_TYPE};
use kms::Operation;
use protocol::Protocol;

/// Largest request body accepted. The largest KMS request (a 128 KiB key policy, JSON-escaped) fits.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// What every request handler shares.
pub struct AppState {
    kms: Arc<Kms>,
    ssm: Arc<Ssm>,
    identities: Arc<Identities>,
    verifier: SigV4Verifier,
    /// IAM and STS (Query protocol), over the same identities.
    iam: Arc<trent_core::iam::Iam>,
    /// Verifies IAM/STS requests signed for us-east-1 when Trent serves another region; `None` otherwise.
    global_verifier: Option<SigV4Verifier>,
    /// The audit trail; `None` only in tests that do not look at it.
    audit: Option<Arc<trent_audit::AuditSink>>,
    /// Body deadline and byte budget, requests in flight.
    limiter: limits::Limiter,
    /// Request quotas per account.
    throttle: throttle::Throttle,
}

impl AppState {
    pub fn new(kms: Arc<Kms>, ssm: Arc<Ssm>, identities: Arc<Identities>) -> Self {
        let verifier = SigV4Verifier::new(kms.region().as_str());
        let iam = Arc::new(trent_core::iam::Iam::new(identities.clone()));
        let global_verifier =
            (kms.region().as_str() != iam::GLOBAL_REGION).then(|| SigV4Verifier::new(iam::GLOBAL_REGION));
        let limiter = limits::Limiter::new(RequestLimits::default());
        let throttle = throttle::Throttle::new(Quotas::default());
        Self { kms, ssm, identities, verifier, iam, global_verifier, audit: None, limiter, throttle }
    }

    /// Limits on request bodies and requests in flight (defaults: [`RequestLimits::default`]).
    pub fn with_limits(mut self, limits: RequestLimits) -> Self {
        self.limiter = limits::Limiter::new(limits);
        self
    }

    /// Request quotas (default: AWS's).
    pub fn with_quotas(mut self, quotas: Quotas) -> Self {
        self.throttle = throttle::Throttle::new(quotas);
        self
    }

    /// The verifier a route's signature is checked by: the configured region's, or for IAM and STS signed for
    /// `us-east-1` (what the SDKs sign IAM and global STS with, see `iam`) the global one.
    fn verifier_for(&self, route: protocol::Route) -> &SigV4Verifier {
        match (route.protocol.is_query() && route.global_scope, &self.global_verifier) {
            (true, Some(global)) => global,
            _ => &self.verifier,
        }
    }

    /// Records every request in `sink`, durably before its reply (fail closed). `None`: no trail (tests and
    /// benchmarks only).
    pub fn with_audit(mut self, sink: Option<Arc<trent_audit::AuditSink>>) -> Self {
        self.audit = sink;
        self
    }
}

/// The HTTP application: `/healthz` and the AWS protocols on `POST /`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", any(aws_entry))
        .fallback(any(aws_entry))
        .with_state(state)
}

async fn aws_entry(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let request_id = trent_audit::event::fresh_uuid();
    // The one place a request's protocol is worked out; every later stage takes it from here.
    let route = protocol::Route::of(req.headers(), req.uri());
    let info = state.audit.as_ref().map(|_| audit::RequestInfo::from_request(&req, route));
    let mut facts = audit::Facts::default();
    let mut result = handle(state.clone(), req, route, &mut facts, &request_id).await;
    if let (Some(sink), Some(info)) = (&state.audit, info) {
        // Every request, allowed or failed, is on disk before its reply; if not, the reply is an error.
        result = audit::record(sink, state.kms.region().as_str(), info, facts, &request_id, result).await;
    }
    match result {
        Ok(body) => {
            let mut resp = (StatusCode::OK, body).into_response();
            let h = resp.headers_mut();
            let content_type = if route.protocol.is_query() { iam::XML_CONTENT_TYPE } else { JSON_CONTENT_TYPE };
            h.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                h.insert("x-amzn-requestid", v);
            }
            resp
        }
        Err(e) => {
            tracing::debug!(request_id, error = e.aws_type(), "request failed");
            if route.protocol.is_query() {
                iam::error_response(&e, route.protocol.signing_name(), &request_id)
            } else {
                e.into_response(&request_id)
            }
        }
    }
}

async fn handle(
    state: Arc<AppState>,
    req: Request,
    route: protocol::Route,
    facts: &mut audit::Facts,
    request_id: &str,
) -> Result<Vec<u8>, ApiError> {
    let (parts, body) = req.into_parts();
    let _in_flight = state.limiter.in_flight()?;
    // Whatever cannot authenticate is refused from its headers, before its body is waited for or buffered.
    let credential = limits::preauthenticate(&state, &parts, route)?;
    let body = limits::read_body(&state.limiter, body).await?;
    facts.body = Some(body.clone()); // a reference count, not a copy

    // The protocol (`route`) fixes the SigV4 service name the request must be signed for. Authenticating
    // before looking at the operation means an unsigned probe learns nothing but that it must sign.
    let caller = authenticate(&state, &parts, &body, route, credential)?;
    facts.caller = Some(caller.clone());
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let protocol = route.protocol;
    if protocol.is_query() {
        let request = iam::QueryRequest::parse(protocol.signing_name(), &body)?;
        facts.operation = Some(audit::Named::query(request.operation));
        reserve_record(&state, facts)?;
        // IAM writes go to the store (fsync): keep them off the async workers.
        let (st, request_id) = (state.clone(), request_id.to_owned());
        return tokio::task::spawn_blocking(move || iam::dispatch(&st.iam, &caller, &request, &request_id))
            .await
            .map_err(|e| ApiError::Kms(KmsError::internal(format!("operation task failed: {e}"))))?;
    }
    if protocol == Protocol::Ssm {
        let mut caller = caller;
        let op_name = target.strip_prefix(ssm::TARGET_PREFIX).unwrap_or_default();
        let op = ssm::Operation::from_name(op_name).ok_or(ApiError::UnknownOperation)?;
        facts.operation = Some(audit::Named::ssm(op));
        state.throttle.check(caller.account.as_str(), throttle::Service::Ssm, op_name)?;
        reserve_record(&state, facts)?;
        // The KMS calls Parameter Store makes for the caller become audit events of their own.
        let delegated = state.audit.as_ref().map(|_| DelegatedCalls::default());
        caller.delegated = delegated.clone();
        // Every SSM operation reads the store and may write it or call KMS: keep it off the async workers.
        let st = state.clone();
        let result = tokio::task::spawn_blocking(move || ssm::dispatch(&st.ssm, &caller, op, &body))
            .await
            .map_err(|e| ApiError::Ssm(SsmError::internal(format!("operation task failed: {e}"))));
        facts.delegated = delegated.map(|d| d.take()).unwrap_or_default();
        return result?;
    }
    if protocol == Protocol::CloudTrail {
        let op_name = cloudtrail::operation(target).unwrap_or_default();
        let op = cloudtrail::Operation::from_name(op_name).ok_or(ApiError::UnknownOperation)?;
        facts.operation = Some(audit::Named::cloudtrail(op));
        state.throttle.check(caller.account.as_str(), throttle::Service::CloudTrail, op_name)?;
        reserve_record(&state, facts)?;
        // LookupEvents scans trail files: keep it off the async workers.
        let st = state.clone();
        return tokio::task::spawn_blocking(move || {
            let trail = st.audit.as_ref().map(|a| a.dir());
            cloudtrail::dispatch(&st.identities, &caller, trail, op, &body)
        })
        .await
        .map_err(|e| ApiError::Kms(KmsError::internal(format!("operation task failed: {e}"))))?;
    }
    let mut caller = caller;
    let op_name = target.strip_prefix(kms::TARGET_PREFIX).ok_or(ApiError::UnknownOperation)?;
    let op = Operation::from_name(op_name).ok_or(ApiError::UnknownOperation)?;
    facts.operation = Some(audit::Named::kms(op));
    state.throttle.check(caller.account.as_str(), throttle::Service::Kms, op_name)?;
    reserve_record(&state, facts)?;
    // What the trail records of the request and its outcome, noted by the handler (nothing without a trail).
    let mut noted = if state.audit.is_some() { kms::KmsFacts::recording() } else { kms::KmsFacts::default() };
    // The key the service resolves, for a request that fails after resolving it.
    let resolved = state.audit.as_ref().map(|_| ResolvedKey::default());
    caller.resolved = resolved.clone();
    if op.is_hot_path() {
        // Cached keys only: CPU work of a few microseconds, cheaper inline than a thread hop.
        let result = kms::dispatch(&state.kms, &caller, op, &body, &mut noted);
        if let (Err(_), Some(resolved)) = (&result, &resolved) {
            noted.failed(op, resolved);
        }
        facts.kms = Some(noted);
        result
    } else {
        // May write to the store (fsync): keep it off the async workers.
        let st = state.clone();
        let (result, mut noted) = tokio::task::spawn_blocking(move || {
            let result = match op {
                // Reads the audit trail, which `kms::dispatch` does not see.
                Operation::GetKeyLastUsage => {
                    kms::get_key_last_usage(&st.kms, &caller, &body, st.audit.as_deref(), &mut noted)
                }
                _ => kms::dispatch(&st.kms, &caller, op, &body, &mut noted),
            };
            (result, noted)
        })
        .await
        .map_err(|e| ApiError::Kms(KmsError::internal(format!("operation task failed: {e}"))))?;
        if let (Err(_), Some(resolved)) = (&result, &resolved) {
            noted.failed(op, resolved);
        }
        facts.kms = Some(noted);
        result
    }
}

/// A state-changing operation takes its record's place in the trail before it runs: when the trail cannot
/// take it (queue full, last write failed), the request is refused having changed nothing, instead of
/// committing and then failing on its record (`trent_audit::AuditSink::reserve`). Two places: the event, and
/// the copy a cross-account call leaves in the key owner's trail.
fn reserve_record(state: &AppState, facts: &mut audit::Facts) -> Result<(), ApiError> {
    let (Some(sink), Some(op)) = (&state.audit, &facts.operation) else { return Ok(()) };
    if op.read_only() {
        return Ok(());
    }
    let reservation = sink.reserve(2).map_err(|f| ApiError::Kms(KmsError::internal(format!("audit trail: {f}"))))?;
    facts.reservation = Some(reservation);
    Ok(())
}

/// SigV4 over the whole request, against the credential its headers named (found by `preauthenticate`):
/// long-term keys (account roots, IAM users), or STS session credentials when the request carries a session
/// token. The route fixes the service the request must be signed for, and the region (see
/// [`AppState::verifier_for`]). Returns the caller the request acts as.
fn authenticate(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: &[u8],
    route: protocol::Route,
    credential: limits::Credential,
) -> Result<Caller, ApiError> {
    let token = iam::session_token(&parts.headers, &parts.uri);
    let (headers, service, now) = (&parts.headers, route.protocol.signing_name(), SystemTime::now());
    let verified = state.verifier_for(route).verify(&parts.method, &parts.uri, headers, body, now, service, |id| {
        // The same headers name the same access key; the comparison keeps the two checks tied to each other.
        (id == credential.access_key_id).then(|| credential.key.secret.clone())
    })?;
    if verified.session_token != token {
        // The session was opened with one token and the signature covers another: refuse both.
        return Err(ApiError::Auth(auth::AuthError::UnrecognizedClient));
    }
    let mut caller = credential.key.caller.clone();
    // `aws:SourceIp` and `aws:SecureTransport` for policy conditions, from what the server knows.
    caller.source_ip = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
    caller.secure_transport = parts.extensions.get::<Transport>().map(|t| t.secure);
    Ok(caller)
}

/// Set by the server on each request: whether it arrived over TLS, and with which session parameters.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    pub secure: bool,
    pub tls: Option<TlsSession>,
}

/// A TLS session's parameters in CloudTrail's spelling (`TLSv1.3`, `TLS_AES_128_GCM_SHA256`), for `tlsDetails`.
#[derive(Debug, Clone, Copy)]
pub struct TlsSession {
    pub version: &'static str,
    pub cipher_suite: &'static str,
}

#[cfg(test)]
mod audit_failure_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
