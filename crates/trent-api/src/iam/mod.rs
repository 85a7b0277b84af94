//! The AWS Query protocol for IAM and STS: `POST /` with a form-encoded body (`Action=...&Version=...`),
//! signed for service `iam` or `sts`, answered in XML.
//!
//! A request is Query protocol when it has no `X-Amz-Target` and a form content type. The credential scope
//! names the service (the verifier still checks it); the scope's region may be the configured one (what the
//! SDKs sign with when given an endpoint URL) or `us-east-1` (what they sign IAM and global STS with by default).

mod operation;
mod ops;
#[cfg(test)]
mod tests;
pub(crate) mod xml;

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use trent_core::KmsError;
use trent_core::iam::{Iam, IamError};
use trent_core::service::Caller;

use crate::auth::AuthError;
use crate::error::ApiError;
pub(crate) use operation::{IamOperation, StsOperation};
use ops::{IAM_NAMESPACE, Params, STS_NAMESPACE};
use xml::XmlWriter;

pub(crate) const IAM_SIGNING_NAME: &str = "iam";
pub(crate) const STS_SIGNING_NAME: &str = "sts";
/// The region the SDKs sign IAM (always) and global-endpoint STS requests for.
pub(crate) const GLOBAL_REGION: &str = "us-east-1";
pub(crate) const XML_CONTENT_TYPE: &str = "text/xml";

/// `Some(service)` when the request is Query protocol: `sts` if its credential scope says so, else `iam`.
pub(crate) fn query_service(headers: &HeaderMap, uri: &Uri) -> Option<&'static str> {
    if headers.contains_key("x-amz-target") {
        return None;
    }
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form {
        return None;
    }
    Some(match scope(headers, uri) {
        Some((_, service)) if service == STS_SIGNING_NAME => STS_SIGNING_NAME,
        _ => IAM_SIGNING_NAME,
    })
}

/// `(region, service)` of the credential scope, from the `Authorization` header or a presigned query.
pub(crate) fn scope(headers: &HeaderMap, uri: &Uri) -> Option<(String, String)> {
    let credential = match headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(auth) => {
            let start = auth.find("Credential=")? + "Credential=".len();
            let rest = &auth[start..];
            rest.split([',', ' ']).next()?.to_owned()
        }
        None => {
            let query = xml::parse_form(uri.query().unwrap_or("").as_bytes());
            query.into_iter().find(|(k, _)| k == "X-Amz-Credential")?.1
        }
    };
    let mut parts = credential.split('/');
    let (_akid, _date, region, service) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((region.to_owned(), service.to_owned()))
}

/// The session token a request carries (header, or query string when presigned).
pub(crate) fn session_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(v) = headers.get("x-amz-security-token") {
        return v.to_str().ok().map(str::to_owned);
    }
    let query = xml::parse_form(uri.query().unwrap_or("").as_bytes());
    query.into_iter().find(|(k, _)| k == "X-Amz-Security-Token").map(|(_, v)| v)
}

/// The operation a Query request names, for either service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryOperation {
    Iam(IamOperation),
    Sts(StsOperation),
}

impl QueryOperation {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Iam(op) => op.name(),
            Self::Sts(op) => op.name(),
        }
    }

    pub(crate) fn is_read_only(self) -> bool {
        match self {
            Self::Iam(op) => op.is_read_only(),
            Self::Sts(op) => op.is_read_only(),
        }
    }

    /// CloudTrail's `eventSource`.
    pub(crate) fn event_source(self) -> &'static str {
        match self {
            Self::Iam(_) => "iam.amazonaws.com",
            Self::Sts(_) => "sts.amazonaws.com",
        }
    }
}

/// An authenticated Query request parsed once: its operation and its decoded form. The dispatcher and the
/// audit trail both take the operation from here, so a request is recorded under the name it ran as (a body
/// such as `Act%69on=CreateAccessKey&Action=ListUsers` decodes to two `Action`s; the first one runs, and is
/// the one recorded).
pub(crate) struct QueryRequest {
    pub(crate) operation: QueryOperation,
    params: Params,
}

impl QueryRequest {
    /// `InvalidAction` (AWS's text) when the action is missing or not one Trent implements for `service`.
    pub(crate) fn parse(service: &str, body: &[u8]) -> Result<Self, ApiError> {
        let params = Params(xml::parse_form(body));
        let action = params.get("Action").unwrap_or_default();
        let operation = if service == STS_SIGNING_NAME {
            StsOperation::from_name(action).map(QueryOperation::Sts)
        } else {
            IamOperation::from_name(action).map(QueryOperation::Iam)
        };
        let Some(operation) = operation else {
            let version = if service == STS_SIGNING_NAME { "2011-06-15" } else { "2010-05-08" };
            return Err(ApiError::Iam(IamError::InvalidAction(format!(
                "Could not find operation {action} for version {version}"
            ))));
        };
        Ok(Self { operation, params })
    }

    /// The first `Action` of a form that did not parse into an operation, for the record of a failed request.
    pub(crate) fn raw_action(body: &[u8]) -> Option<String> {
        xml::parse_form(body).into_iter().find(|(k, _)| k == "Action").map(|(_, v)| v)
    }
}

/// Runs one authenticated, parsed Query request.
pub(crate) fn dispatch(
    iam: &Iam,
    caller: &Caller,
    request: &QueryRequest,
    request_id: &str,
) -> Result<Vec<u8>, ApiError> {
    match request.operation {
        QueryOperation::Sts(op) => ops::sts_action(iam, caller, op, &request.params, request_id),
        QueryOperation::Iam(op) => ops::iam_action(iam, caller, op, &request.params, request_id),
    }
    .map_err(ApiError::Iam)
}

/// The XML error response for any failure of a Query request, with the codes IAM and STS use.
pub(crate) fn error_response(err: &ApiError, service: &str, request_id: &str) -> Response {
    let namespace = if service == STS_SIGNING_NAME { STS_NAMESPACE } else { IAM_NAMESPACE };
    let (status, code, message): (u16, &str, String) = match err {
        ApiError::Iam(e) => (e.query_status(), e.query_code(), e.public_message()),
        ApiError::Auth(a) => {
            let code = match a {
                AuthError::MissingAuthenticationToken => "MissingAuthenticationToken",
                AuthError::IncompleteSignature(_) => "IncompleteSignature",
                AuthError::UnrecognizedClient => "InvalidClientTokenId",
                AuthError::SignatureDoesNotMatch | AuthError::InvalidSignature(_) => "SignatureDoesNotMatch",
            };
            let status = if matches!(a, AuthError::IncompleteSignature(_)) { 400 } else { 403 };
            (status, code, a.message())
        }
        ApiError::Kms(KmsError::Validation(m)) => (400, "ValidationError", m.clone()),
        ApiError::Kms(KmsError::Internal(detail)) => {
            tracing::error!(request_id, detail = %detail, "internal error");
            (500, "ServiceFailure", "We encountered an internal error. Please try again.".to_owned())
        }
        other => (400, "InvalidRequest", other.aws_type().to_owned()),
    };
    if let ApiError::Iam(IamError::Internal(detail)) = err {
        tracing::error!(request_id, detail = %detail, "internal error");
    }
    let body = XmlWriter::error(namespace, status < 500, code, &message, request_id);
    let mut resp = (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), body).into_response();
    let h = resp.headers_mut();
    h.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(XML_CONTENT_TYPE));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}
