//! Parameter Store unit tests on the memory stores: names, versions, labels, selectors, SecureString.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use trent_crypto::{RootKey, SecretBytes};

use super::names::{Selector, parse_selector, validate_new_name};
use super::*;
use crate::clock::ManualClock;
use crate::context::EncryptionContext;
use crate::ids::{AccountId, KeyRef, Region};
use crate::model::{KeyManager, Timestamp};
use crate::service::{Caller, CreateKeyRequest, DecryptRequest, Kms};
use crate::store::MemoryStore;

struct Fixture {
    kms: Arc<Kms>,
    ssm: Ssm,
    clock: Arc<ManualClock>,
    caller: Caller,
}

fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let root = RootKey::from_secret(&SecretBytes::new(vec![9; 32])).unwrap();
    let kms = Arc::new(Kms::new(
        Arc::new(MemoryStore::new()),
        Arc::new(root),
        clock.clone(),
        Region::parse("us-east-1").unwrap(),
    ));
    let ssm = Ssm::new(kms.clone(), Arc::new(MemoryParameterStore::new()));
    let account = AccountId::parse("111122223333").unwrap();
    Fixture { kms, ssm, clock, caller: Caller::root(account) }
}

fn put(name: &str, value: &str, kind: Option<ParameterType>, overwrite: bool) -> PutRequest {
    PutRequest {
        name: name.into(),
        value: SecretBytes::new(value.as_bytes().to_vec()),
        kind,
        description: None,
        key_id: None,
        overwrite,
        allowed_pattern: None,
        tags: Vec::new(),
        tier: None,
        policies: None,
        data_type: None,
    }
}

fn text(v: &ParameterValue) -> String {
    match v {
        ParameterValue::Text(t) => t.clone(),
        ParameterValue::Secret(s) => String::from_utf8(s.expose_secret().to_vec()).unwrap(),
        ParameterValue::Ciphertext(_) => panic!("ciphertext"),
    }
}

impl Fixture {
    fn put(&self, name: &str, value: &str) -> u64 {
        self.ssm.put_parameter(&self.caller, put(name, value, Some(ParameterType::String), true)).unwrap().0
    }

    fn get(&self, name: &str) -> Result<ParameterView, SsmError> {
        self.ssm.get_parameter(&self.caller, name, true)
    }
}

#[test]
fn name_rules() {
    let r = Region::parse("us-east-1").unwrap();
    let a = AccountId::parse("111122223333").unwrap();
    assert_eq!(validate_new_name("  /app/db  ", &r, &a).unwrap(), "/app/db");
    assert!(
        matches!(validate_new_name("awsThing", &r, &a), Err(SsmError::Validation(m)) if m.contains("\"aws\" or \"ssm\""))
    );
    assert!(matches!(validate_new_name("/aws/x/y", &r, &a), Err(SsmError::AccessDenied(_))));
    assert!(matches!(validate_new_name("SSM", &r, &a), Err(SsmError::Validation(_))));
    assert!(matches!(validate_new_name("a b", &r, &a), Err(SsmError::Validation(_))));
    assert!(matches!(validate_new_name("a/b", &r, &a), Err(SsmError::Validation(_))));
    let deep: String = (0..16).map(|i| format!("/l{i}")).collect();
    assert!(matches!(validate_new_name(&deep, &r, &a), Err(SsmError::HierarchyLevelLimitExceeded(_))));
    let ok: String = (0..15).map(|i| format!("/l{i}")).collect();
    assert!(validate_new_name(&ok, &r, &a).is_ok());
    assert_eq!(names::parameter_arn(&r, &a, "/app/db"), "arn:aws:ssm:us-east-1:111122223333:parameter/app/db");
}

#[test]
fn selectors() {
    assert_eq!(parse_selector("/a/b"), ("/a/b".into(), Selector::Latest));
    assert_eq!(parse_selector("/a/b:3"), ("/a/b".into(), Selector::Version(3)));
    assert_eq!(parse_selector("/a/b:prod"), ("/a/b".into(), Selector::Label("prod".into())));
    assert_eq!(
        parse_selector("arn:aws:ssm:us-east-1:111122223333:parameter/a/b:2"),
        ("/a/b".into(), Selector::Version(2))
    );
    assert_eq!(
        parse_selector("arn:aws:ssm:us-east-1:111122223333:parameter/plain"),
        ("plain".into(), Selector::Latest)
    );
    assert_eq!(names::decode_token(&names::encode_token("/x/y")).unwrap(), "/x/y");
    assert!(matches!(names::decode_token("zz"), Err(SsmError::InvalidNextToken)));
}

