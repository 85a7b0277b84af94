//! Every failure of the HTTP layer, and the one place where errors become wire responses.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use trent_core::KmsError;
use trent_core::ssm::SsmError;

use crate::auth::AuthError;

pub(crate) const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

#[derive(Debug)]
pub(crate) enum ApiError {
    Kms(KmsError),
    /// A Parameter Store failure (SSM's own exception names).
    Ssm(SsmError),
    /// An IAM/STS failure; on KMS and SSM requests only bad or expired session credentials.
    Iam(trent_core::iam::IamError),
    Auth(AuthError),
    /// The body is not the JSON the operation expects. `None` when AWS sends no message (malformed JSON).
    Serialization(Option<String>),
    /// Unknown or missing `X-Amz-Target`. AWS sends no message.
    UnknownOperation,
    /// A CloudTrail failure (`InvalidLookupAttributesException`, ...), always a client fault.
    CloudTrail {
        code: &'static str,
        message: String,
    },
    /// A request quota or a server limit was reached: `ThrottlingException`, which the SDKs back off from and
    /// retry. The message is the service's own.
    Throttling(String),
    /// The request body did not arrive within the server's deadline; the connection is closed with this reply.
    RequestTimeout(String),
}

impl From<KmsError> for ApiError {
    fn from(e: KmsError) -> Self {
        Self::Kms(e)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl ApiError {
    pub(crate) fn aws_type(&self) -> &'static str {
        match self {
            Self::Kms(e) => e.aws_type(),
            Self::Ssm(e) => e.aws_type(),
            Self::Iam(e) => e.json_type(),
            Self::Auth(e) => e.aws_type(),
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::CloudTrail { code, .. } => code,
            Self::Throttling(_) => "ThrottlingException",
            Self::RequestTimeout(_) => "RequestTimeoutException",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Kms(e) if e.is_server_fault() => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Ssm(e) if e.is_server_fault() => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Iam(e) if e.is_server_fault() => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Auth(e) => e.status(),
            // AWS's service model (Smithy `httpError` and `awsQueryError`) gives DryRunOperationException 412;
            // botocore's JSON model omits the code, and SDKs go by `__type`, so the status is for fidelity.
            Self::Kms(KmsError::DryRunOperation(_)) => StatusCode::PRECONDITION_FAILED,
            // 408 tells clients the request may be retried as it is.
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self) -> Option<String> {
        match self {
            Self::Kms(e) => e.public_message(),
            Self::Ssm(e) => Some(e.public_message()),
            Self::Iam(e) => Some(e.public_message()),
            Self::Auth(e) => Some(e.message()),
            Self::Serialization(m) => m.clone(),
            Self::UnknownOperation => None,
            Self::CloudTrail { message, .. } => Some(message.clone()),
            Self::Throttling(m) | Self::RequestTimeout(m) => Some(m.clone()),
        }
    }

    /// The JSON 1.1 error response: `{"__type": ..., "message": ...}`. AWS spells the key `Message` for
    /// AccessDeniedException only; clients read whichever is present.
    pub(crate) fn into_response(self, request_id: &str) -> Response {
        if let Self::Kms(KmsError::Internal(detail)) = &self {
            // The detail is for operators; the caller gets a generic text.
            tracing::error!(request_id, detail = %detail, "internal error");
        }
        if let Self::Ssm(SsmError::Internal(detail)) = &self {
            tracing::error!(request_id, detail = %detail, "internal error");
        }
        let mut body = serde_json::Map::new();
        body.insert("__type".into(), self.aws_type().into());
        if let Some(m) = self.message() {
            let key = if self.aws_type() == "AccessDeniedException" { "Message" } else { "message" };
            body.insert(key.into(), m.into());
        }
        let mut resp = (self.status(), serde_json::Value::Object(body).to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-requestid", v);
        }
        h.insert("x-amzn-errortype", HeaderValue::from_static(self.aws_type()));
        resp
    }
}
