//! The domain error: one variant per AWS KMS exception Trent can raise. The API layer maps it to the wire in
//! one function; messages here are AWS's texts so that clients and tests see what AWS would say.

/// A KMS failure as AWS names it. `message()` is safe to send to the caller, except for `Internal`,
/// whose detail is for the log only.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidArn(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    InvalidState(String),
    /// AWS sends this without a message; so does Trent. Never say which check failed.
    #[error("InvalidCiphertextException")]
    InvalidCiphertext,
    /// Verify's "no": AWS sends it without a message.
    #[error("KMSInvalidSignatureException")]
    InvalidSignature,
    /// VerifyMac's "no": AWS sends it without a message.
    #[error("KMSInvalidMacException")]
    InvalidMac,
    #[error("{0}")]
    IncorrectKey(String),
    #[error("{0}")]
    InvalidKeyUsage(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("{0}")]
    InvalidMarker(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidGrantToken(String),
    #[error("{0}")]
    InvalidGrantId(String),
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    #[error("{0}")]
    InvalidImportToken(String),
    #[error("{0}")]
    ExpiredImportToken(String),
    #[error("{0}")]
    DryRunOperation(String),
    #[error("{0}")]
    AccessDenied(String),
    /// Sent by AWS with an empty body (creating an alias in the reserved `alias/aws/` namespace).
    #[error("NotAuthorizedException")]
    NotAuthorized,
    /// A server fault. The string is for operators' logs; the caller sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl KmsError {
    /// The AWS exception name (`__type` on the wire).
    pub fn aws_type(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::NotFound(_) => "NotFoundException",
            Self::InvalidArn(_) => "InvalidArnException",
            Self::Disabled(_) => "DisabledException",
            Self::InvalidState(_) => "KMSInvalidStateException",
            Self::InvalidCiphertext => "InvalidCiphertextException",
            Self::InvalidSignature => "KMSInvalidSignatureException",
            Self::InvalidMac => "KMSInvalidMacException",
            Self::IncorrectKey(_) => "IncorrectKeyException",
            Self::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            Self::AlreadyExists(_) => "AlreadyExistsException",
            Self::InvalidAliasName(_) => "InvalidAliasNameException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::Tag(_) => "TagException",
            Self::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            Self::UnsupportedOperation(_) => "UnsupportedOperationException",
            Self::InvalidMarker(_) => "InvalidMarkerException",
            Self::Conflict(_) => "ConflictException",
            Self::InvalidGrantToken(_) => "InvalidGrantTokenException",
            Self::InvalidGrantId(_) => "InvalidGrantIdException",
            Self::IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            Self::InvalidImportToken(_) => "InvalidImportTokenException",
            Self::ExpiredImportToken(_) => "ExpiredImportTokenException",
            Self::DryRunOperation(_) => "DryRunOperationException",
            Self::AccessDenied(_) => "AccessDeniedException",
            Self::NotAuthorized => "NotAuthorizedException",
            Self::Internal(_) => "KMSInternalException",
        }
    }

    /// What the caller may read. Internal detail never leaves the server.
    pub fn public_message(&self) -> Option<String> {
        match self {
            Self::InvalidCiphertext | Self::InvalidSignature | Self::InvalidMac | Self::NotAuthorized => None,
            Self::MalformedPolicyDocument(m) if m.is_empty() => None,
            Self::Internal(_) => Some("An internal error occurred. Retry the request.".into()),
            other => Some(other.to_string()),
        }
    }

    /// True for faults of the server rather than the request (HTTP 500 on the wire).
    pub fn is_server_fault(&self) -> bool {
        matches!(self, Self::Internal(_))
    }

    /// `1 validation error detected: Value 'v' at 'field' failed to satisfy constraint: c`.
    pub fn validation_one(value: &str, field: &str, constraint: &str) -> Self {
        let mut v = Validation::default();
        v.fail(Some(value), field, constraint);
        v.into_error()
    }

    pub fn invalid_key_id(s: &str) -> Self {
        Self::NotFound(format!("Invalid keyId '{s}'"))
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Collects constraint violations of one request, reported together as AWS does:
/// `2 validation errors detected: Value ... ; Value ...`.
#[derive(Debug, Default)]
pub struct Validation {
    failures: Vec<String>,
}

impl Validation {
    /// Records one violation. `value` is `None` for secret fields, whose contents are never echoed.
    pub fn fail(&mut self, value: Option<&str>, field: &str, constraint: &str) {
        self.failures.push(match value {
            Some(v) => format!("Value '{v}' at '{field}' failed to satisfy constraint: {constraint}"),
            None => format!("Value at '{field}' failed to satisfy constraint: {constraint}"),
        });
    }

    /// Records a missing required member.
    pub fn fail_null(&mut self, field: &str) {
        self.failures.push(format!("Value null at '{field}' failed to satisfy constraint: Member must not be null"));
    }

    pub fn is_empty(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn into_error(self) -> KmsError {
        let n = self.failures.len();
        let noun = if n == 1 { "error" } else { "errors" };
        KmsError::Validation(format!("{n} validation {noun} detected: {}", self.failures.join("; ")))
    }

    /// `Ok(())` when nothing failed.
    pub fn finish(self) -> Result<(), KmsError> {
        if self.is_empty() { Ok(()) } else { Err(self.into_error()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_texts() {
        let e = KmsError::validation_one("0", "numberOfBytes", "Member must have value greater than or equal to 1");
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
        let mut v = Validation::default();
        v.fail(None, "plaintext", "A");
        v.fail(Some("x"), "keyId", "B");
        assert_eq!(
            v.into_error().to_string(),
            "2 validation errors detected: Value at 'plaintext' failed to satisfy constraint: A; Value 'x' at 'keyId' failed to satisfy constraint: B"
        );
    }

    #[test]
    fn internal_detail_stays_inside() {
        let e = KmsError::internal("disk on fire at /var/lib/trent");
        assert!(!e.public_message().unwrap_or_default().contains("disk"));
        assert_eq!(e.aws_type(), "KMSInternalException");
    }
}