#[test]
fn put_get_overwrite_and_history() {
    let f = fixture();
    assert_eq!(f.put("/app/url", "one"), 1);
    let err = f.ssm.put_parameter(&f.caller, put("/app/url", "two", None, false)).unwrap_err();
    assert_eq!(err.aws_type(), "ParameterAlreadyExists");
    // Type may be omitted on overwrite.
    assert_eq!(f.ssm.put_parameter(&f.caller, put("/app/url", "two", None, true)).unwrap().0, 2);
    let v = f.get("/app/url").unwrap();
    assert_eq!((text(&v.value), v.version, v.kind), ("two".into(), 2, ParameterType::String));
    assert_eq!(text(&f.get("/app/url:1").unwrap().value), "one");
    assert_eq!(f.get("/app/url:1").unwrap().selector.as_deref(), Some(":1"));
    assert_eq!(f.get("/app/url:9").unwrap_err().aws_type(), "ParameterVersionNotFound");
    assert_eq!(f.get("/nope").unwrap_err().aws_type(), "ParameterNotFound");
    let (h, next) = f.ssm.get_parameter_history(&f.caller, "/app/url", false, None, None).unwrap();
    assert_eq!(h.iter().map(|e| e.meta.version).collect::<Vec<_>>(), vec![1, 2]);
    assert!(next.is_none());
    // Missing type on create; type change within a hierarchy.
    let e = f.ssm.put_parameter(&f.caller, put("/new", "x", None, false)).unwrap_err();
    assert!(e.to_string().contains("type is required"));
    let e = f.ssm.put_parameter(&f.caller, put("/app/url", "x", Some(ParameterType::StringList), true)).unwrap_err();
    assert_eq!(e.aws_type(), "HierarchyTypeMismatchException");
}

#[test]
fn hundred_versions_and_the_labelled_oldest() {
    let f = fixture();
    for i in 1..=100 {
        f.put("p", &format!("v{i}"));
    }
    f.ssm.label_parameter_version(&f.caller, "p", Some(1), &["keep".into()]).unwrap();
    let e = f.ssm.put_parameter(&f.caller, put("p", "v101", None, true)).unwrap_err();
    assert_eq!(e.aws_type(), "ParameterMaxVersionLimitExceeded");
    assert!(e.to_string().contains("Version 1, the oldest version"));
    // Moving the label away lets the oldest go.
    f.ssm.label_parameter_version(&f.caller, "p", Some(50), &["keep".into()]).unwrap();
    assert_eq!(f.put("p", "v101"), 101);
    assert_eq!(f.get("p:1").unwrap_err().aws_type(), "ParameterVersionNotFound");
    assert_eq!(f.get("p:keep").unwrap().version, 50);
    let (h, next) = f.ssm.get_parameter_history(&f.caller, "p", false, Some(50), None).unwrap();
    assert_eq!((h.len(), h[0].meta.version), (50, 2));
    let (h2, _) = f.ssm.get_parameter_history(&f.caller, "p", false, Some(50), next.as_deref()).unwrap();
    assert_eq!(h2[0].meta.version, 52);
}

