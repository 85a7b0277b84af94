//! Search tests: every filter, newest-first order, pagination across segments, partial tail lines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::*;
use crate::event::{AuditEvent, KMS_EVENT_SOURCE, Resource, UserIdentity};

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "trent-audit-search-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const ACCOUNT: &str = "111122223333";
const KEY: &str = "1d0a9b68-2d8f-4d8b-81a1-c3675a8441ab";

fn key_arn() -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY}")
}

/// Event `i`: at t0 + i minutes; even ones by root with AKIAROOT, odd ones by user bob with AKIABOB.
fn event(i: u64, name: &str, error: Option<&str>) -> AuditEvent {
    let mut e = AuditEvent::api_call(KMS_EVENT_SOURCE, name, "us-east-1");
    e.event_time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + i * 60);
    e.event_id = format!("id-{i}");
    let (arn, akid) = if i.is_multiple_of(2) {
        (format!("arn:aws:iam::{ACCOUNT}:root"), "AKIAROOT")
    } else {
        (format!("arn:aws:iam::{ACCOUNT}:user/bob"), "AKIABOB")
    };
    e.user_identity = UserIdentity::principal(ACCOUNT, &arn, Some(akid));
    e.recipient_account_id = Some(ACCOUNT.into());
    e.error_code = error.map(str::to_owned);
    e.read_only = name != "CreateKey";
    if name != "CreateKey" {
        e.resources.push(Resource::kms_key(&key_arn()));
    }
    e
}

/// Writes `events` as segments of `per_segment` records (with a digest-like line after each event pair, to
/// check that non-event lines are skipped).
fn write_trail(dir: &std::path::Path, events: &[AuditEvent], per_segment: usize) {
    let mut seq = 1;
    for (n, chunk) in events.chunks(per_segment).enumerate() {
        let mut out = Vec::new();
        for (j, e) in chunk.iter().enumerate() {
            record::event_line(seq, &[0; 32], &e.to_json().unwrap(), &mut out);
            out.push(b'\n');
            seq += 1;
            if j % 2 == 1 {
                out.extend_from_slice(format!("{{\"seq\":{seq},\"prev\":\"00\",\"digest\":{{}}}}\n").as_bytes());
                seq += 1;
            }
        }
        fs::write(dir.join(record::segment_name(n as u64 + 1)), out).unwrap();
    }
}

fn sample() -> Vec<AuditEvent> {
    vec![
        event(0, "CreateKey", None),
        event(1, "Encrypt", None),
        event(2, "Encrypt", None),
        event(3, "Decrypt", Some("InvalidCiphertextException")),
        event(4, "Encrypt", Some("AccessDeniedException")),
        event(5, "DescribeKey", None),
        event(6, "Encrypt", None),
    ]
}

fn ids(p: &Page) -> Vec<String> {
    p.events.iter().map(|f| f.event["eventID"].as_str().unwrap().to_owned()).collect()
}

fn find(dir: &std::path::Path, f: &Filter) -> Vec<String> {
    ids(&search(dir, f, 100, None).unwrap())
}

/// LookupEvents' Username: `root`, an IAM user's userName, an assumed role's session name.
#[test]
fn username_of_each_identity_type() {
    let of = |u: UserIdentity| {
        let mut e = AuditEvent::api_call(KMS_EVENT_SOURCE, "ListKeys", "us-east-1");
        e.user_identity = u;
        crate::search::username(&serde_json::from_str(&e.to_json().unwrap()).unwrap())
    };
    assert_eq!(of(UserIdentity::root(ACCOUNT, None)).as_deref(), Some("root"));
    let user = UserIdentity::iam_user(ACCOUNT, &format!("arn:aws:iam::{ACCOUNT}:user/p/alice"), "AIDAX", None);
    assert_eq!(of(user).as_deref(), Some("alice"));
    let arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/s1");
    let session = UserIdentity::assumed_role(ACCOUNT, &arn, None, "AROAX", "arn:r", SystemTime::UNIX_EPOCH);
    assert_eq!(of(session.clone()).as_deref(), Some("s1"));
    assert_eq!(of(session.other_account()), None);
    assert_eq!(of(UserIdentity::unknown()), None);
}

