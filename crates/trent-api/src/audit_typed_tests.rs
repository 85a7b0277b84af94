//! The typed audit path (issue 13 item 4): every KMS operation family's event, built from what its handler
//! noted, has the request parameters, resources, response elements and error that the event read back from the
//! request and response JSON had, and no secret member of either.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{Value, json};
use trent_core::clock::SystemClock;
use trent_core::ids::{AccountId, Region};
use trent_core::service::{Caller, Kms};
use trent_core::store::MemoryStore;
use trent_crypto::{RootKey, SecretBytes};

use super::{Facts, Named, RequestInfo, build_event};
use crate::error::ApiError;
use crate::kms::{KmsFacts, Operation, dispatch};

const REGION: &str = "us-east-1";

/// Members whose values must never reach the trail, in requests and responses.
const SECRET_MEMBERS: &[&str] = &[
    "Plaintext",
    "CiphertextBlob",
    "Message",
    "Signature",
    "Mac",
    "PublicKey",
    "PrivateKeyPlaintext",
    "PrivateKeyCiphertextBlob",
    "SharedSecret",
    "GrantToken",
    "GrantTokens",
    "Policy",
];

struct Env {
    kms: Kms,
    caller: Caller,
}

fn env() -> Env {
    let root = Arc::new(RootKey::from_secret(&SecretBytes::new(vec![7; 32])).unwrap());
    let kms = Kms::new(Arc::new(MemoryStore::new()), root, Arc::new(SystemClock), Region::parse(REGION).unwrap());
    Env { kms, caller: Caller::root(AccountId::parse("111122223333").unwrap()) }
}

fn info(op: Operation) -> RequestInfo {
    RequestInfo {
        target: Some(format!("TrentService.{}", op.name())),
        protocol: crate::protocol::Protocol::Kms,
        user_agent: Some("ua".into()),
        source_ip: Some("127.0.0.1".into()),
        access_key_id: Some("AKIATEST".into()),
        tls: None,
        host: None,
    }
}

/// The parts of an event this change could alter.
fn audited(e: &trent_audit::AuditEvent) -> Value {
    let v: Value = serde_json::from_str(&e.to_json().unwrap()).unwrap();
    json!({
        "requestParameters": v["requestParameters"],
        "resources": v["resources"],
        "responseElements": v["responseElements"],
        "errorCode": v["errorCode"],
        "errorMessage": v["errorMessage"],
        "readOnly": v["readOnly"],
    })
}

/// Every string under a secret member of a JSON body, at any depth.
fn secrets(body: &[u8], out: &mut Vec<String>) {
    fn walk(v: &Value, secret: bool, out: &mut Vec<String>) {
        match v {
            Value::String(s) if secret && s.len() >= 4 => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, secret, out)),
            Value::Object(m) => {
                m.iter().for_each(|(k, x)| walk(x, secret || SECRET_MEMBERS.contains(&k.as_str()), out))
            }
            _ => {}
        }
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        walk(&v, false, out);
    }
}