#[test]
fn labels_move_limit_and_invalid() {
    let f = fixture();
    f.put("p", "a");
    f.put("p", "b");
    let (invalid, v) =
        f.ssm.label_parameter_version(&f.caller, "p", Some(1), &["prod".into(), "1bad".into(), "awsx".into()]).unwrap();
    assert_eq!((invalid, v), (vec!["1bad".to_string(), "awsx".to_string()], 1));
    assert_eq!(text(&f.get("p:prod").unwrap().value), "a");
    // Default version is the latest; the label moves.
    let (_, v) = f.ssm.label_parameter_version(&f.caller, "p", None, &["prod".into()]).unwrap();
    assert_eq!(v, 2);
    assert_eq!(f.get("p:prod").unwrap().version, 2);
    let ten: Vec<String> = (0..10).map(|i| format!("l{i}")).collect();
    f.ssm.label_parameter_version(&f.caller, "p", Some(1), &ten).unwrap();
    let e = f.ssm.label_parameter_version(&f.caller, "p", Some(1), &["eleven".into()]).unwrap_err();
    assert_eq!(e.aws_type(), "ParameterVersionLabelLimitExceeded");
    let (removed, invalid) = f.ssm.unlabel_parameter_version(&f.caller, "p", 2, &["prod".into(), "x".into()]).unwrap();
    assert_eq!((removed, invalid), (vec!["prod".to_string()], vec!["x".to_string()]));
    assert_eq!(
        f.ssm.label_parameter_version(&f.caller, "p", Some(7), &["z".into()]).unwrap_err().aws_type(),
        "ParameterVersionNotFound"
    );
}

