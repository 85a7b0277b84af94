//! From a finished request to its audit event (CloudTrail record), and the fail-closed rule.
//!
//! The event is built after the operation ran (success or error) and before the reply; if the trail cannot
//! take it, the reply becomes a `KMSInternalException`. Request parameters and response elements come from
//! the already-read JSON through the typed allow-lists of `trent_audit::event`, so a secret member
//! (Plaintext, CiphertextBlob...) is skipped by the parser and never copied.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use trent_audit::event::KMS_EVENT_SOURCE;
use trent_audit::{AuditEvent, AuditSink, RequestParameters, Resource, ResponseElements, TlsDetails, UserIdentity};
use trent_core::KmsError;
use trent_core::service::{Caller, DelegatedCall};

use crate::error::ApiError;
use crate::kms::Operation;

/// What is known about a request before it is handled; taken from the request only when auditing is on.
pub(crate) struct RequestInfo {
    target: Option<String>,
    /// `iam` or `sts` for a Query-protocol (form body) request.
    query_service: Option<&'static str>,
    user_agent: Option<String>,
    source_ip: Option<String>,
    /// As claimed in the signature's credential scope; recorded only once the signature verified.
    access_key_id: Option<String>,
    tls: Option<crate::TlsSession>,
    host: Option<String>,
}

impl RequestInfo {
    pub(crate) fn from_request(req: &axum::extract::Request) -> Self {
        let headers = req.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self {
            target: text("x-amz-target"),
            query_service: crate::iam::query_service(headers, req.uri()),
            user_agent: text("user-agent"),
            source_ip: req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
            access_key_id: credential_access_key(headers, req.uri().query()),
            tls: req.extensions().get::<crate::Transport>().and_then(|t| t.tls),
            host: text("host"),
        }
    }
}

/// What `handle` learned on the way: the body it read and the caller it authenticated.
#[derive(Default)]
pub(crate) struct Facts {
    pub(crate) body: Option<Bytes>,
    pub(crate) caller: Option<Caller>,
    /// KMS calls a service (Parameter Store) made for the caller while handling the request.
    pub(crate) delegated: Vec<DelegatedCall>,
}

/// Records the request's event; on failure, turns the outcome into an internal error (fail closed).
pub(crate) async fn record(
    sink: &AuditSink,
    region: &str,
    info: RequestInfo,
    facts: Facts,
    request_id: &str,
    result: Result<Vec<u8>, ApiError>,
) -> Result<Vec<u8>, ApiError> {
    let mut events = delegated_events(region, &info, &facts, request_id);
    events.push(build_event(region, info, facts, request_id, &result));
    for event in &events {
        if let Err(f) = sink.record(event).await {
            // The detail goes to the log through the internal error; the caller gets the generic text.
            return Err(ApiError::Kms(KmsError::internal(format!("audit trail: {f}"))));
        }
    }
    result
}

/// The KMS events of the calls a service made for the caller, as CloudTrail shows them: the caller's identity
/// `invokedBy` the service, whose name also stands as source address and user agent. They share the
/// originating request's id, so a search by request id finds the whole chain.
fn delegated_events(region: &str, info: &RequestInfo, facts: &Facts, request_id: &str) -> Vec<AuditEvent> {
    let (Some(caller), Some(service)) = (&facts.caller, info.target.as_deref().and_then(delegating_service)) else {
        return Vec::new();
    };
    let account = caller.account.to_string();
    facts
        .delegated
        .iter()
        .map(|call| {
            let mut e = AuditEvent::api_call(KMS_EVENT_SOURCE, call.operation, region);
            e.request_id = Some(request_id.to_owned());
            e.source_ip_address = Some(service.to_owned());
            e.user_agent = Some(service.to_owned());
            e.read_only = true;
            e.user_identity = UserIdentity::principal(&account, &caller.principal_arn, info.access_key_id.as_deref());
            e.user_identity.invoked_by = Some(service.to_owned());
            e.recipient_account_id = Some(account.clone());
            e.request_parameters = Some(RequestParameters {
                key_id: call.key_id.clone(),
                encryption_context: Some(call.context.clone()),
                encryption_algorithm: (call.operation != "GenerateDataKey").then(|| "SYMMETRIC_DEFAULT".to_owned()),
                key_spec: (call.operation == "GenerateDataKey").then(|| "AES_256".to_owned()),
                ..RequestParameters::default()
            });
            if let Some((code, message)) = &call.error {
                e.error_code = Some((*code).to_owned());
                e.error_message = message.clone();
            }
            if let Some(arn) = &call.key_arn {
                e.resources.push(Resource::kms_key(arn));
            }
            e
        })
        .collect()
}

