//! `ParameterFilters` (DescribeParameters, GetParametersByPath) and the legacy `Filters` of
//! DescribeParameters: parsed once with AWS's rules and texts, then matched against parameters.

use super::names::validate_path;
use super::{ParameterRecord, ParameterType, SsmError, VersionRecord};

/// Which operation the filters belong to: the allowed keys differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterContext {
    ByPath,
    Describe,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterKey {
    Name,
    Type,
    KeyId,
    Path,
    Label,
    Tier,
    DataType,
    Tag(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterOption {
    Equals,
    BeginsWith,
    Contains,
    Recursive,
    OneLevel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterFilter {
    pub key: FilterKey,
    pub option: FilterOption,
    pub values: Vec<String>,
}

/// One filter as it arrived: `Key`, `Option`, `Values`.
#[derive(Debug, Clone, Default)]
pub struct RawFilter {
    pub key: String,
    pub option: Option<String>,
    pub values: Vec<String>,
}

pub fn parse_filters(raw: &[RawFilter], ctx: FilterContext) -> Result<Vec<ParameterFilter>, SsmError> {
    let mut out: Vec<ParameterFilter> = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        let key = match f.key.as_str() {
            "Name" => FilterKey::Name,
            "Type" => FilterKey::Type,
            "KeyId" => FilterKey::KeyId,
            "Path" => FilterKey::Path,
            "Label" => FilterKey::Label,
            "Tier" => FilterKey::Tier,
            "DataType" => FilterKey::DataType,
            k if k.starts_with("tag:") && k.len() > 4 => FilterKey::Tag(k[4..].to_owned()),
            k => {
                return Err(SsmError::Validation(format!(
                    "1 validation error detected: Value '{k}' at 'parameterFilters.{}.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: tag:.+|Name|Type|KeyId|Path|Label|Tier|DataType",
                    i + 1
                )));
            }
        };
        match (ctx, &key) {
            (FilterContext::Describe, FilterKey::Label) => {
                return Err(SsmError::InvalidFilterKey(
                    "The following filter key is not valid: Label. Valid filter keys include: [Path, Name, Type, KeyId, Tier].".into(),
                ));
            }
            (FilterContext::ByPath, FilterKey::Name | FilterKey::Path | FilterKey::Tier) => {
                return Err(SsmError::InvalidFilterKey(format!(
                    "The following filter key is not valid: {}. Valid filter keys include: [Type, KeyId].",
                    f.key
                )));
            }
            _ => {}
        }
        if f.values.is_empty() && !matches!(key, FilterKey::Tag(_)) {
            return Err(SsmError::InvalidFilterValue(format!(
                "The following filter values are missing : null for filter key {}.",
                f.key
            )));
        }
        if out.iter().any(|o| o.key == key) {
            return Err(SsmError::InvalidFilterKey(format!(
                "The following filter is duplicated in the request: {}. A request can contain only one occurrence of a specific filter.",
                f.key
            )));
        }
        let option = match (&key, f.option.as_deref()) {
            (FilterKey::Path, None | Some("OneLevel")) => FilterOption::OneLevel,
            (FilterKey::Path, Some("Recursive")) => FilterOption::Recursive,
            (FilterKey::Path, Some(o)) => {
                return Err(SsmError::InvalidFilterOption(format!(
                    "The following filter option is not valid: {o}. Valid options include: [Recursive, OneLevel]."
                )));
            }
            (_, None | Some("Equals")) => FilterOption::Equals,
            (FilterKey::Label, Some(o)) => {
                return Err(SsmError::InvalidFilterOption(format!(
                    "The following filter option is not valid: {o}. Valid options include: [Equals]."
                )));
            }
            (_, Some("BeginsWith")) => FilterOption::BeginsWith,
            (FilterKey::Name, Some("Contains")) => FilterOption::Contains,
            (_, Some(o)) => {
                return Err(SsmError::InvalidFilterOption(format!(
                    "The following filter option is not valid: {o}. Valid options include: [BeginsWith, Equals]."
                )));
            }
        };
        match &key {
            FilterKey::Path => f.values.iter().try_for_each(|v| validate_path(v))?,
            FilterKey::Type => {
                if let Some(v) = f.values.iter().find(|v| ParameterType::parse(v).is_none()) {
                    return Err(SsmError::InvalidFilterValue(format!(
                        "The following filter value is not valid: {v}. Valid values include: [String, StringList, SecureString]."
                    )));
                }
            }
            FilterKey::Tier => {
                if let Some(v) =
                    f.values.iter().find(|v| !matches!(v.as_str(), "Standard" | "Advanced" | "Intelligent-Tiering"))
                {
                    return Err(SsmError::InvalidFilterValue(format!(
                        "The following filter value is not valid: {v}. Valid values include: [Standard, Advanced, Intelligent-Tiering]."
                    )));
                }
            }
            _ => {}
        }
        out.push(ParameterFilter { key, option, values: f.values.clone() });
    }
    Ok(out)
}

/// The legacy `Filters` of DescribeParameters: keys `Name`, `Type`, `KeyId`; `Name` matches by prefix.
pub fn parse_legacy(raw: &[(String, Vec<String>)]) -> Result<Vec<ParameterFilter>, SsmError> {
    raw.iter()
        .enumerate()
        .map(|(i, (k, values))| {
            let (key, option) = match k.as_str() {
                "Name" => (FilterKey::Name, FilterOption::BeginsWith),
                "Type" => (FilterKey::Type, FilterOption::Equals),
                "KeyId" => (FilterKey::KeyId, FilterOption::Equals),
                other => {
                    return Err(SsmError::Validation(format!(
                        "1 validation error detected: Value '{other}' at 'filters.{}.member.key' failed to satisfy constraint: Member must satisfy enum value set: [Name, Type, KeyId]",
                        i + 1
                    )));
                }
            };
            Ok(ParameterFilter { key, option, values: values.clone() })
        })
        .collect()
}

fn text_matches(option: &FilterOption, have: &str, values: &[String]) -> bool {
    values.iter().any(|v| match option {
        FilterOption::BeginsWith => have.starts_with(v.as_str()),
        FilterOption::Contains => have.contains(v.as_str()),
        _ => have == v,
    })
}

/// Whether `name` sits under `path`: directly (OneLevel) or at any depth (Recursive).
pub fn under_path(name: &str, path: &str, recursive: bool) -> bool {
    let base = if path.ends_with('/') { path.to_owned() } else { format!("{path}/") };
    if base == "/" && !recursive && !name.starts_with('/') {
        // Names without a slash live at the root level.
        return true;
    }
    match name.strip_prefix(base.as_str()) {
        Some(rest) => !rest.is_empty() && (recursive || !rest.contains('/')),
        None => false,
    }
}

/// Whether the parameter (reported as version `v`) passes every filter.
pub fn matches(p: &ParameterRecord, v: &VersionRecord, filters: &[ParameterFilter]) -> bool {
    filters.iter().all(|f| match &f.key {
        FilterKey::Name => {
            // AWS compares names with and without their leading slash alike.
            let values: Vec<String> = f.values.iter().map(|x| x.trim_start_matches('/').to_owned()).collect();
            text_matches(&f.option, p.name.trim_start_matches('/'), &values)
        }
        FilterKey::Type => text_matches(&f.option, v.kind.as_str(), &f.values),
        FilterKey::KeyId => v.key_id.as_deref().is_some_and(|k| text_matches(&f.option, k, &f.values)),
        FilterKey::Tier => text_matches(&f.option, v.tier.as_str(), &f.values),
        FilterKey::DataType => text_matches(&f.option, &v.data_type, &f.values),
        FilterKey::Label => v.labels.iter().any(|l| f.values.contains(l)),
        FilterKey::Path => f.values.iter().any(|path| under_path(&p.name, path, f.option == FilterOption::Recursive)),
        FilterKey::Tag(k) => match p.tags.get(k) {
            Some(have) => f.values.is_empty() || text_matches(&f.option, have, &f.values),
            None => false,
        },
    })
}
