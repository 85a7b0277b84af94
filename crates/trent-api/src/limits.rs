//! What a request may hold before it is authenticated: the cheap refusals that run before its body is read,
//! and the body read itself, under a deadline, a size cap and a server-wide byte budget.
//!
//! Security review finding 3: bodies were buffered before authentication with no deadline and no cap, and
//! 150 half-sent bodies held 207 MB indefinitely. Now a request without a usable signature (missing,
//! malformed, outside the 15-minute window, wrongly scoped, unknown access key) is refused from its headers
//! alone; a body must arrive within `body_read_timeout`; and the bytes buffered at once by all requests past a
//! small per-request allowance are capped by `body_buffer_budget`, failing fast when it is spent.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use trent_core::KmsError;
use trent_core::identity::ActiveAccessKey;

use crate::error::ApiError;
use crate::protocol::Route;
use crate::{AppState, MAX_BODY_BYTES, auth, iam};

/// Limits on requests, set by `trent serve`'s flags.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Time allowed to receive a whole request body, from the end of its headers.
    pub body_read_timeout: Duration,
    /// Bytes of request bodies buffered at once across all requests, beyond each request's first
    /// [`BODY_ALLOWANCE`] bytes.
    pub body_buffer_budget: usize,
    /// Requests being read or handled at once; more are answered with ThrottlingException at once.
    pub max_in_flight: usize,
}

/// Every body's first bytes are read without touching the shared budget, so small requests (nearly all: an
/// Encrypt of 4 KiB is about 6 KiB of JSON) are never refused because large ones hold the budget. The total
/// this allows is bounded by the server's connection cap.
pub const BODY_ALLOWANCE: usize = 16 * 1024;

impl Default for RequestLimits {
    fn default() -> Self {
        Self { body_read_timeout: Duration::from_secs(20), body_buffer_budget: 64 << 20, max_in_flight: 1024 }
    }
}

/// The shared counters behind [`RequestLimits`].
pub(crate) struct Limiter {
    limits: RequestLimits,
    budget: Arc<Semaphore>,
    in_flight: Arc<Semaphore>,
}

impl Limiter {
    pub(crate) fn new(limits: RequestLimits) -> Self {
        let budget = Arc::new(Semaphore::new(limits.body_buffer_budget.min(Semaphore::MAX_PERMITS)));
        let in_flight = Arc::new(Semaphore::new(limits.max_in_flight.clamp(1, Semaphore::MAX_PERMITS)));
        Self { limits, budget, in_flight }
    }

    /// A slot for one request, held until its reply; `None` when all are taken.
    pub(crate) fn in_flight(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.in_flight).try_acquire_owned().map_err(|_| throttled())
    }
}

fn throttled() -> ApiError {
    ApiError::Throttling(crate::throttle::THROTTLED_MESSAGE.to_owned())
}

/// The credential a request's headers name, found before its body is read; the signature over the body is
/// checked against it afterwards (`authenticate`), without looking it up again.
pub(crate) struct Credential {
    pub(crate) access_key_id: String,
    pub(crate) key: Arc<ActiveAccessKey>,
}

/// The refusals that need only the headers, in the order the full authentication makes them, so a client gets
/// the same error either way: the signature parameters, date and scope (see `SigV4Verifier::precheck`), then
/// the access key (and session token) looked up. The full check with the body follows in `authenticate`.
pub(crate) fn preauthenticate(state: &AppState, parts: &Parts, route: Route) -> Result<Credential, ApiError> {
    let verifier = state.verifier_for(route);
    let service = route.protocol.signing_name();
    let access_key_id = verifier.precheck(&parts.uri, &parts.headers, SystemTime::now(), service)?;
    let key = match iam::session_token(&parts.headers, &parts.uri) {
        // Temporary credentials: the token carries the session. A token Trent did not issue is an unknown
        // client; an expired one is reported as such.
        Some(token) => match state.identities.session(&access_key_id, &token) {
            Ok(k) => Some(k),
            Err(trent_core::iam::IamError::InvalidClientTokenId) => None,
            Err(e) => return Err(ApiError::Iam(e)),
        },
        None => state.identities.access_key(&access_key_id).map_err(ApiError::Kms)?,
    };
    match key {
        Some(key) => Ok(Credential { access_key_id, key }),
        None => Err(ApiError::Auth(auth::AuthError::UnrecognizedClient)),
    }
}

/// How much of an oversize body is read and thrown away so that the client, which usually sends the whole
/// body before reading the answer, receives the 400 instead of a reset connection.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// Reads the body within the deadline and the byte budget. An oversize body is refused with a clear message
/// and never buffered; a body still arriving at the deadline is refused, and the connection closed with it.
pub(crate) async fn read_body(limiter: &Limiter, body: Body) -> Result<Bytes, ApiError> {
    let timeout = limiter.limits.body_read_timeout;
    match tokio::time::timeout(timeout, read_within_budget(&limiter.budget, body)).await {
        Ok(result) => result,
        Err(_) => {
            tracing::debug!(?timeout, "request body not received in time");
            Err(ApiError::RequestTimeout(format!(
                "The request body was not received within {} seconds.",
                timeout.as_secs_f64()
            )))
        }
    }
}

