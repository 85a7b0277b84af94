//! SSM Parameter Store: parameters with versions, labels, tags and policies, and SecureString values
//! encrypted by Trent's own KMS under the caller's identity, as AWS Systems Manager does.
//!
//! - [`names`]: parameter names, paths, selectors (`name:3`, `name:label`), ARNs, labels.
//! - [`versions`]: the version and label rules (100 kept, 10 labels per version, labels move).
//! - [`filters`]: `ParameterFilters` and the legacy `Filters` of DescribeParameters / GetParametersByPath.
//! - [`policies`]: parameter policies (Expiration enforced by the scheduler).
//! - [`service::Ssm`]: one method per operation.
//! - [`store::ParameterStore`]: the storage boundary, apart from the KMS `Store` trait.

mod envelope;
mod error;
pub mod filters;
pub mod names;
pub mod policies;
mod service;
pub mod store;
pub mod versions;

pub use error::SsmError;
pub use service::{
    DEFAULT_KEY, DescribeRequest, HistoryEntry, ParameterMetadata, ParameterValue, ParameterView, PathRequest,
    PutRequest, Ssm,
};
pub use store::{MemoryParameterStore, ParameterRecord, ParameterStore, VersionRecord};

use std::fmt;

/// `String`, `StringList` or `SecureString`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParameterType {
    String,
    StringList,
    SecureString,
}

impl ParameterType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::StringList => "StringList",
            Self::SecureString => "SecureString",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "String" => Some(Self::String),
            "StringList" => Some(Self::StringList),
            "SecureString" => Some(Self::SecureString),
            _ => None,
        }
    }
}

impl fmt::Display for ParameterType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tier a parameter is stored in. `Intelligent-Tiering` is a request-time choice only: it resolves to
/// Standard or Advanced and is never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Standard,
    Advanced,
    IntelligentTiering,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "Standard",
            Self::Advanced => "Advanced",
            Self::IntelligentTiering => "Intelligent-Tiering",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Standard" => Some(Self::Standard),
            "Advanced" => Some(Self::Advanced),
            "Intelligent-Tiering" => Some(Self::IntelligentTiering),
            _ => None,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