/// Runs `op` on `body`, builds its event from the handler's notes (given bodies that are not JSON, so that
/// nothing can have been read from them) and from the JSON as before, checks they agree and carry no secret.
/// Returns the response body and the event's audited parts.
fn check(env: &Env, op: Operation, body: &str) -> (Result<Vec<u8>, String>, Value) {
    let mut noted = KmsFacts::recording();
    let result = dispatch(&env.kms, &env.caller, op, body.as_bytes(), &mut noted);
    let facts = |body: &[u8], kms: Option<KmsFacts>| Facts {
        body: Some(Bytes::from(body.to_vec())),
        caller: Some(env.caller.clone()),
        operation: Some(Named::kms(op)),
        kms,
        ..Facts::default()
    };
    // A response that is not JSON: what the typed event shows of it cannot have been read from it.
    let garbage: Result<Vec<u8>, ApiError> = Ok(b"not json".to_vec());
    let typed_result = if result.is_ok() { &garbage } else { &result };
    // Likewise the request, once its members parsed (a body that did not parse is read leniently, as before).
    let typed_body: &[u8] = if noted.params.is_some() { b"not json" } else { body.as_bytes() };
    let typed = build_event(REGION, info(op), facts(typed_body, Some(noted)), "r", typed_result);
    let before = build_event(REGION, info(op), facts(body.as_bytes(), None), "r", &result);
    let (t, mut b) = (audited(&typed), audited(&before));
    if op == Operation::DeleteAlias && result.is_ok() {
        // The one intended difference: DeleteAlias names no key, and the JSON reading could not know it; the
        // service now says which key the alias pointed to, and the trail lists it after the alias.
        let key = t["resources"][1].clone();
        assert!(key["ARN"].as_str().is_some_and(|a| a.contains(":key/")), "{t}");
        b["resources"].as_array_mut().unwrap().push(key);
    }
    assert_eq!(t, b, "{} {body}", op.name());
    let text = typed.to_json().unwrap();
    let mut hidden = Vec::new();
    secrets(body.as_bytes(), &mut hidden);
    if let Ok(resp) = &result {
        secrets(resp, &mut hidden);
    }
    for s in hidden {
        assert!(!text.contains(&s), "{}: secret {s} in {text}", op.name());
    }
    let result = result.map_err(|e| e.aws_type().to_owned());
    (result, t)
}

fn field(body: &Result<Vec<u8>, String>, path: &[&str]) -> String {
    let mut v: Value = serde_json::from_slice(body.as_ref().unwrap()).unwrap();
    for p in path {
        v = v[*p].take();
    }
    v.as_str().unwrap().to_owned()
}

fn create(env: &Env, body: &str) -> (String, String) {
    let (r, _) = check(env, Operation::CreateKey, body);
    (field(&r, &["KeyMetadata", "KeyId"]), field(&r, &["KeyMetadata", "Arn"]))
}