async fn read_within_budget(budget: &Arc<Semaphore>, body: Body) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt as _;

    let too_large = || {
        ApiError::Kms(KmsError::Validation(format!(
            "Request body is larger than the maximum of {MAX_BODY_BYTES} bytes."
        )))
    };
    let mut body = body;
    // Held until the body is returned: verification follows at once, without awaiting anything.
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut charged = 0usize;
    let mut charge = |upto: usize, held: &mut Option<OwnedSemaphorePermit>| -> Result<(), ApiError> {
        // Only the part beyond the allowance is charged to the shared budget.
        let due = upto.saturating_sub(BODY_ALLOWANCE).saturating_sub(charged);
        if due == 0 {
            return Ok(());
        }
        let n = u32::try_from(due).map_err(|_| too_large())?;
        // Failing fast: waiting would let a few slow bodies stall every large request behind them.
        let permit = Arc::clone(budget).try_acquire_many_owned(n).map_err(|_| throttled())?;
        charged += due;
        match held {
            Some(h) => h.merge(permit),
            None => *held = Some(permit),
        }
        Ok(())
    };
    // With a Content-Length, the whole body is charged and allocated at once: no buffer doubling past what
    // was paid for, and a request the budget cannot take is refused before any of its body is read.
    let mut buf = match axum::body::HttpBody::size_hint(&body).exact().and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n <= MAX_BODY_BYTES => {
            charge(n, &mut held)?;
            bytes::BytesMut::with_capacity(n)
        }
        _ => bytes::BytesMut::new(),
    };
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::Serialization(Some("The request body could not be read.".into())))?;
        let Ok(data) = frame.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if seen > DRAIN_LIMIT {
            // Past this, stop reading; hyper closes the connection since the body was not consumed.
            return Err(too_large());
        }
        if seen <= MAX_BODY_BYTES {
            charge(seen, &mut held)?;
            buf.extend_from_slice(&data);
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(buf.freeze())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limiter(timeout_ms: u64, budget: usize) -> Limiter {
        Limiter::new(RequestLimits {
            body_read_timeout: Duration::from_millis(timeout_ms),
            body_buffer_budget: budget,
            max_in_flight: 2,
        })
    }

    #[tokio::test]
    async fn a_body_still_arriving_at_the_deadline_is_refused() {
        let l = limiter(200, 1 << 20);
        let (mut tx, body) = http_body_util::Channel::<Bytes, std::convert::Infallible>::new(4);
        tx.send_data(Bytes::from_static(b"{\"KeyId\":")).await.unwrap();
        let started = std::time::Instant::now();
        let err = read_body(&l, Body::new(body)).await.unwrap_err();
        assert!(matches!(err, ApiError::RequestTimeout(_)), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(tx);
    }

    #[tokio::test]
    async fn the_budget_is_charged_beyond_the_allowance_and_released() {
        let l = limiter(5_000, 100_000);
        // Small bodies never touch the budget.
        let small = read_body(&l, Body::from(vec![b'x'; BODY_ALLOWANCE])).await.unwrap();
        assert_eq!(small.len(), BODY_ALLOWANCE);
        assert_eq!(l.budget.available_permits(), 100_000);
        // One that needs more than the budget fails fast.
        let err = read_body(&l, Body::from(vec![b'x'; BODY_ALLOWANCE + 100_001])).await.unwrap_err();
        assert_eq!(err.aws_type(), "ThrottlingException");
        // One that fits reads, and gives its share back.
        read_body(&l, Body::from(vec![b'x'; BODY_ALLOWANCE + 99_000])).await.unwrap();
        assert_eq!(l.budget.available_permits(), 100_000);
    }

    #[tokio::test]
    async fn in_flight_slots_are_capped() {
        let l = limiter(1_000, 1);
        let a = l.in_flight().unwrap();
        let _b = l.in_flight().unwrap();
        assert_eq!(l.in_flight().unwrap_err().aws_type(), "ThrottlingException");
        drop(a);
        let _c = l.in_flight().unwrap();
    }

    /// Requests that cannot authenticate are answered from their headers while their body is still (forever)
    /// arriving: nothing of it is waited for or buffered. A well-signed request, by contrast, waits for its body.
    #[tokio::test]
    async fn unauthenticatable_requests_are_refused_before_the_body_is_read() {
        use tower::ServiceExt as _;

        let (router, creds) = crate::test_support::app_in("us-east-1");
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "TrentService.Encrypt")];
        let sign = |c: &crate::test_support::Creds| crate::test_support::signed("kms", "us-east-1", &headers, b"{}", c);
        let unknown = crate::test_support::Creds {
            akid: "AKIAUNKNOWNUNKNOWN00".into(),
            secret: creds.secret.clone(),
            token: None,
        };

        let mut missing = sign(&creds);
        missing.headers_mut().remove("authorization");
        let mut stale = sign(&creds);
        stale.headers_mut().insert("x-amz-date", "20000101T000000Z".parse().unwrap());
        let mut malformed = sign(&creds);
        malformed.headers_mut().insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, Signature=00".parse().unwrap(),
        );
        let cases = [
            (missing, "MissingAuthenticationTokenException"),
            (sign(&unknown), "UnrecognizedClientException"),
            (stale, "InvalidSignatureException"),
            (malformed, "IncompleteSignatureException"),
        ];
        let mut senders = Vec::new();
        for (req, want) in cases {
            // A body that never ends: its sender is kept, and sends nothing.
            let (tx, body) = http_body_util::Channel::<Bytes, std::convert::Infallible>::new(1);
            senders.push(tx);
            let req = req.map(|_| Body::new(body));
            let resp = tokio::time::timeout(Duration::from_secs(2), router.clone().oneshot(req))
                .await
                .unwrap_or_else(|_| panic!("{want}: not answered while the body was pending"))
                .unwrap();
            assert_eq!(resp.status(), 400, "{want}");
            assert_eq!(resp.headers()["x-amzn-errortype"], want);
        }

        let (_tx, body) = http_body_util::Channel::<Bytes, std::convert::Infallible>::new(1);
        let req = sign(&creds).map(|_| Body::new(body));
        let pending = tokio::time::timeout(Duration::from_millis(300), router.clone().oneshot(req)).await;
        assert!(pending.is_err(), "a well-signed request waits for its body");
    }
}
