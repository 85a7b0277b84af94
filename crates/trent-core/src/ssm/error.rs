//! The Parameter Store error: one variant per AWS SSM exception Trent raises, with AWS's texts. SSM speaks
//! JSON 1.1 like KMS: `{"__type": "ParameterNotFound", "message": ...}`.

use crate::KmsError;

#[derive(Debug, thiserror::Error)]
pub enum SsmError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ParameterNotFound(String),
    #[error("The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")]
    ParameterAlreadyExists,
    #[error("{0}")]
    ParameterVersionNotFound(String),
    #[error("{0}")]
    ParameterMaxVersionLimitExceeded(String),
    #[error("{0}")]
    ParameterVersionLabelLimitExceeded(String),
    #[error("{0}")]
    HierarchyLevelLimitExceeded(String),
    #[error("{0}")]
    HierarchyTypeMismatch(String),
    #[error("{0}")]
    ParameterPatternMismatch(String),
    #[error("{0}")]
    InvalidKeyId(String),
    #[error("{0}")]
    InvalidAllowedPattern(String),
    #[error("{0}")]
    UnsupportedParameterType(String),
    #[error("{0}")]
    InvalidFilterKey(String),
    #[error("{0}")]
    InvalidFilterValue(String),
    #[error("{0}")]
    InvalidFilterOption(String),
    #[error("The specified token isn't valid.")]
    InvalidNextToken,
    #[error("{0}")]
    ParameterLimitExceeded(String),
    #[error("Invalid Resource Id")]
    InvalidResourceId,
    #[error("Invalid Resource Type")]
    InvalidResourceType,
    #[error("{0}")]
    TooManyTags(String),
    #[error("{0}")]
    InvalidPolicyType(String),
    #[error("{0}")]
    InvalidPolicyAttribute(String),
    #[error("{0}")]
    PoliciesLimitExceeded(String),
    #[error("{0}")]
    AccessDenied(String),
    /// A server fault. The string is for operators' logs; the caller sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl SsmError {
    /// The AWS exception name (`__type` on the wire).
    pub fn aws_type(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::ParameterNotFound(_) => "ParameterNotFound",
            Self::ParameterAlreadyExists => "ParameterAlreadyExists",
            Self::ParameterVersionNotFound(_) => "ParameterVersionNotFound",
            Self::ParameterMaxVersionLimitExceeded(_) => "ParameterMaxVersionLimitExceeded",
            Self::ParameterVersionLabelLimitExceeded(_) => "ParameterVersionLabelLimitExceeded",
            Self::HierarchyLevelLimitExceeded(_) => "HierarchyLevelLimitExceededException",
            Self::HierarchyTypeMismatch(_) => "HierarchyTypeMismatchException",
            Self::ParameterPatternMismatch(_) => "ParameterPatternMismatchException",
            Self::InvalidKeyId(_) => "InvalidKeyId",
            Self::InvalidAllowedPattern(_) => "InvalidAllowedPatternException",
            Self::UnsupportedParameterType(_) => "UnsupportedParameterType",
            Self::InvalidFilterKey(_) => "InvalidFilterKey",
            Self::InvalidFilterValue(_) => "InvalidFilterValue",
            Self::InvalidFilterOption(_) => "InvalidFilterOption",
            Self::InvalidNextToken => "InvalidNextToken",
            Self::ParameterLimitExceeded(_) => "ParameterLimitExceeded",
            Self::InvalidResourceId => "InvalidResourceId",
            Self::InvalidResourceType => "InvalidResourceType",
            Self::TooManyTags(_) => "TooManyTagsError",
            Self::InvalidPolicyType(_) => "InvalidPolicyTypeException",
            Self::InvalidPolicyAttribute(_) => "InvalidPolicyAttributeException",
            Self::PoliciesLimitExceeded(_) => "PoliciesLimitExceededException",
            Self::AccessDenied(_) => "AccessDeniedException",
            Self::Internal(_) => "InternalServerError",
        }
    }

    /// What the caller may read. Internal detail never leaves the server.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "An internal error occurred. Retry the request.".into(),
            other => other.to_string(),
        }
    }

    /// True for faults of the server rather than the request (HTTP 500 on the wire).
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Self::Internal(_))
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    pub fn not_found(name: &str) -> Self {
        Self::ParameterNotFound(format!("Parameter {name} not found."))
    }

    pub fn version_not_found(name: &str, version: impl std::fmt::Display) -> Self {
        Self::ParameterVersionNotFound(format!(
            "Systems Manager could not find version {version} of {name}. Verify the version and try again."
        ))
    }

    /// A failure of a KMS call Parameter Store made for the caller. SSM reports key problems as
    /// `InvalidKeyId` naming the KMS error inside the message, as AWS does; an access denial stays one.
    pub fn from_kms(e: KmsError) -> Self {
        match e {
            KmsError::Internal(d) => Self::Internal(d),
            KmsError::AccessDenied(m) => Self::AccessDenied(m),
            KmsError::Validation(m) => Self::Validation(m),
            // A stored ciphertext that no longer opens is a server fault, not the caller's.
            KmsError::InvalidCiphertext => Self::Internal("stored SecureString ciphertext does not decrypt".into()),
            other => {
                let ty = other.aws_type();
                let msg = other.public_message().unwrap_or_default();
                Self::InvalidKeyId(format!("{msg} (Service: AWSKMS; Status Code: 400; Error Code: {ty})"))
            }
        }
    }
}

impl From<KmsError> for SsmError {
    fn from(e: KmsError) -> Self {
        Self::from_kms(e)
    }
}