#[test]
fn key_operations_are_recorded_as_before() {
    let env = env();
    let (r, v) = check(
        &env,
        Operation::CreateKey,
        r#"{"Description":"d","KeyUsage":"ENCRYPT_DECRYPT","Tags":[{"TagKey":"a","TagValue":"b"}],
            "Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"s3cr3tp0l1cy\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
            "MultiRegion":false}"#,
    );
    let (id, arn) = (field(&r, &["KeyMetadata", "KeyId"]), field(&r, &["KeyMetadata", "Arn"]));
    assert_eq!(v["responseElements"]["keyMetadata"]["arn"], arn.as_str());
    assert_eq!(v["requestParameters"]["tags"], json!([{"tagKey": "a", "tagValue": "b"}]));
    assert!(!v.to_string().contains("s3cr3tp0l1cy"));
    let bodies = [
        (Operation::DescribeKey, format!(r#"{{"KeyId":"{id}","GrantTokens":["tok3n"]}}"#)),
        (Operation::UpdateKeyDescription, format!(r#"{{"KeyId":"{arn}","Description":"new"}}"#)),
        (Operation::DisableKey, format!(r#"{{"KeyId":"{id}","Limit":"zz"}}"#)),
        (Operation::EnableKey, format!(r#"{{"KeyId":"{id}"}}"#)),
        (Operation::TagResource, format!(r#"{{"KeyId":"{id}","Tags":[{{"TagKey":"k","TagValue":"v"}}]}}"#)),
        (Operation::ListResourceTags, format!(r#"{{"KeyId":"{id}","Limit":5}}"#)),
        (Operation::UntagResource, format!(r#"{{"KeyId":"{id}","TagKeys":["k"]}}"#)),
        (Operation::GetKeyPolicy, format!(r#"{{"KeyId":"{id}","PolicyName":"default"}}"#)),
        (Operation::ListKeyPolicies, format!(r#"{{"KeyId":"{id}"}}"#)),
        (Operation::ListKeys, r#"{"Limit":2}"#.to_owned()),
        (Operation::CreateAlias, format!(r#"{{"AliasName":"alias/typed","TargetKeyId":"{id}"}}"#)),
        (Operation::UpdateAlias, format!(r#"{{"AliasName":"alias/typed","TargetKeyId":"{arn}"}}"#)),
        (Operation::ListAliases, format!(r#"{{"KeyId":"{id}"}}"#)),
        (Operation::DescribeKey, r#"{"KeyId":"alias/typed"}"#.to_owned()),
        (Operation::DeleteAlias, r#"{"AliasName":"alias/typed"}"#.to_owned()),
        (Operation::ScheduleKeyDeletion, format!(r#"{{"KeyId":"{id}","PendingWindowInDays":7}}"#)),
        (Operation::CancelKeyDeletion, format!(r#"{{"KeyId":"{id}"}}"#)),
    ];
    for (op, body) in bodies {
        let (r, v) = check(&env, op, &body);
        assert!(r.is_ok(), "{} {r:?}", op.name());
        // The key, by id, ARN or alias, is the event's resource.
        if !matches!(op, Operation::ListKeys | Operation::DeleteAlias) {
            assert!(v["resources"].to_string().contains(&arn), "{} {v}", op.name());
        }
    }
    // Refused: by validation after the body parsed, by the service, and a body that does not parse.
    for (op, body) in [
        (Operation::EnableKey, r#"{"KeyId":""}"#.to_owned()),
        (Operation::DescribeKey, r#"{"KeyId":"alias/none"}"#.to_owned()),
        (Operation::ScheduleKeyDeletion, format!(r#"{{"KeyId":"{id}","PendingWindowInDays":-3}}"#)),
        (Operation::UpdateKeyDescription, format!(r#"{{"KeyId":"{id}","Description":7}}"#)),
        (Operation::CreateKey, r#"{"KeySpec":"NOPE","Description":"x"}"#.to_owned()),
        (Operation::ListKeys, "[1]".to_owned()),
    ] {
        let (r, v) = check(&env, op, &body);
        assert!(r.is_err() && !v["errorCode"].is_null(), "{} {r:?}", op.name());
    }
}

#[test]
fn cryptographic_operations_are_recorded_as_before_without_secrets() {
    let env = env();
    let (id, arn) = create(&env, "{}");
    let (_, arn2) = create(&env, "{}");
    let _ = check(&env, Operation::CreateAlias, &format!(r#"{{"AliasName":"alias/c","TargetKeyId":"{id}"}}"#));
    let (r, v) = check(
        &env,
        Operation::Encrypt,
        r#"{"KeyId":"alias/c","Plaintext":"U0VDUkVUU0VDUkVU","EncryptionContext":{"k":"v"},
            "EncryptionAlgorithm":"SYMMETRIC_DEFAULT","GrantTokens":["g1g1g1"],"DryRun":false}"#,
    );
    // The alias resolved to its key: the resource is the key the service used.
    assert_eq!(v["resources"][0]["ARN"], arn.as_str());
    assert_eq!(
        v["requestParameters"],
        json!({"keyId": "alias/c", "encryptionContext": {"k": "v"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "dryRun": false})
    );
    assert!(v["responseElements"].is_null());
    let blob = field(&r, &["CiphertextBlob"]);
    let (r, v) =
        check(&env, Operation::Decrypt, &format!(r#"{{"CiphertextBlob":"{blob}","EncryptionContext":{{"k":"v"}}}}"#));
    assert_eq!(field(&r, &["Plaintext"]), "U0VDUkVUU0VDUkVU");
    assert_eq!(v["resources"][0]["ARN"], arn.as_str());
    let (_, v) = check(
        &env,
        Operation::ReEncrypt,
        &format!(
            r#"{{"CiphertextBlob":"{blob}","SourceEncryptionContext":{{"k":"v"}},"DestinationKeyId":"{arn2}",
                "DestinationEncryptionContext":{{"d":"e"}}}}"#
        ),
    );
    assert_eq!(v["resources"][0]["ARN"], arn2.as_str());
    for op in [Operation::GenerateDataKey, Operation::GenerateDataKeyWithoutPlaintext] {
        let (_, v) = check(&env, op, r#"{"KeyId":"alias/c","KeySpec":"AES_256","EncryptionContext":{"a":"b"}}"#);
        assert_eq!(v["resources"][0]["ARN"], arn.as_str());
        let _ = check(&env, op, &format!(r#"{{"KeyId":"{id}","NumberOfBytes":32}}"#));
    }
    let _ = check(&env, Operation::GenerateRandom, r#"{"NumberOfBytes":16}"#);
    let _ =
        check(&env, Operation::GenerateDataKeyPair, &format!(r#"{{"KeyId":"{id}","KeyPairSpec":"ECC_NIST_P256"}}"#));
    let _ = check(
        &env,
        Operation::GenerateDataKeyPairWithoutPlaintext,
        &format!(r#"{{"KeyId":"{arn}","KeyPairSpec":"RSA_2048"}}"#),
    );
    // Failures: wrong context (the service), a dry run, an empty key id (validation), a member of the wrong
    // type (the body does not parse: the lenient reading keeps today's parameters).
    for (op, body) in [
        (Operation::Decrypt, format!(r#"{{"CiphertextBlob":"{blob}"}}"#)),
        (Operation::Encrypt, r#"{"KeyId":"alias/c","Plaintext":"U0VDUkVU","DryRun":true}"#.to_owned()),
        (Operation::Encrypt, r#"{"KeyId":"","Plaintext":"U0VDUkVU"}"#.to_owned()),
        (Operation::Encrypt, format!(r#"{{"KeyId":"{id}","Plaintext":7,"EncryptionContext":{{"x":"y"}}}}"#)),
        (Operation::GenerateDataKey, format!(r#"{{"KeyId":"{arn}","NumberOfBytes":"many"}}"#)),
    ] {
        let (r, _) = check(&env, op, &body);
        assert!(r.is_err(), "{} {body}", op.name());
    }
}

#[test]
fn asymmetric_and_hmac_operations_are_recorded_as_before() {
    let env = env();
    let (sign_id, sign_arn) = create(&env, r#"{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}"#);
    let (r, v) = check(
        &env,
        Operation::Sign,
        &format!(r#"{{"KeyId":"{sign_id}","Message":"bWVzc2FnZTE=","SigningAlgorithm":"ECDSA_SHA_256"}}"#),
    );
    assert_eq!(v["responseElements"], json!({"keyId": sign_arn}));
    let signature = field(&r, &["Signature"]);
    let _ = check(
        &env,
        Operation::Verify,
        &format!(
            r#"{{"KeyId":"{sign_arn}","Message":"bWVzc2FnZTE=","Signature":"{signature}","SigningAlgorithm":"ECDSA_SHA_256"}}"#
        ),
    );
    let _ = check(&env, Operation::GetPublicKey, &format!(r#"{{"KeyId":"{sign_id}"}}"#));
    let (mac_id, mac_arn) = create(&env, r#"{"KeySpec":"HMAC_256","KeyUsage":"GENERATE_VERIFY_MAC"}"#);
    let (r, v) = check(
        &env,
        Operation::GenerateMac,
        &format!(r#"{{"KeyId":"{mac_id}","Message":"bWFjbWFjbWFj","MacAlgorithm":"HMAC_SHA_256"}}"#),
    );
    assert!(v["responseElements"].is_null());
    assert_eq!(v["resources"][0]["ARN"], mac_arn.as_str());
    let mac = field(&r, &["Mac"]);
    let _ = check(
        &env,
        Operation::VerifyMac,
        &format!(r#"{{"KeyId":"{mac_arn}","Message":"bWFjbWFjbWFj","Mac":"{mac}","MacAlgorithm":"HMAC_SHA_256"}}"#),
    );
    let (agree_id, _) = create(&env, r#"{"KeySpec":"ECC_NIST_P256","KeyUsage":"KEY_AGREEMENT"}"#);
    let (r, _) = check(&env, Operation::GetPublicKey, &format!(r#"{{"KeyId":"{agree_id}"}}"#));
    let public = field(&r, &["PublicKey"]);
    let _ = check(
        &env,
        Operation::DeriveSharedSecret,
        &format!(r#"{{"KeyId":"{agree_id}","KeyAgreementAlgorithm":"ECDH","PublicKey":"{public}"}}"#),
    );
    // A failed verification and a wrong-usage key.
    let (r, _) = check(
        &env,
        Operation::VerifyMac,
        &format!(
            r#"{{"KeyId":"{mac_id}","Message":"bWFjbWFjbWFj","Mac":"{signature}","MacAlgorithm":"HMAC_SHA_256"}}"#
        ),
    );
    assert!(r.is_err());
    let (r, _) = check(
        &env,
        Operation::Sign,
        &format!(r#"{{"KeyId":"{mac_id}","Message":"bQ==","SigningAlgorithm":"ECDSA_SHA_256"}}"#),
    );
    assert!(r.is_err());
}

#[test]
fn grant_operations_are_recorded_as_before() {
    let env = env();
    let (id, arn) = create(&env, "{}");
    let grantee = "arn:aws:iam::111122223333:user/grantee";
    let (r, v) = check(
        &env,
        Operation::CreateGrant,
        &format!(r#"{{"KeyId":"{id}","GranteePrincipal":"{grantee}","Operations":["Decrypt"],"Name":"n"}}"#),
    );
    assert_eq!(v["resources"][0]["ARN"], arn.as_str());
    let grant_id = field(&r, &["GrantId"]);
    let _ = check(&env, Operation::ListGrants, &format!(r#"{{"KeyId":"{arn}","Limit":10}}"#));
    let _ = check(&env, Operation::ListRetirableGrants, &format!(r#"{{"RetiringPrincipal":"{grantee}"}}"#));
    let _ = check(&env, Operation::RevokeGrant, &format!(r#"{{"KeyId":"{id}","GrantId":"{grant_id}","DryRun":true}}"#));
    let (r, _) = check(&env, Operation::RevokeGrant, &format!(r#"{{"KeyId":"{id}","GrantId":"{grant_id}"}}"#));
    assert!(r.is_ok());
    let (r, _) = check(&env, Operation::RetireGrant, &format!(r#"{{"KeyId":"{id}","GrantId":"{grant_id}"}}"#));
    assert!(r.is_err());
}

#[test]
fn get_key_last_usage_is_recorded_as_before() {
    let env = env();
    let (id, arn) = create(&env, "{}");
    let (_, v) = check(&env, Operation::GetKeyLastUsage, &format!(r#"{{"KeyId":"{id}"}}"#));
    assert_eq!(v["responseElements"], json!({"keyId": id}));
    assert_eq!(v["resources"][0]["ARN"], arn.as_str());
}

/// A request that fails after the service resolved its key (by alias) and authorized the caller on it is
/// recorded against that key; read back from the JSON it had no resource (the alias is not a key ARN).
#[test]
fn a_failure_after_resolution_names_the_resolved_key() {
    let env = env();
    let (id, arn) = create(&env, "{}");
    let _ = check(&env, Operation::CreateAlias, &format!(r#"{{"AliasName":"alias/f","TargetKeyId":"{id}"}}"#));
    let _ = check(&env, Operation::DisableKey, &format!(r#"{{"KeyId":"{id}"}}"#));
    let mut caller = env.caller.clone();
    for (op, body, error) in [
        (Operation::Encrypt, r#"{"KeyId":"alias/f","Plaintext":"U0VDUkVU"}"#, "DisabledException"),
        (Operation::GenerateDataKey, r#"{"KeyId":"alias/f","KeySpec":"AES_256","DryRun":true}"#, "DisabledException"),
        (Operation::Sign, r#"{"KeyId":"alias/f","Message":"bQ==","SigningAlgorithm":"ECDSA_SHA_256"}"#, ""),
        (Operation::DescribeKey, r#"{"KeyId":"alias/none"}"#, "NotFoundException"),
    ] {
        let resolved = trent_core::service::ResolvedKey::default();
        caller.resolved = Some(resolved.clone());
        let mut noted = KmsFacts::recording();
        let result = dispatch(&env.kms, &caller, op, body.as_bytes(), &mut noted);
        let err = result.as_ref().err().map(ApiError::aws_type).unwrap_or_default();
        assert!(result.is_err() && (error.is_empty() || err == error), "{} {err}", op.name());
        noted.failed(op, &resolved);
        let facts = Facts {
            body: Some(Bytes::from_static(b"not json")),
            caller: Some(caller.clone()),
            operation: Some(Named::kms(op)),
            kms: Some(noted),
            ..Facts::default()
        };
        let v = audited(&build_event(REGION, info(op), facts, "r", &result));
        if op == Operation::DescribeKey {
            // Nothing resolved: no resource, as before.
            assert!(v["resources"].is_null(), "{v}");
        } else {
            assert_eq!(v["resources"][0]["ARN"], arn.as_str(), "{} {v}", op.name());
            assert_eq!(v["requestParameters"]["keyId"], "alias/f");
        }
    }
}

/// Through the router with a trail: the events of a KMS request that succeeded, one refused by validation and
/// one that failed after its alias resolved, as written to the trail; no plaintext in the trail's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_records_kms_events_from_the_handlers_notes() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let dir = std::env::temp_dir().join(format!("trent-api-typed-audit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = RootKey::from_secret(&SecretBytes::new(vec![3; 32])).unwrap();
    let config = trent_audit::AuditConfig::default();
    let sink = Arc::new(trent_audit::testing::open_failing(&dir, &root, config, |_| false).unwrap());
    let (state, creds) = crate::test_support::state_in(REGION);
    let router = crate::router(Arc::new(state.with_audit(Some(sink.clone()))));
    let call = |op: &'static str, body: Value| {
        let (router, target) = (router.clone(), format!("TrentService.{op}"));
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
        let req = crate::test_support::signed("kms", REGION, &headers, body.to_string().as_bytes(), &creds);
        async move {
            let resp = router.oneshot(req).await.unwrap();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null)
        }
    };
    let key = call("CreateKey", json!({})).await.get("KeyMetadata").cloned().unwrap();
    let (id, arn) = (key["KeyId"].as_str().unwrap().to_owned(), key["Arn"].as_str().unwrap().to_owned());
    call("CreateAlias", json!({"AliasName": "alias/routed", "TargetKeyId": id})).await;
    let ok = call(
        "Encrypt",
        json!({"KeyId": "alias/routed", "Plaintext": "UExBSU5URVhUMQ==",
        "EncryptionContext": {"a": "b"}}),
    )
    .await;
    assert!(ok["CiphertextBlob"].is_string(), "{ok}");
    let refused = call("Encrypt", json!({"KeyId": "", "Plaintext": "UExBSU5URVhUMg=="})).await;
    assert_eq!(refused["__type"], "ValidationException");
    call("DisableKey", json!({"KeyId": id})).await;
    let disabled = call("Encrypt", json!({"KeyId": "alias/routed", "Plaintext": "UExBSU5URVhUMw=="})).await;
    assert_eq!(disabled["__type"], "DisabledException");

    let page = trent_audit::search::search(&dir, &Default::default(), 50, None).unwrap();
    let mut encrypts: Vec<&Value> =
        page.events.iter().map(|f| &f.event).filter(|e| e["eventName"] == "Encrypt").collect();
    encrypts.sort_by_key(|e| e["errorCode"].as_str().unwrap_or("").to_owned());
    let [ok, disabled, refused] = encrypts[..] else { panic!("{encrypts:?}") };
    assert_eq!(ok["resources"][0]["ARN"], arn.as_str());
    assert_eq!(ok["requestParameters"], json!({"keyId": "alias/routed", "encryptionContext": {"a": "b"}}));
    assert!(ok["responseElements"].is_null());
    assert_eq!(
        (disabled["errorCode"].as_str(), disabled["resources"][0]["ARN"].as_str()),
        (Some("DisabledException"), Some(arn.as_str()))
    );
    assert_eq!(refused["errorCode"], "ValidationException");
    assert_eq!(refused["requestParameters"], json!({"keyId": ""}));
    assert!(refused["resources"].is_null());
    drop(sink);
    fn files(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { files(&path, out) } else { out.push(std::fs::read(&path).unwrap()) }
        }
    }
    let mut contents = Vec::new();
    files(&dir, &mut contents);
    let text: String = contents.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    assert!(text.contains("\"eventName\":\"Encrypt\""), "the trail's files hold its events as text");
    assert!(!text.contains("UExBSU5URVhU"), "plaintext in the trail");
    let _ = std::fs::remove_dir_all(&dir);
}
