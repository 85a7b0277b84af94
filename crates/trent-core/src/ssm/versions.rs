//! The version and label rules, as pure functions on a parameter record: the store applies them inside its
//! transaction, and unit tests exercise them without a store.

use super::names::{Selector, label_is_valid};
use super::{ParameterRecord, SsmError, VersionRecord};

/// AWS keeps the latest 100 versions of a parameter.
pub const MAX_VERSIONS: usize = 100;
pub const MAX_LABELS_PER_VERSION: usize = 10;

/// Appends a new version, dropping the oldest when 100 are kept, unless the oldest carries a label.
pub fn push_version(p: &mut ParameterRecord, v: VersionRecord) -> Result<(), SsmError> {
    if p.versions.len() >= MAX_VERSIONS {
        if let Some(oldest) = p.versions.first().filter(|o| !o.labels.is_empty()) {
            return Err(SsmError::ParameterMaxVersionLimitExceeded(format!(
                "You attempted to create a new version of {} by calling the PutParameter API with the overwrite flag. Version {}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.",
                p.name, oldest.version
            )));
        }
        p.versions.remove(0);
    }
    p.versions.push(v);
    Ok(())
}

/// The version a selector names.
pub fn select<'a>(p: &'a ParameterRecord, selector: &Selector) -> Result<&'a VersionRecord, SsmError> {
    match selector {
        Selector::Latest => p.latest().ok_or_else(|| SsmError::not_found(&p.name)),
        Selector::Version(n) => {
            p.versions.iter().find(|v| v.version == *n).ok_or_else(|| SsmError::version_not_found(&p.name, n))
        }
        Selector::Label(l) => p.versions.iter().find(|v| v.labels.iter().any(|x| x == l)).ok_or_else(|| {
            SsmError::ParameterVersionNotFound(format!(
                "Systems Manager could not find label {l} of {}. Verify the label and try again.",
                p.name
            ))
        }),
    }
}

/// LabelParameterVersion: attaches `labels` to `version` (default: latest), moving any that sit on another
/// version. Returns the invalid labels (reported, not raised) and the version labelled.
pub fn label(p: &mut ParameterRecord, version: Option<u64>, labels: &[String]) -> Result<(Vec<String>, u64), SsmError> {
    let target = match version {
        Some(v) => v,
        None => p.latest().map(|v| v.version).ok_or_else(|| SsmError::not_found(&p.name))?,
    };
    let idx = p
        .versions
        .iter()
        .position(|v| v.version == target)
        .ok_or_else(|| SsmError::version_not_found(&p.name, target))?;
    let (valid, invalid): (Vec<&String>, Vec<&String>) = labels.iter().partition(|l| label_is_valid(l));
    let mut added: Vec<String> = Vec::new();
    for l in valid {
        if !p.versions[idx].labels.contains(l) && !added.contains(l) {
            added.push(l.clone());
        }
    }
    if p.versions[idx].labels.len() + added.len() > MAX_LABELS_PER_VERSION {
        return Err(SsmError::ParameterVersionLabelLimitExceeded(
            "A parameter version can have maximum 10 labels. Move one or more labels to another version and try again."
                .into(),
        ));
    }
    // A label lives on one version at a time: take it off wherever it was.
    for (i, v) in p.versions.iter_mut().enumerate() {
        if i != idx {
            v.labels.retain(|l| !added.contains(l));
        }
    }
    p.versions[idx].labels.extend(added);
    Ok((invalid.into_iter().cloned().collect(), target))
}

/// UnlabelParameterVersion: returns (removed, invalid) labels.
pub fn unlabel(
    p: &mut ParameterRecord,
    version: u64,
    labels: &[String],
) -> Result<(Vec<String>, Vec<String>), SsmError> {
    let name = p.name.clone();
    let v = p
        .versions
        .iter_mut()
        .find(|v| v.version == version)
        .ok_or_else(|| SsmError::version_not_found(&name, version))?;
    let (mut removed, mut invalid) = (Vec::new(), Vec::new());
    for l in labels {
        if let Some(pos) = v.labels.iter().position(|x| x == l) {
            v.labels.remove(pos);
            removed.push(l.clone());
        } else {
            invalid.push(l.clone());
        }
    }
    Ok((removed, invalid))
}