/// The service principal behind a request's delegated KMS calls.
fn delegating_service(target: &str) -> Option<&'static str> {
    target.starts_with("AmazonSSM.").then_some("ssm.amazonaws.com")
}

fn build_event(
    region: &str,
    info: RequestInfo,
    facts: Facts,
    request_id: &str,
    result: &Result<Vec<u8>, ApiError>,
) -> AuditEvent {
    let target = info.target.as_deref().unwrap_or("");
    let query_source;
    let (source, op_name) = match (info.query_service, target.split_once('.')) {
        (Some(service), _) => {
            // IAM/STS: the operation is the form body's `Action`; parameters come through their own allow-list.
            query_source = format!("{service}.amazonaws.com");
            let body = facts.body.as_deref().unwrap_or_default();
            let action = body.split(|&b| b == b'&').find_map(|kv| kv.strip_prefix(b"Action=")).unwrap_or_default();
            (query_source.as_str(), std::str::from_utf8(action).unwrap_or(""))
        }
        (None, Some(("TrentService", op))) => (KMS_EVENT_SOURCE, op),
        (None, Some(("AmazonSSM", op))) => ("ssm.amazonaws.com", op),
        (None, _) if crate::cloudtrail::operation(target).is_some() => {
            ("cloudtrail.amazonaws.com", crate::cloudtrail::operation(target).unwrap_or_default())
        }
        _ => (KMS_EVENT_SOURCE, ""),
    };
    // The name is client-supplied: keep it only if it looks like an operation name.
    let op_name = if !op_name.is_empty() && op_name.len() <= 64 && op_name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        op_name
    } else {
        "Unknown"
    };
    let op = (source == KMS_EVENT_SOURCE).then(|| Operation::from_name(op_name)).flatten();
    let mut e = AuditEvent::api_call(source, op_name, region);
    e.request_id = Some(request_id.to_owned());
    e.source_ip_address = info.source_ip;
    e.user_agent = info.user_agent;
    e.read_only = is_read_only(op_name);
    e.tls_details = info.tls.map(|t| TlsDetails {
        tls_version: t.version.to_owned(),
        cipher_suite: t.cipher_suite.to_owned(),
        client_provided_host_header: info.host,
    });
    if let Some(c) = &facts.caller {
        let account = c.account.to_string();
        e.user_identity = UserIdentity::principal(&account, &c.principal_arn, info.access_key_id.as_deref());
        e.recipient_account_id = Some(account);
    }
    // Parameters only of an authenticated request: an unsigned body is anyone's text.
    let body = facts.caller.as_ref().and(facts.body.as_deref());
    let params = match info.query_service {
        None => body.and_then(RequestParameters::from_kms_json),
        Some(_) => body.map(|b| RequestParameters::from_query_form(&crate::iam::xml::parse_form(b))),
    };
    let mut key_arn = None;
    match result {
        Ok(body) => {
            if let Some(r) = ResponseElements::from_kms_json(body) {
                key_arn = r.key_arn().map(str::to_owned);
                // As AWS: the cryptographic operations log no response elements.
                if !op.is_some_and(Operation::is_hot_path)
                    && (r.key_id.is_some() || r.key_metadata.is_some() || r.key_state.is_some())
                {
                    e.response_elements = Some(r);
                }
            }
        }
        Err(err) => {
            e.error_code = Some(err.aws_type().to_owned());
            e.error_message = error_message(err);
        }
    }
    let key_arn = key_arn.or_else(|| {
        let key_id = params.as_ref().and_then(|p| p.key_id.as_deref())?;
        if key_id.starts_with("arn:") && key_id.contains(":key/") {
            return Some(key_id.to_owned());
        }
        // A bare key id names a key of the caller's account in this region (aliases would need a lookup).
        let account = facts.caller.as_ref()?.account.to_string();
        is_key_uuid(key_id).then(|| format!("arn:aws:kms:{region}:{account}:key/{key_id}"))
    });
    if let Some(arn) = key_arn {
        let r = Resource::kms_key(&arn);
        if e.recipient_account_id.is_none() {
            e.recipient_account_id = r.account_id.clone();
        }
        e.resources.push(r);
    }
    e.request_parameters = params;
    e
}

