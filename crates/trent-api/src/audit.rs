//! From a finished request to its audit event (CloudTrail record), and the fail-closed rule.
//!
//! The event is built after the operation ran (success or error) and before the reply; if the trail cannot
//! take it, the reply becomes a `KMSInternalException`. A KMS operation that ran is recorded from what its
//! handler noted (`kms::KmsFacts`: the parsed request's allow-listed members, the key it resolved, the
//! response elements), so the trail reads no JSON on that path. What has no such facts (a request refused
//! before its operation ran or whose body did not parse, SSM and CloudTrail, the KMS handlers listed by
//! `Operation::audit_from_json`) is read leniently from the body (`crate::audit_json`), IAM and STS from their
//! form. Either way only allow-listed members reach the event: it has no field for a secret.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use trent_audit::event::{KMS_EVENT_SOURCE, fresh_uuid};
use trent_audit::{
    AssumedRoleUser, AuditEvent, AuditSink, IssuedCredentials, RequestParameters, Reservation, Resource,
    ResponseElements, TlsDetails, UserIdentity,
};
use trent_core::KmsError;
use trent_core::identity::PrincipalIdentity;
use trent_core::service::{Caller, DelegatedCall};

use crate::error::ApiError;
use crate::kms::{KmsFacts, Operation};

/// What is known about a request before it is handled; taken from the request only when auditing is on.
pub(crate) struct RequestInfo {
    target: Option<String>,
    /// The request's protocol, as the router worked it out.
    protocol: crate::protocol::Protocol,
    user_agent: Option<String>,
    source_ip: Option<String>,
    /// As claimed in the signature's credential scope; recorded only once the signature verified.
    access_key_id: Option<String>,
    tls: Option<crate::TlsSession>,
    host: Option<String>,
}

impl RequestInfo {
    pub(crate) fn from_request(req: &axum::extract::Request, route: crate::protocol::Route) -> Self {
        let headers = req.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Self {
            target: text("x-amz-target"),
            protocol: route.protocol,
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
    /// The operation the request was parsed into, once it was: the name it is recorded under is the one the
    /// dispatcher ran.
    pub(crate) operation: Option<Named>,
    /// A state-changing operation's place in the trail, taken before it ran (`AuditSink::reserve`).
    pub(crate) reservation: Option<Reservation>,
    /// What the KMS handler noted of the request and its outcome, once the operation ran.
    pub(crate) kms: Option<KmsFacts>,
}

/// A parsed operation as the trail names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Named {
    source: &'static str,
    name: &'static str,
    read_only: bool,
    /// The KMS operation, whose kind decides which response elements are recorded.
    kms: Option<Operation>,
}

impl Named {
    /// CloudTrail's `readOnly`: whether the operation changes no state.
    pub(crate) fn read_only(&self) -> bool {
        self.read_only
    }

    pub(crate) fn kms(op: Operation) -> Self {
        Self { source: KMS_EVENT_SOURCE, name: op.name(), read_only: op.is_read_only(), kms: Some(op) }
    }

    pub(crate) fn ssm(op: crate::ssm::Operation) -> Self {
        Self { source: "ssm.amazonaws.com", name: op.name(), read_only: op.is_read_only(), kms: None }
    }

    pub(crate) fn query(op: crate::iam::QueryOperation) -> Self {
        Self { source: op.event_source(), name: op.name(), read_only: op.is_read_only(), kms: None }
    }