#[test]
fn by_path_pagination_and_filters() {
    let f = fixture();
    for i in 0..23 {
        f.put(&format!("/svc/a/p{i:02}"), "v");
    }
    f.put("/svc/a/deep/x", "v");
    f.put("/svc/b", "v");
    let mut req = PathRequest { path: "/svc/a".into(), max_results: Some(10), ..Default::default() };
    let mut seen = Vec::new();
    loop {
        let (page, next) = f.ssm.get_parameters_by_path(&f.caller, &req).unwrap();
        seen.extend(page.into_iter().map(|p| p.name));
        match next {
            Some(t) => req.next_token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23);
    req.recursive = true;
    req.next_token = None;
    req.max_results = Some(10);
    let mut n = 0;
    loop {
        let (page, next) = f.ssm.get_parameters_by_path(&f.caller, &req).unwrap();
        n += page.len();
        match next {
            Some(t) => req.next_token = Some(t),
            None => break,
        }
    }
    assert_eq!(n, 24);
    let bad = PathRequest { path: "/svc".into(), next_token: Some("zz".into()), ..Default::default() };
    assert_eq!(f.ssm.get_parameters_by_path(&f.caller, &bad).unwrap_err().aws_type(), "InvalidNextToken");
    let bad = PathRequest {
        path: "/svc".into(),
        filters: vec![filters::RawFilter { key: "Name".into(), option: None, values: vec!["x".into()] }],
        ..Default::default()
    };
    assert_eq!(f.ssm.get_parameters_by_path(&f.caller, &bad).unwrap_err().aws_type(), "InvalidFilterKey");
    let d = DescribeRequest {
        parameter_filters: vec![filters::RawFilter {
            key: "Name".into(),
            option: Some("BeginsWith".into()),
            values: vec!["/svc/a/p1".into()],
        }],
        ..Default::default()
    };
    assert_eq!(f.ssm.describe_parameters(&f.caller, &d).unwrap().0.len(), 10);
}

#[test]
fn secure_string_uses_the_managed_key_and_the_parameter_arn_context() {
    let f = fixture();
    let p = put("/db/password", "hunter2", Some(ParameterType::SecureString), false);
    f.ssm.put_parameter(&f.caller, p).unwrap();
    let plain = f.get("/db/password").unwrap();
    assert_eq!(text(&plain.value), "hunter2");
    let sealed = f.ssm.get_parameter(&f.caller, "/db/password", false).unwrap();
    let ParameterValue::Ciphertext(ct) = sealed.value else { panic!("expected ciphertext") };
    assert!(!ct.windows(7).any(|w| w == b"hunter2"));
    // KMS accepts the ciphertext with the PARAMETER_ARN context and refuses it without. The managed key's
    // policy admits the account only through Parameter Store (kms:ViaService), as in AWS.
    let context = EncryptionContext::try_new(
        [("PARAMETER_ARN".to_string(), "arn:aws:ssm:us-east-1:111122223333:parameter/db/password".to_string())].into(),
    )
    .unwrap();
    let request =
        |context: EncryptionContext| DecryptRequest { ciphertext: ct.clone(), context, key: None, algorithm: None };
    let direct = f.kms.decrypt(&f.caller, request(context.clone())).unwrap_err();
    assert_eq!(direct.aws_type(), "AccessDeniedException");
    let via = f.caller.via("ssm.us-east-1.amazonaws.com");
    let d = f.kms.decrypt(&via, request(context)).unwrap();
    assert_eq!(d.plaintext.expose_secret(), b"hunter2");
    assert_eq!(
        f.kms.decrypt(&via, request(EncryptionContext::default())).unwrap_err().aws_type(),
        "InvalidCiphertextException"
    );
    let managed = f.kms.describe_key(&f.caller, &KeyRef::parse("alias/aws/ssm").unwrap()).unwrap();
    assert_eq!(managed.record.key_manager, KeyManager::Aws);
    // A second SecureString reuses the same managed key.
    f.ssm.put_parameter(&f.caller, put("/db/other", "x", Some(ParameterType::SecureString), false)).unwrap();
    let again = f.kms.describe_key(&f.caller, &KeyRef::parse("alias/aws/ssm").unwrap()).unwrap();
    assert_eq!(again.arn, managed.arn);
    // The account cannot disable, delete or re-police the service's key.
    let id = managed.record.key_id.to_string();
    let e = f.kms.disable_key(&f.caller, &KeyRef::parse(&id).unwrap()).unwrap_err();
    assert_eq!(e.aws_type(), "AccessDeniedException");
    assert!(e.to_string().contains("kms:DisableKey"), "{e}");
    let e = f.kms.schedule_key_deletion(&f.caller, &KeyRef::parse(&id).unwrap(), None).unwrap_err();
    assert_eq!(e.aws_type(), "AccessDeniedException");
}

#[test]
fn disabled_customer_key_fails_decryption_but_not_strings() {
    let f = fixture();
    let key = f.kms.create_key(&f.caller, CreateKeyRequest::default()).unwrap();
    let id = key.record.key_id.to_string();
    let mut p = put("/s", "secret", Some(ParameterType::SecureString), false);
    p.key_id = Some(id.clone());
    f.ssm.put_parameter(&f.caller, p).unwrap();
    f.put("/plain", "visible");
    f.kms.disable_key(&f.caller, &KeyRef::parse(&id).unwrap()).unwrap();
    let e = f.get("/s").unwrap_err();
    assert_eq!(e.aws_type(), "InvalidKeyId");
    assert!(e.to_string().contains("DisabledException"), "{e}");
    assert!(f.ssm.get_parameter(&f.caller, "/s", false).is_ok());
    assert_eq!(text(&f.get("/plain").unwrap().value), "visible");
    let mut p = put("/t", "x", Some(ParameterType::SecureString), false);
    p.key_id = Some("alias/does-not-exist".into());
    assert_eq!(f.ssm.put_parameter(&f.caller, p).unwrap_err().aws_type(), "InvalidKeyId");
}

#[test]
fn tiers_patterns_tags_and_expiration() {
    let f = fixture();
    let big = "x".repeat(5000);
    let e = f.ssm.put_parameter(&f.caller, put("big", &big, Some(ParameterType::String), false)).unwrap_err();
    assert!(e.to_string().contains("4096"));
    let mut p = put("big", &big, Some(ParameterType::String), false);
    p.tier = Some(Tier::IntelligentTiering);
    assert_eq!(f.ssm.put_parameter(&f.caller, p).unwrap().1, Tier::Advanced);
    let mut p = put("big", "small", None, true);
    p.tier = Some(Tier::Standard);
    assert!(f.ssm.put_parameter(&f.caller, p).unwrap_err().to_string().contains("downgrade"));

    let mut p = put("num", "abc", Some(ParameterType::String), false);
    p.allowed_pattern = Some("^\\d+$".into());
    assert_eq!(f.ssm.put_parameter(&f.caller, p).unwrap_err().aws_type(), "ParameterPatternMismatchException");
    let mut p = put("num", "1", Some(ParameterType::String), false);
    p.allowed_pattern = Some("(".into());
    assert_eq!(f.ssm.put_parameter(&f.caller, p).unwrap_err().aws_type(), "InvalidAllowedPatternException");

    let mut p = put("tagged", "v", Some(ParameterType::String), true);
    p.tags = vec![("a".into(), "1".into())];
    assert_eq!(f.ssm.put_parameter(&f.caller, p).unwrap_err().aws_type(), "ValidationException");
    f.put("tagged", "v");
    f.ssm.add_tags(&f.caller, "Parameter", "tagged", &[("team".into(), "blue".into())]).unwrap();
    assert_eq!(
        f.ssm.list_tags(&f.caller, "Parameter", "tagged").unwrap().get("team").map(String::as_str),
        Some("blue")
    );
    f.ssm.remove_tags(&f.caller, "Parameter", "tagged", &["team".into()]).unwrap();
    assert!(f.ssm.list_tags(&f.caller, "Parameter", "tagged").unwrap().is_empty());
    assert_eq!(f.ssm.list_tags(&f.caller, "Parameter", "nope").unwrap_err().aws_type(), "InvalidResourceId");

    let mut p = put("expiring", "v", Some(ParameterType::String), false);
    p.tier = Some(Tier::Advanced);
    p.policies =
        Some(r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2023-11-15T00:00:00.000Z"}}]"#.into());
    f.ssm.put_parameter(&f.caller, p).unwrap();
    let mut p = put("std-policy", "v", Some(ParameterType::String), false);
    p.policies = Some(r#"[{"Type":"Expiration","Attributes":{"Timestamp":"2023-11-15T00:00:00Z"}}]"#.into());
    assert_eq!(f.ssm.put_parameter(&f.caller, p).unwrap_err().aws_type(), "ValidationException");
    assert_eq!(f.ssm.run_due_jobs().unwrap(), 0);
    f.clock.advance_ms(2 * Timestamp::DAY_MS);
    assert_eq!(f.ssm.run_due_jobs().unwrap(), 1);
    assert_eq!(f.get("expiring").unwrap_err().aws_type(), "ParameterNotFound");
}

#[test]
fn delete_and_get_many() {
    let f = fixture();
    f.put("a", "1");
    f.put("b", "2");
    let (found, invalid) = f.ssm.get_parameters(&f.caller, &["a".into(), "zz".into(), "b:3".into()], false).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(invalid, vec!["zz".to_string(), "b:3".to_string()]);
    // A selector does not name a parameter: nothing is deleted.
    assert_eq!(f.ssm.delete_parameter(&f.caller, "a:1").unwrap_err().aws_type(), "ParameterNotFound");
    f.ssm.delete_parameter(&f.caller, "a").unwrap();
    assert_eq!(f.ssm.delete_parameter(&f.caller, "a").unwrap_err().aws_type(), "ParameterNotFound");
    let (deleted, invalid) = f.ssm.delete_parameters(&f.caller, &["b".into(), "a".into()]).unwrap();
    assert_eq!((deleted, invalid), (vec!["b".to_string()], vec!["a".to_string()]));
}

#[test]
fn advanced_secure_strings_are_envelope_encrypted() {
    let f = fixture();
    let big = "s".repeat(6000); // over KMS's 4 KB: only envelope encryption can hold it
    let mut p = put("/big/secret", &big, Some(ParameterType::SecureString), false);
    p.tier = Some(Tier::Advanced);
    assert_eq!(f.ssm.put_parameter(&f.caller, p).unwrap().1, Tier::Advanced);
    assert_eq!(text(&f.get("/big/secret").unwrap().value), big);
    let stored = f.ssm.get_parameter(&f.caller, "/big/secret", false).unwrap();
    let ParameterValue::Ciphertext(c) = &stored.value else { panic!("expected ciphertext") };
    assert!(c.starts_with(b"TSE1"));
    assert!(!c.windows(16).any(|w| w == &big.as_bytes()[..16]), "the value is not stored in clear");
    // Standard-tier values stay plain KMS ciphertexts.
    f.ssm.put_parameter(&f.caller, put("/small/secret", "x", Some(ParameterType::SecureString), false)).unwrap();
    let ParameterValue::Ciphertext(c) = f.ssm.get_parameter(&f.caller, "/small/secret", false).unwrap().value else {
        panic!("expected ciphertext")
    };
    assert_eq!(c[0], 0x01);
}
