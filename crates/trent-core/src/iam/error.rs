//! IAM and STS failures, named as AWS names them on the Query protocol (`<Code>`), with the JSON-protocol
//! names for the two that KMS and SSM clients can also meet (bad or expired session credentials).

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    AccessDenied(String),
    /// Unknown access key id, or a session token that is not one Trent issued.
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// An STS session past its expiration.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// A Query-protocol `Action` this service does not have.
    #[error("{0}")]
    InvalidAction(String),
    /// A server fault; the detail is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IamError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    /// The Query-protocol error code (`<Code>` in the XML error).
    pub fn query_code(&self) -> &'static str {
        match self {
            Self::NoSuchEntity(_) => "NoSuchEntity",
            Self::EntityAlreadyExists(_) => "EntityAlreadyExists",
            Self::LimitExceeded(_) => "LimitExceeded",
            Self::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            Self::Validation(_) => "ValidationError",
            Self::DeleteConflict(_) => "DeleteConflict",
            Self::AccessDenied(_) => "AccessDenied",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::ExpiredToken => "ExpiredToken",
            Self::InvalidAction(_) => "InvalidAction",
            Self::Internal(_) => "ServiceFailure",
        }
    }

    /// The `__type` a JSON-protocol service (KMS, SSM) sends for this failure.
    pub fn json_type(&self) -> &'static str {
        match self {
            Self::InvalidClientTokenId => "UnrecognizedClientException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::AccessDenied(_) => "AccessDeniedException",
            Self::Validation(_) => "ValidationException",
            Self::Internal(_) => "InternalFailure",
            Self::NoSuchEntity(_) => "NoSuchEntityException",
            Self::EntityAlreadyExists(_) => "EntityAlreadyExistsException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            Self::DeleteConflict(_) => "DeleteConflictException",
            Self::InvalidAction(_) => "UnknownOperationException",
        }
    }

    /// The HTTP status AWS IAM/STS use for this code.
    pub fn query_status(&self) -> u16 {
        match self {
            Self::NoSuchEntity(_) => 404,
            Self::EntityAlreadyExists(_) | Self::LimitExceeded(_) | Self::DeleteConflict(_) => 409,
            Self::AccessDenied(_) | Self::InvalidClientTokenId | Self::ExpiredToken => 403,
            Self::MalformedPolicyDocument(_) | Self::Validation(_) | Self::InvalidAction(_) => 400,
            Self::Internal(_) => 500,
        }
    }

    pub fn is_server_fault(&self) -> bool {
        matches!(self, Self::Internal(_))
    }

    /// The text safe to send: everything but an internal error's detail.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "We encountered an internal error. Please try again.".to_owned(),
            other => other.to_string(),
        }
    }
}