/// The message the client receives, as sent on the wire (generic for internal errors).
fn error_message(err: &ApiError) -> Option<String> {
    match err {
        ApiError::Kms(e) => e.public_message(),
        ApiError::Ssm(e) => Some(e.public_message()),
        ApiError::Iam(e) => Some(e.public_message()),
        ApiError::Auth(e) => Some(e.message()),
        ApiError::Serialization(m) => m.clone(),
        ApiError::UnknownOperation => None,
        ApiError::CloudTrail { message, .. } => Some(message.clone()),
        ApiError::Throttling(m) | ApiError::RequestTimeout(m) => Some(m.clone()),
    }
}

/// `1234abcd-12ab-34cd-56ef-1234567890ab`: the shape of a KMS key id.
fn is_key_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes()
            .enumerate()
            .all(|(i, b)| if matches!(i, 8 | 13 | 18 | 23) { b == b'-' } else { b.is_ascii_hexdigit() })
}

/// CloudTrail's `readOnly`: reads and the cryptographic operations, which change no state.
fn is_read_only(op: &str) -> bool {
    op.starts_with("Describe")
        || op.starts_with("List")
        || op.starts_with("Get")
        || matches!(
            op,
            "Encrypt"
                | "Decrypt"
                | "ReEncrypt"
                | "GenerateDataKey"
                | "GenerateDataKeyWithoutPlaintext"
                | "GenerateDataKeyPair"
                | "GenerateDataKeyPairWithoutPlaintext"
                | "GenerateRandom"
                | "GenerateMac"
                | "VerifyMac"
                | "Sign"
                | "Verify"
                | "DeriveSharedSecret"
                | "LookupEvents"
        )
}

