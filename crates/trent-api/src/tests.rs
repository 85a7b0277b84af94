//! In-process router tests: signed requests through the whole pipeline (`router(state).oneshot(req)`), no
//! sockets. Wire details live here: status codes, `__type`, messages, headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::test_support::{Creds, app_in, signed};

struct App {
    router: axum::Router,
    akid: String,
    secret: String,
}

fn app() -> App {
    let (router, Creds { akid, secret, .. }) = app_in("us-east-1");
    App { router, akid, secret }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: Value,
}

impl App {
    fn request(&self, target: &str, body: &[u8], akid: &str, secret: &str, region: &str) -> Request<Body> {
        let creds = Creds { akid: akid.to_owned(), secret: secret.to_owned(), token: None };
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
        signed("kms", region, &headers, body, &creds)
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Reply { status, headers, json }
    }

    async fn call_raw(&self, op: &str, body: &[u8]) -> Reply {
        let req = self.request(&format!("TrentService.{op}"), body, &self.akid, &self.secret, "us-east-1");
        self.send(req).await
    }

    async fn call(&self, op: &str, body: Value) -> Reply {
        self.call_raw(op, body.to_string().as_bytes()).await
    }

    async fn ok(&self, op: &str, body: Value) -> Value {
        let r = self.call(op, body).await;
        assert_eq!(r.status, StatusCode::OK, "{op}: {}", r.json);
        r.json
    }

    async fn key(&self) -> String {
        self.ok("CreateKey", json!({})).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
    }
}

fn assert_error(r: &Reply, aws_type: &str, message: Option<&str>) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert_eq!(r.json["__type"], aws_type, "{}", r.json);
    match message {
        Some(m) => assert_eq!(r.json["message"].as_str().or(r.json["Message"].as_str()), Some(m), "{}", r.json),
        None => assert!(r.json.get("message").is_none() && r.json.get("Message").is_none(), "{}", r.json),
    }
    assert!(r.headers.contains_key("x-amzn-requestid"));
}