    pub(crate) fn cloudtrail(op: crate::cloudtrail::Operation) -> Self {
        Self { source: "cloudtrail.amazonaws.com", name: op.name(), read_only: op.is_read_only(), kms: None }
    }
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
    let mut facts = facts;
    let reservation = facts.reservation.take();
    let mut events = delegated_events(region, &info, &facts, request_id);
    events.push(build_event(region, info, facts, request_id, &result));
    let events = with_owner_copies(events);
    let recorded = match reservation {
        // The change committed: its record goes into the place reserved for it before it ran, and is waited for
        // longer than a read's, since an error now would tell the client that nothing happened.
        Some(reservation) if result.is_ok() => sink.record_committed(&events, reservation).await,
        // Nothing changed (a read, or a change that failed): the events are recorded like any other, after the
        // unused reservation has given its slots back.
        unused => {
            drop(unused);
            record_all(sink, &events).await
        }
    };
    if let Err(f) = recorded {
        // The detail goes to the log through the internal error; the caller gets the generic text.
        return Err(ApiError::Kms(KmsError::internal(format!("audit trail: {f}"))));
    }
    result
}

async fn record_all(sink: &AuditSink, events: &[AuditEvent]) -> Result<(), trent_audit::AuditFailure> {
    for event in events {
        sink.record(event).await?;
    }
    Ok(())
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
            e.user_identity = user_identity(caller, info.access_key_id.as_deref());
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
    let (source, op_name, read_only, op) = match facts.operation {
        Some(n) => (n.source, n.name.to_owned(), n.read_only, n.kms),
        // Not parsed (refused before, or no such operation): the name the client sent, if it looks like one.
        None => {
            let (source, claimed) = claimed_operation(&info, facts.body.as_deref());
            (source, claimed, false, None)
        }
    };
    let op_name = op_name.as_str();
    let mut e = AuditEvent::api_call(source, op_name, region);
    e.request_id = Some(request_id.to_owned());
    e.source_ip_address = info.source_ip;
    e.user_agent = info.user_agent;
    e.read_only = read_only;
    e.tls_details = info.tls.map(|t| TlsDetails {
        tls_version: t.version.to_owned(),
        cipher_suite: t.cipher_suite.to_owned(),
        client_provided_host_header: info.host,
    });
    if let Some(c) = &facts.caller {
        e.user_identity = user_identity(c, info.access_key_id.as_deref());
        e.recipient_account_id = Some(c.account.to_string());
    }
    // The handler's notes, for a KMS operation whose handler takes them (the others are read from JSON).
    let noted = facts.kms.filter(|_| op.is_some_and(|o| !o.audit_from_json()));
    let typed = noted.is_some();
    let noted = noted.unwrap_or_default();
    // Parameters only of an authenticated request: an unsigned body is anyone's text.
    let body = facts.caller.as_ref().and(facts.body.as_deref());
    let params = match info.protocol.is_query() {
        // Read from the body only when the handler did not get as far as parsing it.
        false => noted.params.or_else(|| body.and_then(crate::audit_json::request_parameters)),
        true => body.map(|b| RequestParameters::from_query_form(&crate::iam::xml::parse_form(b))),
    };
    // The key the handler resolved: on success, or before the request failed if it got that far.
    let mut key_arn = noted.key_arn;
    match result {
        Ok(body) => {
            let response = if typed { noted.response } else { crate::audit_json::response_elements(body) };
            if let Some(r) = response {
                key_arn = key_arn.or_else(|| r.key_arn().map(str::to_owned));
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
    if let Some(c) = &facts.caller {
        alias_resources(&mut e, region, &c.account.to_string(), result.is_ok());
    }
    if e.event_name == "AssumeRole"
        && let Ok(xml) = result
    {
        e.response_elements = assume_role_response(xml);
    }
    e
}

/// CloudTrail's `userIdentity` of an authenticated caller, from what authentication found (its unique ids):
/// `Root`, `IAMUser` (`AIDA...`, userName), or `AssumedRole` (`AROA...:<session>`, with the issuing role
/// in `sessionContext`).
fn user_identity(caller: &Caller, access_key_id: Option<&str>) -> UserIdentity {
    let account = caller.account.to_string();
    match caller.identity.as_deref() {
        Some(PrincipalIdentity::Root) => UserIdentity::root(&account, access_key_id),
        Some(PrincipalIdentity::User { user_id }) => {
            UserIdentity::iam_user(&account, &caller.principal_arn, user_id, access_key_id)
        }
        Some(PrincipalIdentity::Session { role_id, role_arn, issued }) => {
            let issued = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(issued.0).unwrap_or(0));
            UserIdentity::assumed_role(&account, &caller.principal_arn, access_key_id, role_id, role_arn, issued)
        }
        None => UserIdentity::principal(&account, &caller.principal_arn, access_key_id),
    }
}

/// AWS records a cross-account KMS call in both accounts: the caller's event, and a copy for the key's owner
/// with `recipientAccountId` the owner's account and the caller shown as `AWSAccount` (its principal id and
/// account only). Both copies have their own `eventID` and share a `sharedEventID`. Refused attempts are
/// delivered too: the owner sees who probes its keys. (Security review finding 10.)
fn with_owner_copies(events: Vec<AuditEvent>) -> Vec<AuditEvent> {
    let mut out = Vec::with_capacity(events.len());
    for mut e in events {
        let owner = key_owner(&e).filter(|owner| e.recipient_account_id.as_deref().is_some_and(|r| r != owner));
        let Some(owner) = owner else {
            out.push(e);
            continue;
        };
        let shared = fresh_uuid();
        e.shared_event_id = Some(shared);
        let mut copy = e.clone();
        copy.event_id = fresh_uuid();
        copy.recipient_account_id = Some(owner);
        copy.user_identity = e.user_identity.other_account();
        out.push(e);
        out.push(copy);
    }
    out
}

/// The account owning the KMS key (or alias) an event acted on: its resources' account, or the account of a
/// key or alias ARN in its parameters (a refused call has no resolved key). For AssumeRole, the role's
/// account: CloudTrail delivers a cross-account AssumeRole to the role's owner as well.
fn key_owner(e: &AuditEvent) -> Option<String> {
    let is_account = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    if e.event_source == "sts.amazonaws.com" && e.event_name == "AssumeRole" {
        let role = e.request_parameters.as_ref()?.role_arn.as_deref()?;
        let account = role.strip_prefix("arn:aws:iam::")?.split(':').next()?;
        return is_account(account).then(|| account.to_owned());
    }
    if e.event_source != KMS_EVENT_SOURCE {
        return None;
    }
    if let Some(account) = e.resources.iter().find_map(|r| r.account_id.clone()) {
        return Some(account);
    }
    let key_id = e.request_parameters.as_ref()?.key_id.as_deref()?;
    let rest = key_id.strip_prefix("arn:aws:kms:")?;
    let account = rest.split(':').nth(1)?;
    is_account(account).then(|| account.to_owned())
}

/// CreateAlias, UpdateAlias and DeleteAlias name the alias and its key in `resources`, and on success the key
/// ARN as `responseElements.keyId` (the KMS guide's CloudTrail examples; AWS adds it though the operations
/// return nothing). The key is the request's `targetKeyId`; aliases and their keys are in the caller's
/// account.
fn alias_resources(e: &mut AuditEvent, region: &str, account: &str, succeeded: bool) {
    if e.event_source != KMS_EVENT_SOURCE
        || !matches!(e.event_name.as_str(), "CreateAlias" | "UpdateAlias" | "DeleteAlias")
    {
        return;
    }
    let Some(p) = e.request_parameters.as_ref() else { return };
    let alias_arn = p
        .alias_name
        .as_deref()
        .filter(|a| a.starts_with("alias/"))
        .map(|a| format!("arn:aws:kms:{region}:{account}:{a}"));
    let key_arn = p.target_key_id.as_deref().and_then(|k| {
        if k.starts_with("arn:aws:kms:") && k.contains(":key/") {
            Some(k.to_owned())
        } else {
            is_key_uuid(k).then(|| format!("arn:aws:kms:{region}:{account}:key/{k}"))
        }
    });
    // DeleteAlias names no key: the key it pointed to is the resource the handler noted.
    let noted = e.resources.iter().find(|r| r.arn.contains(":key/")).map(|r| r.arn.clone());
    let key_arn = key_arn.or(noted.filter(|_| e.event_name == "DeleteAlias"));
    e.resources.clear();
    let key = key_arn.as_deref().map(Resource::kms_key);
    // An alias is typed as a key resource in CloudTrail's examples.
    let alias = alias_arn.as_deref().map(Resource::kms_key);
    let ordered = if e.event_name == "CreateAlias" { [key, alias] } else { [alias, key] };
    e.resources.extend(ordered.into_iter().flatten());
    if succeeded
        && e.event_name != "DeleteAlias"
        && let Some(k) = key_arn
    {
        e.response_elements = Some(ResponseElements { key_id: Some(k), ..ResponseElements::default() });
    }
}

/// AssumeRole's responseElements from the response sent: the access key id, the expiry and the assumed-role
/// user. The secret access key and the session token are left out: whoever reads the trail must not be able
/// to act as the session (AWS records the token; Trent does not).
fn assume_role_response(xml: &[u8]) -> Option<ResponseElements> {
    let text = std::str::from_utf8(xml).ok()?;
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let len = text[start..].find(&format!("</{name}>"))?;
        Some(text[start..start + len].to_owned())
    };
    let user = text.find("<AssumedRoleUser>").map(|at| &text[at..])?;
    let user_arn = user.split_once("<Arn>")?.1.split_once("</Arn>")?.0.to_owned();
    let expiration = trent_audit::search::parse_time(&tag("Expiration")?)?;
    Some(ResponseElements {
        credentials: Some(IssuedCredentials {
            access_key_id: tag("AccessKeyId")?,
            expiration: trent_audit::event::format_sts_expiration(expiration),
        }),
        assumed_role_user: Some(AssumedRoleUser { assumed_role_id: tag("AssumedRoleId")?, arn: user_arn }),
        ..ResponseElements::default()
    })
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

/// The event source and operation name a request claims, for a request that never became a typed operation
/// (refused before it was parsed, or naming no operation Trent has). The name is client-supplied: it is kept
/// only if it looks like an operation name, else recorded as `Unknown`.
fn claimed_operation(info: &RequestInfo, body: Option<&[u8]>) -> (&'static str, String) {
    use crate::protocol::Protocol;
    let target = info.target.as_deref().unwrap_or("");
    let claimed = match info.protocol {
        // The same decoding the dispatcher uses, so what is recorded is what would have run.
        Protocol::Iam | Protocol::Sts => body.and_then(crate::iam::QueryRequest::raw_action),
        Protocol::Kms => target.strip_prefix(crate::kms::TARGET_PREFIX).map(str::to_owned),
        Protocol::Ssm => target.strip_prefix(crate::ssm::TARGET_PREFIX).map(str::to_owned),
        Protocol::CloudTrail => crate::cloudtrail::operation(target).map(str::to_owned),
    };
    let name = claimed
        .filter(|n| !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "Unknown".to_owned());
    (info.protocol.event_source(), name)
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
#[path = "audit_bench.rs"]
mod bench;

#[cfg(test)]
#[path = "audit_typed_tests.rs"]
mod typed_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use trent_core::ids::AccountId;

    fn target_header(target: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if !target.is_empty() {
            h.insert("x-amz-target", target.parse().unwrap());
        }
        h
    }

    fn info(target: &str) -> RequestInfo {
        RequestInfo {
            target: Some(target.into()),
            protocol: crate::protocol::Route::of(&target_header(target), &"/".parse().unwrap()).protocol,
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
        let facts = Facts {
            body: Some(Bytes::from_static(body)),
            caller: Some(caller()),
            delegated: Vec::new(),
            operation: Some(Named::kms(Operation::Encrypt)),
            reservation: None,
            kms: None,
        };
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
        let facts = Facts {
            body: Some(Bytes::from_static(br#"{"KeyId":"k"}"#)),
            caller: None,
            delegated: Vec::new(),
            operation: None,
            reservation: None,
            kms: None,
        };
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
        let facts = Facts {
            body: Some(Bytes::from_static(body.as_bytes())),
            caller: Some(caller()),
            delegated: Vec::new(),
            operation: None,
            reservation: None,
            kms: None,
        };
        let mut i = info("");
        i.target = None;
        i.protocol = crate::protocol::Protocol::Iam;
        let e = build_event("us-east-1", i, facts, "r3", &Ok(Vec::new()));
        let json = e.to_json().unwrap();
        assert!(!json.contains("hunter2") && !json.contains("Statement"), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["eventSource"], "iam.amazonaws.com");
        assert_eq!(v["eventName"], "PutUserPolicy");
        assert_eq!(v["requestParameters"], serde_json::json!({"userName": "alice", "policyName": "p1"}));
    }

    /// Security review finding 7: `Act%69on` decodes to `Action`, so this body names two actions. The first
    /// one runs, and the trail must record that one, as a write.
    #[test]
    fn a_query_request_is_recorded_under_the_operation_that_ran() {
        let body = Bytes::from_static(b"Act%69on=CreateAccessKey&Action=ListUsers&Version=2010-05-08&UserName=nobody");
        let request = crate::iam::QueryRequest::parse("iam", &body).unwrap();
        assert_eq!(request.operation.name(), "CreateAccessKey");
        let facts = Facts {
            body: Some(body),
            caller: Some(caller()),
            delegated: Vec::new(),
            operation: Some(Named::query(request.operation)),
            reservation: None,
            kms: None,
        };
        let mut i = info("");
        i.target = None;
        i.protocol = crate::protocol::Protocol::Iam;
        let e = build_event("us-east-1", i, facts, "r5", &Ok(b"<xml/>".to_vec()));
        assert_eq!((e.event_name.as_str(), e.read_only), ("CreateAccessKey", false));
        // A request that never parsed is recorded under the same decoding.
        let facts = Facts {
            body: Some(Bytes::from_static(b"Action=Create%41ccessKey&UserName=x")),
            caller: Some(caller()),
            ..Facts::default()
        };
        let mut i = info("");
        i.target = None;
        i.protocol = crate::protocol::Protocol::Iam;
        let e = build_event("us-east-1", i, facts, "r6", &Err(ApiError::UnknownOperation));
        assert_eq!((e.event_name.as_str(), e.read_only), ("CreateAccessKey", false));
    }

    fn with_identity(mut c: Caller, identity: PrincipalIdentity) -> Caller {
        c.identity = Some(std::sync::Arc::new(identity));
        c
    }

    fn event_json(target: &str, caller: Caller, body: &str, result: Result<Vec<u8>, ApiError>) -> serde_json::Value {
        let facts = Facts {
            body: Some(Bytes::from(body.to_owned())),
            caller: Some(caller),
            delegated: Vec::new(),
            operation: None,
            reservation: None,
            kms: None,
        };
        let e = build_event("us-east-1", info(target), facts, "r", &result);
        serde_json::from_str(&e.to_json().unwrap()).unwrap()
    }

    /// Issue 15 item 2: each identity type field by field as CloudTrail's userIdentity element.
    #[test]
    fn identities_are_recorded_as_cloudtrail_shapes_them() {
        let acct = AccountId::parse("111122223333").unwrap();
        let root = with_identity(caller(), PrincipalIdentity::Root);
        let v = event_json("TrentService.ListKeys", root, "{}", Ok(b"{}".to_vec()));
        assert_eq!(
            v["userIdentity"],
            serde_json::json!({"type": "Root", "principalId": "111122223333",
                "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333", "accessKeyId": "AKIATEST"})
        );

        let alice = Caller::new(acct.clone(), "arn:aws:iam::111122223333:user/eng/alice");
        let alice = with_identity(alice, PrincipalIdentity::User { user_id: "AIDAABCDEFGHIJKLMNOPQ".into() });
        let v = event_json("TrentService.ListKeys", alice, "{}", Ok(b"{}".to_vec()));
        assert_eq!(
            v["userIdentity"],
            serde_json::json!({"type": "IAMUser", "principalId": "AIDAABCDEFGHIJKLMNOPQ",
                "arn": "arn:aws:iam::111122223333:user/eng/alice", "accountId": "111122223333",
                "accessKeyId": "AKIATEST", "userName": "alice"})
        );

        let session = Caller::new(acct, "arn:aws:sts::111122223333:assumed-role/app/s1");
        let session = with_identity(
            session,
            PrincipalIdentity::Session {
                role_id: "AROAABCDEFGHIJKLMNOPQ".into(),
                role_arn: "arn:aws:iam::111122223333:role/team/app".into(),
                issued: trent_core::model::Timestamp(1_796_101_476_000),
            },
        );
        let v = event_json("TrentService.ListKeys", session, "{}", Ok(b"{}".to_vec()));
        assert_eq!(
            v["userIdentity"],
            serde_json::json!({"type": "AssumedRole", "principalId": "AROAABCDEFGHIJKLMNOPQ:s1",
                "arn": "arn:aws:sts::111122223333:assumed-role/app/s1", "accountId": "111122223333",
                "accessKeyId": "AKIATEST",
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": "AROAABCDEFGHIJKLMNOPQ",
                        "arn": "arn:aws:iam::111122223333:role/team/app", "accountId": "111122223333",
                        "userName": "app"},
                    "attributes": {"creationDate": "2026-12-01T05:04:36Z", "mfaAuthenticated": "false"}}})
        );
    }

    /// Finding 10: a call on another account's key is delivered to both accounts, refused or not.
    #[test]
    fn cross_account_calls_are_delivered_to_the_key_owner_too() {
        let b = AccountId::parse("444455556666").unwrap();
        let bob = with_identity(
            Caller::new(b, "arn:aws:iam::444455556666:user/bob"),
            PrincipalIdentity::User { user_id: "AIDABOBBOBBOBBOBBOBBO".into() },
        );
        let key = "arn:aws:kms:us-east-1:111122223333:key/1d0a9b68-2d8f-4d8b-81a1-c3675a8441ab";
        for result in [Ok(b"{}".to_vec()), Err(ApiError::Kms(KmsError::AccessDenied("no".into())))] {
            let facts = Facts {
                body: Some(Bytes::from(format!(r#"{{"KeyId":"{key}"}}"#))),
                caller: Some(bob.clone()),
                delegated: Vec::new(),
                operation: None,
                reservation: None,
                kms: None,
            };
            let events = with_owner_copies(vec![build_event(
                "us-east-1",
                info("TrentService.DescribeKey"),
                facts,
                "r",
                &result,
            )]);
            assert_eq!(events.len(), 2);
            let (mine, theirs) = (&events[0], &events[1]);
            assert_eq!(mine.recipient_account_id.as_deref(), Some("444455556666"));
            assert_eq!(theirs.recipient_account_id.as_deref(), Some("111122223333"));
            assert_ne!(mine.event_id, theirs.event_id);
            assert!(mine.shared_event_id.is_some() && mine.shared_event_id == theirs.shared_event_id);
            assert_eq!(mine.user_identity.kind, "IAMUser");
            let v: serde_json::Value = serde_json::from_str(&theirs.to_json().unwrap()).unwrap();
            assert_eq!(
                v["userIdentity"],
                serde_json::json!({"type": "AWSAccount", "principalId": "AIDABOBBOBBOBBOBBOBBO",
                    "accountId": "444455556666"})
            );
            assert_eq!(v["resources"][0]["ARN"], key);
            assert_eq!(v["errorCode"].is_null(), result.is_ok());
        }
        // A same-account call is one event, without sharedEventID.
        let facts = Facts {
            body: Some(Bytes::from(format!(r#"{{"KeyId":"{key}"}}"#))),
            caller: Some(caller()),
            delegated: Vec::new(),
            operation: None,
            reservation: None,
            kms: None,
        };
        let events = with_owner_copies(vec![build_event(
            "us-east-1",
            info("TrentService.DescribeKey"),
            facts,
            "r",
            &Ok(b"{}".to_vec()),
        )]);
        assert_eq!(events.len(), 1);
        assert!(events[0].shared_event_id.is_none());
    }

    /// Issue 15 item 3: alias operations name the alias and the key, as the KMS guide's CloudTrail examples.
    #[test]
    fn alias_events_list_alias_and_key() {
        let id = "1d0a9b68-2d8f-4d8b-81a1-c3675a8441ab";
        let key = format!("arn:aws:kms:us-east-1:111122223333:key/{id}");
        let alias = "arn:aws:kms:us-east-1:111122223333:alias/prod";
        let body = format!(r#"{{"AliasName":"alias/prod","TargetKeyId":"{id}"}}"#);
        let v = event_json("TrentService.CreateAlias", caller(), &body, Ok(b"{}".to_vec()));
        assert_eq!(v["resources"][0]["ARN"], key.as_str());
        assert_eq!(v["resources"][1]["ARN"], alias);
        assert_eq!(v["resources"][1]["type"], "AWS::KMS::Key");
        assert_eq!(v["responseElements"], serde_json::json!({"keyId": key}));
        let v = event_json("TrentService.UpdateAlias", caller(), &body, Ok(b"{}".to_vec()));
        assert_eq!(
            (v["resources"][0]["ARN"].as_str(), v["resources"][1]["ARN"].as_str()),
            (Some(alias), Some(key.as_str()))
        );
        assert_eq!(v["responseElements"]["keyId"], key.as_str());
        let denied = Err(ApiError::Kms(KmsError::AccessDenied("no".into())));
        let v = event_json("TrentService.UpdateAlias", caller(), &body, denied);
        assert_eq!(v["resources"].as_array().map(Vec::len), Some(2));
        assert!(v["responseElements"].is_null());
        let v = event_json("TrentService.DeleteAlias", caller(), r#"{"AliasName":"alias/prod"}"#, Ok(b"{}".to_vec()));
        assert_eq!(v["resources"][0]["ARN"], alias);
    }

    /// Issue 15 item 3: AssumeRole records the issued key id, expiry and session, never the secret or token.
    #[test]
    fn assume_role_records_credentials_without_secrets() {
        let xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAQWERTYUIOPASDFGH</AccessKeyId>\
            <SecretAccessKey>SeCrEt/abc</SecretAccessKey><SessionToken>70k3n</SessionToken>\
            <Expiration>2026-12-01T05:04:36Z</Expiration></Credentials><AssumedRoleUser>\
            <AssumedRoleId>AROAABCDEFGHIJKLMNOPQ:s1</AssumedRoleId>\
            <Arn>arn:aws:sts::111122223333:assumed-role/app/s1</Arn></AssumedRoleUser></AssumeRoleResult>\
            </AssumeRoleResponse>";
        let mut i = info("");
        i.target = None;
        i.protocol = crate::protocol::Protocol::Sts;
        let body = "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fapp&RoleSessionName=s1";
        let facts = Facts {
            body: Some(Bytes::from_static(body.as_bytes())),
            caller: Some(caller()),
            delegated: Vec::new(),
            operation: None,
            reservation: None,
            kms: None,
        };
        let e = build_event("us-east-1", i, facts, "r", &Ok(xml.as_bytes().to_vec()));
        let json = e.to_json().unwrap();
        assert!(!json.contains("SeCrEt") && !json.contains("70k3n"), "{json}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            v["responseElements"],
            serde_json::json!({
                "credentials": {"accessKeyId": "ASIAQWERTYUIOPASDFGH", "expiration": "Dec 1, 2026, 5:04:36 AM"},
                "assumedRoleUser": {"assumedRoleId": "AROAABCDEFGHIJKLMNOPQ:s1",
                    "arn": "arn:aws:sts::111122223333:assumed-role/app/s1"}})
        );
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
        let facts = Facts {
            body: Some(Bytes::from(body)),
            caller: Some(caller()),
            delegated: Vec::new(),
            operation: None,
            reservation: None,
            kms: None,
        };
        let e = build_event("eu-west-1", info("TrentService.DisableKey"), facts, "r3", &Ok(b"{}".to_vec()));
        assert_eq!(e.resources[0].arn, format!("arn:aws:kms:eu-west-1:111122223333:key/{id}"));
        assert!(!e.read_only);
        assert!(!is_key_uuid("alias/x"));
    }

    #[test]
    fn query_requests_are_named_by_action_with_allow_listed_parameters() {
        let mut i = info("");
        i.target = None;
        i.protocol = crate::protocol::Protocol::Iam;
        let body = Bytes::from_static(b"Action=CreateUser&UserName=alice&Version=2010-05-08");
        let facts = Facts {
            body: Some(body),
            caller: Some(caller()),
            delegated: Vec::new(),
            operation: None,
            reservation: None,
            kms: None,
        };
        let e = build_event("us-east-1", i, facts, "r4", &Ok(b"<xml/>".to_vec()));
        assert_eq!((e.event_source.as_str(), e.event_name.as_str()), ("iam.amazonaws.com", "CreateUser"));
        let params = serde_json::to_value(e.request_parameters.as_ref().unwrap()).unwrap();
        assert_eq!(params, serde_json::json!({"userName": "alice"}));
        assert!(e.response_elements.is_none());
    }
}