/// The access key id of `Credential=AKID/date/region/service/aws4_request` (header or presigned query).
fn credential_access_key(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let from_header = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1));
    let from_query = || query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("X-Amz-Credential=")));
    let cred = from_header.or_else(from_query)?;
    let id = cred.split(['/', '%']).next()?;
    (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| id.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use trent_core::ids::AccountId;

    fn info(target: &str) -> RequestInfo {
        RequestInfo {
            target: Some(target.into()),
            query_service: None,
            user_agent: Some("ua".into()),
            source_ip: Some("127.0.0.1".into()),
            access_key_id: Some("AKIATEST".into()),
            tls: None,
            host: None,
        }
    }

    fn caller() -> Caller {
        let account = AccountId::parse("111122223333").unwrap();
        Caller::root(account)
    }

    #[test]
    fn encrypt_event_has_identity_context_resource_and_no_secrets() {
        let body = br#"{"KeyId":"alias/a","Plaintext":"U0VDUkVU","EncryptionContext":{"k":"v"}}"#;
        let facts = Facts { body: Some(Bytes::from_static(body)), caller: Some(caller()), delegated: Vec::new() };
        let resp = br#"{"CiphertextBlob":"QkxPQg==","KeyId":"arn:aws:kms:us-east-1:111122223333:key/abc"}"#.to_vec();
        let e = build_event("us-east-1", info("TrentService.Encrypt"), facts, "r1", &Ok(resp));
        let json = e.to_json().unwrap();
        assert!(!json.contains("U0VDUkVU") && !json.contains("QkxPQg=="), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["eventName"], "Encrypt");
        assert_eq!(v["readOnly"], true);
        assert_eq!(v["userIdentity"]["type"], "Root");
        assert_eq!(v["userIdentity"]["accessKeyId"], "AKIATEST");
        assert_eq!(v["requestParameters"]["encryptionContext"]["k"], "v");
        assert!(v["responseElements"].is_null());
        assert_eq!(v["resources"][0]["ARN"], "arn:aws:kms:us-east-1:111122223333:key/abc");
        assert_eq!(v["recipientAccountId"], "111122223333");
    }

    #[test]
    fn unauthenticated_event_has_error_and_no_identity_or_parameters() {
        let facts = Facts { body: Some(Bytes::from_static(br#"{"KeyId":"k"}"#)), caller: None, delegated: Vec::new() };
        let err = ApiError::Auth(crate::auth::AuthError::UnrecognizedClient);
        let e = build_event("us-east-1", info("TrentService.Decrypt"), facts, "r2", &Err(err));
        let v: serde_json::Value = serde_json::from_str(&e.to_json().unwrap()).unwrap();
        assert_eq!(v["errorCode"], "UnrecognizedClientException");
        assert_eq!(v["userIdentity"]["type"], "Unknown");
        assert!(v["userIdentity"].get("accessKeyId").is_none());
        assert!(v["requestParameters"].is_null());
        assert_eq!(v["sourceIPAddress"], "127.0.0.1");
    }

    #[test]
    fn iam_event_takes_allow_listed_form_parameters_only() {
        let body = "Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=p1&PolicyDocument=%7B%22Statement%22%3A%5B%5D%7D&Password=hunter2";
        let facts =
            Facts { body: Some(Bytes::from_static(body.as_bytes())), caller: Some(caller()), delegated: Vec::new() };
        let mut i = info("");
        i.target = None;
        i.query_service = Some("iam");
        let e = build_event("us-east-1", i, facts, "r3", &Ok(Vec::new()));
        let json = e.to_json().unwrap();
        assert!(!json.contains("hunter2") && !json.contains("Statement"), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["eventSource"], "iam.amazonaws.com");
        assert_eq!(v["eventName"], "PutUserPolicy");
        assert_eq!(v["requestParameters"], serde_json::json!({"userName": "alice", "policyName": "p1"}));
    }

    #[test]
    fn access_key_is_read_from_the_credential_scope() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAX/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=ab"
                .parse()
                .unwrap(),
        );
        assert_eq!(credential_access_key(&h, None).as_deref(), Some("AKIAX"));
        let q = "X-Amz-Credential=AKIAY%2F20260101%2Fus-east-1%2Fkms%2Faws4_request&X-Amz-Signature=00";
        assert_eq!(credential_access_key(&HeaderMap::new(), Some(q)).as_deref(), Some("AKIAY"));
    }

    #[test]
    fn a_bare_key_id_becomes_the_resource_arn() {
        let id = "1d0a9b68-2d8f-4d8b-81a1-c3675a8441ab";
        let body = format!(r#"{{"KeyId":"{id}"}}"#);
        let facts = Facts { body: Some(Bytes::from(body)), caller: Some(caller()), delegated: Vec::new() };
        let e = build_event("eu-west-1", info("TrentService.DisableKey"), facts, "r3", &Ok(b"{}".to_vec()));
        assert_eq!(e.resources[0].arn, format!("arn:aws:kms:eu-west-1:111122223333:key/{id}"));
        assert!(!e.read_only);
        assert!(!is_key_uuid("alias/x"));
    }

    #[test]
    fn query_requests_are_named_by_action_with_allow_listed_parameters() {
        let mut i = info("");
        i.target = None;
        i.query_service = Some("iam");
        let body = Bytes::from_static(b"Action=CreateUser&UserName=alice&Version=2010-05-08");
        let facts = Facts { body: Some(body), caller: Some(caller()), delegated: Vec::new() };
        let e = build_event("us-east-1", i, facts, "r4", &Ok(b"<xml/>".to_vec()));
        assert_eq!((e.event_source.as_str(), e.event_name.as_str()), ("iam.amazonaws.com", "CreateUser"));
        let params = serde_json::to_value(e.request_parameters.as_ref().unwrap()).unwrap();
        assert_eq!(params, serde_json::json!({"userName": "alice"}));
        assert!(e.response_elements.is_none());
    }
}
