//! The trail and the store agree when the trail fails during a state-changing request: the client gets either
//! success with the record in the trail (or in the outbox, on its way there), or an error and no change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use trent_audit::{AuditConfig, AuditSink};
use trent_crypto::{RootKey, SecretBytes};

use crate::router;
use crate::test_support::{Creds, signed, state_in};

struct Trail {
    dir: PathBuf,
}

impl Drop for Trail {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server on memory stores whose trail's disk fails when `fail` says so for the bytes being written.
fn app(
    name: &str,
    fail: impl Fn(&[u8]) -> bool + Clone + Send + Sync + 'static,
) -> (axum::Router, Creds, Trail, Arc<AuditSink>) {
    let dir = std::env::temp_dir().join(format!("trent-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = AuditConfig {
        queue_capacity: 4,
        digest_every: Duration::from_millis(50),
        outbox: Some(dir.join("outbox")),
        ..AuditConfig::default()
    };
    let root = RootKey::from_secret(&SecretBytes::new(vec![9; 32])).unwrap();
    let sink = Arc::new(trent_audit::testing::open_failing(&dir.join("trail"), &root, config, fail).unwrap());
    let (state, creds) = state_in("us-east-1");
    (router(Arc::new(state.with_audit(Some(sink.clone())))), creds, Trail { dir }, sink)
}

async fn call(router: &axum::Router, creds: &Creds, op: &str, body: Value) -> (StatusCode, Value) {
    let target = format!("TrentService.{op}");
    let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
    let req = signed("kms", "us-east-1", &headers, body.to_string().as_bytes(), creds);
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn key_count(router: &axum::Router, creds: &Creds) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // ListKeys is recorded too: retried while the trail repairs itself.
        let (status, body) = call(router, creds, "ListKeys", json!({})).await;
        if status == StatusCode::OK {
            return body["Keys"].as_array().unwrap().len();
        }
        assert!(Instant::now() < deadline, "ListKeys never succeeded: {body}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn trail_event_names(trail: &Trail) -> Vec<String> {
    let page = trent_audit::search::search(&trail.dir.join("trail"), &Default::default(), 50, None).unwrap();
    page.events.iter().map(|f| f.event["eventName"].as_str().unwrap().to_owned()).collect()
}

/// The disk fails before the request: the trail knows (its last write failed), so CreateKey is refused
/// before it runs, and no key exists afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_trail_refuses_create_key_before_it_runs() {
    let failing = Arc::new(AtomicBool::new(true));
    let f = failing.clone();
    let (router, creds, _trail, _) = app("failing", move |_| f.load(Ordering::Relaxed));
    let (status, _) = call(&router, &creds, "ListKeys", json!({})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "a read whose record failed");
    let (status, body) = call(&router, &creds, "CreateKey", json!({})).await;
    assert_eq!((status, body["__type"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("KMSInternalException")));
    failing.store(false, Ordering::Relaxed);
    assert_eq!(key_count(&router, &creds).await, 0, "the refused CreateKey created nothing");
}

/// The queue is full: CreateKey cannot reserve its record's place, and is refused before it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_trail_queue_refuses_create_key_before_it_runs() {
    let (router, creds, _trail, sink) = app("full", |_| false);
    // Every place in the queue taken (by other requests' records, as far as CreateKey can tell).
    let held = sink.reserve(4).unwrap();
    let (status, body) = call(&router, &creds, "CreateKey", json!({})).await;
    assert_eq!((status, body["__type"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("KMSInternalException")));
    drop(held);
    assert_eq!(key_count(&router, &creds).await, 0, "the refused CreateKey created nothing");
    // With room again, CreateKey succeeds and its record is in the trail.
    let (status, body) = call(&router, &creds, "CreateKey", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(trail_event_names(&_trail).iter().any(|n| n == "CreateKey"));
}

/// The disk fails during the very write of CreateKey's record, after the key was committed: the client is
/// told it succeeded (it did), the record waits in the outbox and reaches the trail once the disk works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_failing_during_create_keys_record_keeps_it_in_the_outbox() {
    let armed = Arc::new(AtomicBool::new(true));
    let a = armed.clone();
    // Fails once, on the batch that holds the CreateKey event.
    let fail = move |data: &[u8]| {
        data.windows(b"\"CreateKey\"".len()).any(|w| w == b"\"CreateKey\"") && a.swap(false, Ordering::Relaxed)
    };
    let (router, creds, trail, _) = app("outbox", fail);
    let (status, body) = call(&router, &creds, "CreateKey", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!armed.load(Ordering::Relaxed), "the record's write did fail");
    assert_eq!(key_count(&router, &creds).await, 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !trail_event_names(&trail).iter().any(|n| n == "CreateKey") {
        assert!(Instant::now() < deadline, "the outbox never reached the trail");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
