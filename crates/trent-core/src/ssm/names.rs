//! Parameter names, paths, selectors, ARNs and labels, with AWS's rules and texts.

use super::SsmError;
use crate::ids::{AccountId, Region};

pub const MAX_NAME_LEN: usize = 2048;
/// AWS counts the ARN prefix into the usable length of a name.
pub const MAX_ARN_LEN: usize = 1011;
pub const MAX_LEVELS: usize = 15;
pub const MAX_LABEL_LEN: usize = 100;

const INVALID_NAME: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";
const INVALID_PATH: &str = "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.";

/// `arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`.
pub fn parameter_arn(region: &Region, account: &AccountId, name: &str) -> String {
    format!("arn:aws:ssm:{region}:{account}:parameter/{}", name.strip_prefix('/').unwrap_or(name))
}

fn valid_chars(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
}

/// Validates a name for PutParameter. Leading and trailing whitespace is trimmed as AWS does; returns the
/// name to store.
pub fn validate_new_name(raw: &str, region: &Region, account: &AccountId) -> Result<String, SsmError> {
    let name = raw.trim();
    let lower = name.to_ascii_lowercase();
    let bare = lower.trim_start_matches('/');
    if bare.starts_with("aws") || bare.starts_with("ssm") {
        let is_path = name.matches('/').count() > 1;
        if lower.starts_with("/aws") && is_path {
            return Err(SsmError::AccessDenied(format!("No access to reserved parameter name: {name}.")));
        }
        return Err(SsmError::Validation(if is_path {
            "Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_".into()
        } else {
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).".into()
        }));
    }
    if name.is_empty()
        || !valid_chars(name)
        || (name.contains('/') && !name.starts_with('/'))
        || name.contains("//")
        || name.ends_with('/')
    {
        return Err(SsmError::Validation(INVALID_NAME.into()));
    }
    if name.matches('/').count() > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceeded(
            "A hierarchy can have a maximum of 15 levels. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html".into(),
        ));
    }
    if name.len() > MAX_NAME_LEN || parameter_arn(region, account, name).len() > MAX_ARN_LEN {
        return Err(SsmError::Validation(format!(
            "Parameter name: the name including the ARN prefix arn:aws:ssm:{region}:{account}:parameter/ can be at most {MAX_ARN_LEN} characters."
        )));
    }
    Ok(name.to_owned())
}

/// Validates the `Path` of GetParametersByPath (or a Path filter value): begins with `/`, may end with `/`.
pub fn validate_path(path: &str) -> Result<(), SsmError> {
    let lower = path.to_ascii_lowercase();
    if lower.starts_with("/aws") || lower.starts_with("/ssm") {
        return Err(SsmError::Validation(
            "Filters for common parameters can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). When using global parameters, please specify within a global namespace.".into(),
        ));
    }
    if !path.starts_with('/') || path.contains("//") || !valid_chars(path) {
        return Err(SsmError::Validation(INVALID_PATH.into()));
    }
    if path.trim_end_matches('/').matches('/').count() > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceeded(
            "A hierarchy can have a maximum of 15 levels. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html".into(),
        ));
    }
    Ok(())
}

/// What a `Name` member may select: the latest version, a version number, or a label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Latest,
    Version(u64),
    Label(String),
}

impl Selector {
    /// The `Selector` member of a GetParameter response: `:3` or `:label`.
    pub fn wire(&self) -> Option<String> {
        match self {
            Self::Latest => None,
            Self::Version(v) => Some(format!(":{v}")),
            Self::Label(l) => Some(format!(":{l}")),
        }
    }
}

/// Splits `name`, `name:3`, `name:label` or a parameter ARN (optionally with a selector) into name and
/// selector. Names never contain `:`, so the first `:` after the ARN prefix starts the selector.
pub fn parse_selector(raw: &str) -> (String, Selector) {
    let mut s = raw.trim();
    let mut from_arn = false;
    if let Some(rest) = s.strip_prefix("arn:") {
        // arn:aws:ssm:<region>:<account>:parameter/<name>[:selector]
        if let Some(idx) = rest.find(":parameter/") {
            s = &rest[idx + ":parameter/".len()..];
            from_arn = true;
        }
    }
    let (name, sel) = match s.split_once(':') {
        Some((n, sel)) => (n, Some(sel)),
        None => (s, None),
    };
    // An ARN drops the leading slash of a hierarchical name; put it back.
    let name = if from_arn && name.contains('/') { format!("/{name}") } else { name.to_owned() };
    let selector = match sel {
        None => Selector::Latest,
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => match v.parse() {
            Ok(n) => Selector::Version(n),
            Err(_) => Selector::Label(v.to_owned()),
        },
        Some(l) => Selector::Label(l.to_owned()),
    };
    (name, selector)
}

/// The parameter a name-only member (DeleteParameter, LabelParameterVersion, tags, history) addresses: a
/// plain name or a parameter ARN. A selector there is not part of any name (names never contain `:`), so the
/// raw text is kept and finds nothing, rather than acting on the whole parameter.
pub fn plain_name(raw: &str) -> String {
    match parse_selector(raw) {
        (name, Selector::Latest) => name,
        _ => raw.trim().to_owned(),
    }
}

/// A label AWS accepts: 1–100 characters of letters, digits, `.`, `-`, `_`; not starting with a digit,
/// `aws` or `ssm` (case-insensitive). Invalid labels are reported back, not raised.
pub fn label_is_valid(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    !label.is_empty()
        && label.chars().count() <= MAX_LABEL_LEN
        && label.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && !label.as_bytes()[0].is_ascii_digit()
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

/// Paging tokens are opaque to callers: the hex of the last name returned. Anything else is refused with
/// InvalidNextToken.
pub fn encode_token(last: &str) -> String {
    last.bytes().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_token(token: &str) -> Result<String, SsmError> {
    if !token.len().is_multiple_of(2) || token.is_empty() {
        return Err(SsmError::InvalidNextToken);
    }
    let bytes: Result<Vec<u8>, _> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or("zz"), 16)).collect();
    String::from_utf8(bytes.map_err(|_| SsmError::InvalidNextToken)?).map_err(|_| SsmError::InvalidNextToken)
}