#[tokio::test]
async fn healthz_answers_without_auth() {
    let a = app();
    let resp = a.router.clone().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn encrypt_decrypt_over_the_wire() {
    let a = app();
    let key = a.key().await;
    let enc = a
        .ok("Encrypt", json!({"KeyId": key, "Plaintext": b64(b"wire"), "EncryptionContext": {"b": "2", "a": "1"}, "FutureField": 1}))
        .await;
    assert!(enc["KeyId"].as_str().unwrap().ends_with(&key));
    assert_eq!(enc["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let dec = a
        .ok("Decrypt", json!({"CiphertextBlob": enc["CiphertextBlob"], "EncryptionContext": {"a": "1", "b": "2"}}))
        .await;
    assert_eq!(dec["Plaintext"], b64(b"wire"));
    assert_eq!(dec["KeyMaterialId"].as_str().unwrap().len(), 64);
    // Wrong context: AWS sends no message at all.
    let r = a.call("Decrypt", json!({"CiphertextBlob": enc["CiphertextBlob"]})).await;
    assert_error(&r, "InvalidCiphertextException", None);
}

#[tokio::test]
async fn responses_carry_request_ids_and_json_content_type() {
    let a = app();
    let r = a.call("ListKeys", json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/x-amz-json-1.1");
    assert_eq!(r.headers["x-amzn-requestid"].to_str().unwrap().len(), 36);
    assert_eq!(r.json, json!({"Keys": [], "Truncated": false}));
}

#[tokio::test]
async fn protocol_errors() {
    let a = app();
    assert_error(&a.call_raw("Encrypt", b"{not json").await, "SerializationException", None);
    let r = a.call_raw("Encrypt", br#"{"KeyId": 5}"#).await;
    assert_eq!(r.json["__type"], "SerializationException");
    assert!(r.json["message"].as_str().unwrap().contains("invalid type"));
    let key = a.key().await;
    let r = a.call("Encrypt", json!({"KeyId": key, "Plaintext": "***not base64***"})).await;
    assert_eq!(r.json["__type"], "SerializationException");
    assert!(r.json["message"].as_str().unwrap().contains("Plaintext"));
    assert_error(&a.call("NoSuchOperation", json!({})).await, "UnknownOperationException", None);
    let r = a.call("ReplicateKey", json!({})).await;
    assert_eq!(r.json["__type"], "UnsupportedOperationException");
    // An empty body is an empty request.
    assert_eq!(a.call_raw("ListKeys", b"").await.status, StatusCode::OK);
}

#[tokio::test]
async fn oversize_body_is_a_clear_400() {
    let a = app();
    let big = vec![b' '; super::MAX_BODY_BYTES + 1];
    let r = a.call_raw("ListKeys", &big).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["__type"], "ValidationException");
}

#[tokio::test]
async fn authentication_failures() {
    let a = app();
    let unsigned = Request::post("/").header("x-amz-target", "TrentService.ListKeys").body(Body::from("{}")).unwrap();
    assert_error(
        &a.send(unsigned).await,
        "MissingAuthenticationTokenException",
        Some("Request is missing Authentication Token"),
    );
    let r = a.send(a.request("TrentService.ListKeys", b"{}", "AKIAAAAAAAAAAAAAAAAA", "x", "us-east-1")).await;
    assert_error(&r, "UnrecognizedClientException", Some("The security token included in the request is invalid."));
    let r = a.send(a.request("TrentService.ListKeys", b"{}", &a.akid, "wrong-secret", "us-east-1")).await;
    assert_eq!(r.json["__type"], "InvalidSignatureException");
    let r = a.send(a.request("TrentService.ListKeys", b"{}", &a.akid, &a.secret, "eu-west-1")).await;
    assert_eq!(r.json["__type"], "InvalidSignatureException");
    assert!(r.json["message"].as_str().unwrap().contains("region"));
}

#[tokio::test]
async fn validation_texts_match_aws() {
    let a = app();
    let key = a.key().await;
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "Encrypt",
            json!({"KeyId": key, "Plaintext": b64(&[0u8; 4097])}),
            "ValidationException",
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
        ),
        (
            "Encrypt",
            json!({"KeyId": key, "Plaintext": ""}),
            "ValidationException",
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ),
        (
            "Encrypt",
            json!({"Plaintext": b64(b"x")}),
            "ValidationException",
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
        ),
        (
            "GenerateDataKey",
            json!({"KeyId": key, "NumberOfBytes": 1025}),
            "ValidationException",
            "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
        ),
        (
            "GenerateDataKey",
            json!({"KeyId": key, "NumberOfBytes": 16, "KeySpec": "AES_128"}),
            "ValidationException",
            "Please specify either number of bytes or key spec.",
        ),
        ("GenerateRandom", json!({}), "ValidationException", "NumberOfBytes is required."),
        (
            "ListKeys",
            json!({"Limit": 0}),
            "ValidationException",
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
        (
            "ScheduleKeyDeletion",
            json!({"KeyId": key, "PendingWindowInDays": 6}),
            "ValidationException",
            "PendingWindowInDays must be between 7 and 30",
        ),
        ("DescribeKey", json!({"KeyId": "foo"}), "NotFoundException", "Invalid keyId 'foo'"),
        (
            "CreateAlias",
            json!({"AliasName": "noprefix", "TargetKeyId": key}),
            "ValidationException",
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
        ),
        (
            "TagResource",
            json!({"KeyId": key, "Tags": [{"TagKey": "aws:x", "TagValue": "1"}]}),
            "TagException",
            "Tags beginning with aws: are reserved",
        ),
    ];
    for (op, body, aws_type, message) in cases {
        let r = a.call(op, body.clone()).await;
        assert_error(&r, aws_type, Some(message));
    }
    // Several violations are reported together.
    let r = a.call("Encrypt", json!({"Plaintext": ""})).await;
    assert!(r.json["message"].as_str().unwrap().starts_with("2 validation errors detected: "), "{}", r.json);
    // Enum values outside the set list the allowed values.
    let r = a.call("CreateKey", json!({"KeyUsage": "NOPE"})).await;
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("Member must satisfy enum value set: [ENCRYPT_DECRYPT, SIGN_VERIFY")
    );
}

#[tokio::test]
async fn alias_reserved_prefix_and_access_denied_shape() {
    let a = app();
    let key = a.key().await;
    assert_error(
        &a.call("CreateAlias", json!({"AliasName": "alias/aws/s3", "TargetKeyId": key})).await,
        "NotAuthorizedException",
        None,
    );
    // A blob naming a key the caller cannot see: AccessDeniedException with a capital-M Message, as AWS sends.
    let mut blob = vec![1u8];
    blob.extend_from_slice(&[0xAB; 16]);
    blob.extend_from_slice(&[0, 0, 0, 1]);
    blob.extend_from_slice(&[0; 48]);
    let r = a.call("Decrypt", json!({"CiphertextBlob": b64(&blob)})).await;
    assert_eq!(r.json["__type"], "AccessDeniedException");
    assert!(r.json["Message"].as_str().unwrap().starts_with("The ciphertext refers to a customer master key"));
}

#[tokio::test]
async fn key_lifecycle_over_the_wire() {
    let a = app();
    let key = a.key().await;
    a.ok("DisableKey", json!({"KeyId": key})).await;
    let d = a.ok("DescribeKey", json!({"KeyId": key})).await;
    assert_eq!(d["KeyMetadata"]["Enabled"], false);
    assert_eq!(d["KeyMetadata"]["KeyState"], "Disabled");
    let r = a.ok("ScheduleKeyDeletion", json!({"KeyId": key, "PendingWindowInDays": 7})).await;
    assert_eq!(r["KeyState"], "PendingDeletion");
    assert_eq!(r["PendingWindowInDays"], 7);
    assert!(r["DeletionDate"].as_f64().unwrap() > 1.7e9);
    let d = a.ok("DescribeKey", json!({"KeyId": key})).await;
    assert_eq!(d["KeyMetadata"]["PendingDeletionWindowInDays"], 7);
    let r = a.ok("CancelKeyDeletion", json!({"KeyId": key})).await;
    assert!(r["KeyId"].as_str().unwrap().starts_with("arn:aws:kms:us-east-1:111122223333:key/"));
    let p = a.ok("GetKeyPolicy", json!({"KeyId": key})).await;
    assert_eq!(p["PolicyName"], "default");
    assert!(p["Policy"].as_str().unwrap().contains("\"Sid\" : \"Enable IAM User Permissions\""));
    let l = a.ok("ListKeyPolicies", json!({"KeyId": key})).await;
    assert_eq!(l, json!({"PolicyNames": ["default"], "Truncated": false}));
}

async fn grant_count(a: &App, key: &str) -> usize {
    a.ok("ListGrants", json!({"KeyId": key})).await["Grants"].as_array().unwrap().len()
}

/// DryRun (architecture review A11-1): every operation that takes it validates and authorizes, then answers
/// DryRunOperationException (HTTP 412, as AWS's service model says) without executing: no grant created,
/// retired or revoked, no ciphertext, plaintext, signature, MAC, data key or shared secret produced.
#[tokio::test]
async fn dry_run_authorizes_and_executes_nothing() {
    let a = app();
    let key = a.key().await;
    let sign_key =
        a.ok("CreateKey", json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"})).await["KeyMetadata"]["KeyId"]
            .clone();
    let mac_key =
        a.ok("CreateKey", json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"})).await["KeyMetadata"]["KeyId"]
            .clone();
    let ecdh = json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"});
    let agree_key = a.ok("CreateKey", ecdh.clone()).await["KeyMetadata"]["KeyId"].clone();
    let peer_key = a.ok("CreateKey", ecdh).await["KeyMetadata"]["KeyId"].clone();
    let peer = a.ok("GetPublicKey", json!({"KeyId": peer_key})).await["PublicKey"].clone();
    let blob = a.ok("Encrypt", json!({"KeyId": key, "Plaintext": b64(b"secret")})).await["CiphertextBlob"].clone();
    let msg = b64(b"message");
    let signature = a
        .ok("Sign", json!({"KeyId": sign_key, "Message": msg, "SigningAlgorithm": "RSASSA_PSS_SHA_256"}))
        .await["Signature"]
        .clone();
    let mac =
        a.ok("GenerateMac", json!({"KeyId": mac_key, "Message": msg, "MacAlgorithm": "HMAC_SHA_256"})).await["Mac"]
            .clone();
    let grantee = "arn:aws:iam::111122223333:root";
    let grant_id = a
        .ok("CreateGrant", json!({"KeyId": key, "GranteePrincipal": grantee, "Operations": ["Decrypt"]}))
        .await["GrantId"]
        .clone();
    assert_eq!(grant_count(&a, &key).await, 1);

    let cases: Vec<(&str, Value)> = vec![
        ("Encrypt", json!({"KeyId": key, "Plaintext": b64(b"x")})),
        ("Decrypt", json!({"CiphertextBlob": blob})),
        ("ReEncrypt", json!({"CiphertextBlob": blob, "DestinationKeyId": key})),
        ("GenerateDataKey", json!({"KeyId": key, "KeySpec": "AES_256"})),
        ("GenerateDataKeyWithoutPlaintext", json!({"KeyId": key, "NumberOfBytes": 32})),
        ("GenerateDataKeyPair", json!({"KeyId": key, "KeyPairSpec": "ECC_NIST_P256"})),
        ("GenerateDataKeyPairWithoutPlaintext", json!({"KeyId": key, "KeyPairSpec": "RSA_2048"})),
        ("Sign", json!({"KeyId": sign_key, "Message": msg, "SigningAlgorithm": "RSASSA_PSS_SHA_256"})),
        (
            "Verify",
            json!({"KeyId": sign_key, "Message": msg, "Signature": signature, "SigningAlgorithm": "RSASSA_PSS_SHA_256"}),
        ),
        ("GenerateMac", json!({"KeyId": mac_key, "Message": msg, "MacAlgorithm": "HMAC_SHA_256"})),
        ("VerifyMac", json!({"KeyId": mac_key, "Message": msg, "Mac": mac, "MacAlgorithm": "HMAC_SHA_256"})),
        ("DeriveSharedSecret", json!({"KeyId": agree_key, "KeyAgreementAlgorithm": "ECDH", "PublicKey": peer})),
        ("CreateGrant", json!({"KeyId": key, "GranteePrincipal": grantee, "Operations": ["Encrypt"]})),
        ("RetireGrant", json!({"KeyId": key, "GrantId": grant_id})),
        ("RevokeGrant", json!({"KeyId": key, "GrantId": grant_id})),
    ];
    for (op, mut body) in cases {
        body["DryRun"] = json!(true);
        let r = a.call(op, body).await;
        assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{op}: {}", r.json);
        assert_eq!(r.json["__type"], "DryRunOperationException", "{op}: {}", r.json);
        assert_eq!(r.json["message"], "The request would have succeeded, but the DryRun option is set.", "{op}");
        for member in
            ["CiphertextBlob", "Plaintext", "Signature", "Mac", "SharedSecret", "PrivateKeyPlaintext", "GrantId"]
        {
            assert!(r.json.get(member).is_none(), "{op} returned {member}: {}", r.json);
        }
    }
    // The grant the dry runs retired and revoked is still there, and no grant was added.
    assert_eq!(grant_count(&a, &key).await, 1);

    // A dry run still fails as the real call would: validation, state and key usage come first.
    let r = a.call("Encrypt", json!({"KeyId": sign_key, "Plaintext": b64(b"x"), "DryRun": true})).await;
    assert_eq!((r.status, r.json["__type"].as_str()), (StatusCode::BAD_REQUEST, Some("InvalidKeyUsageException")));
    let r = a.call("RevokeGrant", json!({"KeyId": key, "GrantId": "0".repeat(64), "DryRun": true})).await;
    assert_error(&r, "InvalidGrantIdException", Some("The grant id is not valid."));
    a.ok("DisableKey", json!({"KeyId": key})).await;
    let r = a.call("GenerateDataKey", json!({"KeyId": key, "KeySpec": "AES_256", "DryRun": true})).await;
    assert_eq!(r.json["__type"], "DisabledException", "{}", r.json);
    // DryRun false is the ordinary call.
    a.ok("EnableKey", json!({"KeyId": key})).await;
    a.ok("Encrypt", json!({"KeyId": key, "Plaintext": b64(b"x"), "DryRun": false})).await;
}

/// An encryption context too large to bind is refused when the request is parsed, before any key is looked up or
/// the caller authorized: a key that does not exist gives the ValidationException, not NotFoundException.
#[tokio::test]
async fn oversize_encryption_context_is_refused_at_the_edge() {
    let a = app();
    let missing = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let huge = "v".repeat(usize::from(u16::MAX) + 1);
    let too_large = Some("Encryption context is too large.");
    let r =
        a.call("Encrypt", json!({"KeyId": missing, "Plaintext": b64(b"x"), "EncryptionContext": {"k": huge}})).await;
    assert_error(&r, "ValidationException", too_large);
    let r = a
        .call("GenerateDataKey", json!({"KeyId": missing, "KeySpec": "AES_256", "EncryptionContext": {"k": huge}}))
        .await;
    assert_error(&r, "ValidationException", too_large);
    let r = a.call("Decrypt", json!({"CiphertextBlob": b64(&[1u8; 64]), "EncryptionContext": {"k": huge}})).await;
    assert_error(&r, "ValidationException", too_large);
    // The same request with a context that fits reaches the key lookup.
    let r = a.call("Encrypt", json!({"KeyId": missing, "Plaintext": b64(b"x"), "EncryptionContext": {"k": "v"}})).await;
    assert_eq!(r.json["__type"], "NotFoundException", "{}", r.json);
}
