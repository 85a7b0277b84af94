//! In-process router tests of the SSM protocol: requests signed for the `ssm` service, wire shapes and
//! error names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::test_support::{Creds, app_in, signed};

struct App {
    router: axum::Router,
    creds: Creds,
}

fn app() -> App {
    let (router, creds) = app_in("us-east-1");
    App { router, creds }
}

impl App {
    /// Sends `target` signed for SigV4 service `service`.
    async fn send(&self, target: &str, service: &str, body: Value) -> (StatusCode, Value) {
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
        let req = signed(service, "us-east-1", &headers, body.to_string().as_bytes(), &self.creds);
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn ssm(&self, op: &str, body: Value) -> (StatusCode, Value) {
        self.send(&format!("AmazonSSM.{op}"), "ssm", body).await
    }
}

#[tokio::test]
async fn put_and_get_over_the_wire() {
    let a = app();
    let (s, r) = a.ssm("PutParameter", json!({"Name": "/app/url", "Value": "https://x", "Type": "String"})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r, json!({"Version": 1, "Tier": "Standard"}));
    let (s, r) = a.ssm("GetParameter", json!({"Name": "/app/url"})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let p = &r["Parameter"];
    assert_eq!(p["Value"], "https://x");
    assert_eq!(p["Type"], "String");
    assert_eq!(p["ARN"], "arn:aws:ssm:us-east-1:111122223333:parameter/app/url");
    assert_eq!(p["DataType"], "text");
    assert!(p["LastModifiedDate"].is_f64());
}

#[tokio::test]
async fn errors_carry_ssm_exception_names() {
    let a = app();
    let (s, r) = a.ssm("GetParameter", json!({"Name": "/missing"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["__type"], "ParameterNotFound");
    assert_eq!(r["message"], "Parameter /missing not found.");
    let (_, r) = a.ssm("GetParameter", json!({})).await;
    assert_eq!(r["__type"], "ValidationException");
    assert_eq!(
        r["message"],
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"
    );
    let (_, r) = a.ssm("GetParametersByPath", json!({"Path": "/", "MaxResults": 11})).await;
    assert_eq!(r["__type"], "ValidationException");
    let (_, r) = a.ssm("PutParameter", json!({"Name": "x", "Value": "v", "Type": "Bogus"})).await;
    assert_eq!(r["__type"], "ValidationException");
    assert!(r["message"].as_str().unwrap().contains("[SecureString, StringList, String]"));
    let (_, r) = a.ssm("SendCommand", json!({})).await;
    assert_eq!(r["__type"], "UnknownOperationException");
}

#[tokio::test]
async fn signing_name_must_match_the_protocol() {
    let a = app();
    // An SSM target signed for kms (and the reverse) is refused by SigV4.
    let (s, r) = a.send("AmazonSSM.GetParameter", "kms", json!({"Name": "x"})).await;
    assert_eq!((s, &r["__type"]), (StatusCode::BAD_REQUEST, &json!("InvalidSignatureException")), "{r}");
    assert_eq!(r["message"], "Credential should be scoped to correct service: 'ssm'. ");
    let (s, r) = a.send("TrentService.ListKeys", "ssm", json!({})).await;
    assert_eq!((s, &r["__type"]), (StatusCode::BAD_REQUEST, &json!("InvalidSignatureException")), "{r}");
    let (s, _) = a.send("TrentService.ListKeys", "kms", json!({})).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn secure_string_without_decryption_is_base64_ciphertext() {
    let a = app();
    let (s, r) = a.ssm("PutParameter", json!({"Name": "pw", "Value": "hunter2", "Type": "SecureString"})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, r) = a.ssm("GetParameter", json!({"Name": "pw"})).await;
    let ct = r["Parameter"]["Value"].as_str().unwrap().to_owned();
    assert_ne!(ct, "hunter2");
    let (_, r) = a.ssm("GetParameter", json!({"Name": "pw", "WithDecryption": true})).await;
    assert_eq!(r["Parameter"]["Value"], "hunter2");
    let (_, r) = a.ssm("DescribeParameters", json!({})).await;
    let d = &r["Parameters"][0];
    assert_eq!(d["KeyId"], "alias/aws/ssm");
    assert!(d.get("Value").is_none());
    // The managed key is an AWS managed key.
    let (_, r) = a.send("TrentService.DescribeKey", "kms", json!({"KeyId": "alias/aws/ssm"})).await;
    assert_eq!(r["KeyMetadata"]["KeyManager"], "AWS");
    // Its policy admits the account only through Parameter Store: a direct Decrypt is denied, as in AWS.
    let ctx = json!({"PARAMETER_ARN": "arn:aws:ssm:us-east-1:111122223333:parameter/pw"});
    let (s, r) = a.send("TrentService.Decrypt", "kms", json!({"CiphertextBlob": ct, "EncryptionContext": ctx})).await;
    assert_eq!((s, &r["__type"]), (StatusCode::BAD_REQUEST, &json!("AccessDeniedException")), "{r}");
    // Under a customer key (default policy) the same call succeeds, and fails without the context.
    let (_, k) = a.send("TrentService.CreateKey", "kms", json!({})).await;
    let key = k["KeyMetadata"]["KeyId"].clone();
    let (s, r) =
        a.ssm("PutParameter", json!({"Name": "pw2", "Value": "hunter2", "Type": "SecureString", "KeyId": key})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, r) = a.ssm("GetParameter", json!({"Name": "pw2"})).await;
    let ct = r["Parameter"]["Value"].clone();
    let ctx = json!({"PARAMETER_ARN": "arn:aws:ssm:us-east-1:111122223333:parameter/pw2"});
    let (_, r) = a.send("TrentService.Decrypt", "kms", json!({"CiphertextBlob": ct, "EncryptionContext": ctx})).await;
    assert_eq!(r["Plaintext"], "aHVudGVyMg==");
    let (_, r) = a.send("TrentService.Decrypt", "kms", json!({"CiphertextBlob": ct})).await;
    assert_eq!(r["__type"], "InvalidCiphertextException");
}