#[test]
fn filters_each_field_newest_first() {
    let t = TempDir::new();
    write_trail(&t.0, &sample(), 3);
    let all = Filter::default();
    assert_eq!(find(&t.0, &all), ["id-6", "id-5", "id-4", "id-3", "id-2", "id-1", "id-0"]);
    let names = Filter { event_names: vec!["Encrypt".into()], ..Default::default() };
    assert_eq!(find(&t.0, &names), ["id-6", "id-4", "id-2", "id-1"]);
    let ok = Filter { event_names: vec!["Encrypt".into()], succeeded: Some(true), ..Default::default() };
    assert_eq!(find(&t.0, &ok), ["id-6", "id-2", "id-1"]);
    let failed = Filter { succeeded: Some(false), ..Default::default() };
    assert_eq!(find(&t.0, &failed), ["id-4", "id-3"]);
    let code = Filter { error_code: Some("AccessDeniedException".into()), ..Default::default() };
    assert_eq!(find(&t.0, &code), ["id-4"]);
    let bob = Filter { principal: Some(format!("arn:aws:iam::{ACCOUNT}:user/bob")), ..Default::default() };
    assert_eq!(find(&t.0, &bob), ["id-5", "id-3", "id-1"]);
    let bob_name = Filter { username: Some("bob".into()), ..Default::default() };
    assert_eq!(find(&t.0, &bob_name), ["id-5", "id-3", "id-1"]);
    let root_name = Filter { username: Some("root".into()), ..Default::default() };
    assert_eq!(find(&t.0, &root_name), ["id-6", "id-4", "id-2", "id-0"]);
    let akid = Filter { access_key_id: Some("AKIAROOT".into()), ..Default::default() };
    assert_eq!(find(&t.0, &akid).len(), 4);
    let writes = Filter { read_only: Some(false), ..Default::default() };
    assert_eq!(find(&t.0, &writes), ["id-0"]);
    let by_id = Filter { resource: Some(KEY.into()), ..Default::default() };
    assert_eq!(find(&t.0, &by_id).len(), 6);
    let by_arn = Filter { resource: Some(key_arn()), ..Default::default() };
    assert_eq!(find(&t.0, &by_arn).len(), 6);
    let other_key = Filter { resource: Some("arn:aws:kms:us-east-1:1:key/other".into()), ..Default::default() };
    assert!(find(&t.0, &other_key).is_empty());
    let kind = Filter { resource_type: Some("AWS::KMS::Key".into()), ..Default::default() };
    assert_eq!(find(&t.0, &kind).len(), 6);
    let one = Filter { event_id: Some("id-3".into()), ..Default::default() };
    assert_eq!(find(&t.0, &one), ["id-3"]);
    let other_account = Filter { account: Some("444455556666".into()), ..Default::default() };
    assert!(find(&t.0, &other_account).is_empty());
    let source = Filter { event_source: Some("ssm.amazonaws.com".into()), ..Default::default() };
    assert!(find(&t.0, &source).is_empty());
}

#[test]
fn time_range_is_inclusive() {
    let t = TempDir::new();
    write_trail(&t.0, &sample(), 4);
    let at = |i: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + i * 60);
    let f = Filter { start_time: Some(at(2)), end_time: Some(at(4)), ..Default::default() };
    assert_eq!(find(&t.0, &f), ["id-4", "id-3", "id-2"]);
    let f = Filter { start_time: Some(at(6) + Duration::from_secs(1)), ..Default::default() };
    assert!(find(&t.0, &f).is_empty());
}

#[test]
fn pages_cover_every_match_once_across_segments() {
    let t = TempDir::new();
    let events: Vec<_> = (0..23).map(|i| event(i, if i % 3 == 0 { "Decrypt" } else { "Encrypt" }, None)).collect();
    write_trail(&t.0, &events, 5);
    let f = Filter { event_names: vec!["Encrypt".into()], ..Default::default() };
    let expected = find(&t.0, &f);
    assert_eq!(expected.len(), 15);
    for size in [1, 2, 4, 15, 50] {
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let page = search(&t.0, &f, size, cursor).unwrap();
            assert!(page.events.len() <= size);
            got.extend(ids(&page));
            // The token travels as text.
            cursor = page.next.map(|c| Cursor::decode(&c.encode()).unwrap());
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(got, expected, "page size {size}");
    }
    // A full last page says there is nothing more.
    assert!(search(&t.0, &f, 15, None).unwrap().next.is_none());
}

#[test]
fn bad_cursors_are_refused() {
    let t = TempDir::new();
    write_trail(&t.0, &sample(), 3);
    assert!(Cursor::decode("not a token").is_none());
    assert!(Cursor::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("tc1:1")).is_none());
    let missing = Cursor { segment: 99, offset: 0 };
    assert!(matches!(search(&t.0, &Filter::default(), 1, Some(missing)), Err(SearchError::BadCursor)));
    let past_end = Cursor { segment: 1, offset: 1 << 40 };
    assert!(matches!(search(&t.0, &Filter::default(), 1, Some(past_end)), Err(SearchError::BadCursor)));
}

#[test]
fn a_partial_last_line_is_ignored_and_tracking_start_is_the_oldest_event() {
    let t = TempDir::new();
    write_trail(&t.0, &sample(), 10);
    let seg = t.0.join(record::segment_name(1));
    let mut bytes = fs::read(&seg).unwrap();
    bytes.extend_from_slice(br#"{"seq":99,"prev":"00","event":{"eventName":"Enc"#);
    fs::write(&seg, bytes).unwrap();
    assert_eq!(find(&t.0, &Filter::default()).len(), 7);
    assert_eq!(
        earliest_event_time(&t.0).unwrap().as_deref(),
        Some(format_time(SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)).as_str())
    );
    let empty = TempDir::new();
    assert_eq!(earliest_event_time(&empty.0).unwrap(), None);
    assert!(search(&empty.0, &Filter::default(), 5, None).unwrap().events.is_empty());
}

#[test]
fn found_json_is_the_recorded_event_text() {
    let t = TempDir::new();
    let e = event(1, "Encrypt", None);
    write_trail(&t.0, std::slice::from_ref(&e), 1);
    let page = search(&t.0, &Filter::default(), 1, None).unwrap();
    assert_eq!(page.events[0].json, e.to_json().unwrap());
}

#[test]
fn times_parse() {
    let t = |s| parse_time(s).map(|t| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64());
    assert_eq!(t("1970-01-01T00:00:00Z"), Some(0.0));
    assert_eq!(t("2024-02-29T23:59:59Z"), Some(1_709_251_199.0));
    assert_eq!(t("2027-01-01"), Some(1_798_761_600.0));
    assert_eq!(t("1798761600.5"), Some(1_798_761_600.5));
    assert_eq!(t("2027-01-01T00:00:00.250Z"), Some(1_798_761_600.25));
    assert_eq!(t("2027-13-01"), None);
    assert_eq!(t("yesterday"), None);
}
