//! One handler per Parameter Store operation: check the wire members (AWS's ValidationException texts, as
//! for KMS), call the `Ssm` service, encode the response.

use serde_json::json;
use trent_core::Validation;
use trent_core::service::Caller;
use trent_core::ssm::filters::RawFilter;
use trent_core::ssm::{DescribeRequest, ParameterType, PathRequest, PutRequest, Ssm, SsmError, Tier};
use trent_crypto::SecretBytes;

use super::wire::{self, FilterIn, HistoryOut, MetadataOut, ParameterOut, TagIn, parse, to_body};
use crate::error::ApiError;

type Out = Result<Vec<u8>, ApiError>;

const MAX_NAME: usize = 2048;
const MAX_NAMES: usize = 10;
const MAX_LABELS: usize = 10;
const MAX_PATTERN: usize = 1024;
const MAX_DESCRIPTION: usize = 1024;
const MAX_POLICIES: usize = 4096;

/// Collects constraint violations, reported together as `ValidationException`.
#[derive(Default)]
struct Check(Validation);

impl Check {
    fn required<'a, T>(&mut self, v: &'a Option<T>, field: &str) -> Option<&'a T> {
        if v.is_none() {
            self.0.fail_null(field);
        }
        v.as_ref()
    }

    fn len(&mut self, v: &str, field: &str, min: usize, max: usize) {
        let n = v.chars().count();
        if n < min {
            self.0.fail(Some(v), field, &format!("Member must have length greater than or equal to {min}"));
        } else if n > max {
            self.0.fail(Some(v), field, &format!("Member must have length less than or equal to {max}"));
        }
    }

    fn count(&mut self, n: usize, field: &str, min: usize, max: usize) {
        if n < min {
            self.0.fail(None, field, &format!("Member must have length greater than or equal to {min}"));
        } else if n > max {
            self.0.fail(None, field, &format!("Member must have length less than or equal to {max}"));
        }
    }

    fn range(&mut self, v: i64, field: &str, min: i64, max: i64) {
        if v < min {
            self.0.fail(Some(&v.to_string()), field, &format!("Member must have value greater than or equal to {min}"));
        } else if v > max {
            self.0.fail(Some(&v.to_string()), field, &format!("Member must have value less than or equal to {max}"));
        }
    }

    fn enumeration<T>(&mut self, v: Option<&str>, field: &str, parse: fn(&str) -> Option<T>, set: &str) -> Option<T> {
        let v = v?;
        let parsed = parse(v);
        if parsed.is_none() {
            self.0.fail(Some(v), field, &format!("Member must satisfy enum value set: [{set}]"));
        }
        parsed
    }

    fn finish(self) -> Result<(), ApiError> {
        self.0.finish().map_err(|e| ApiError::Ssm(SsmError::Validation(e.to_string())))
    }
}

fn max_results(c: &mut Check, v: Option<i64>, max: i64) -> Option<usize> {
    let v = v?;
    c.range(v, "maxResults", 1, max);
    usize::try_from(v).ok()
}

fn tags(c: &mut Check, v: &Option<Vec<TagIn>>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, t) in v.iter().flatten().enumerate() {
        let n = i + 1;
        let k = c.required(&t.key, &format!("tags.{n}.member.key")).cloned();
        let val = c.required(&t.value, &format!("tags.{n}.member.value")).cloned();
        if let (Some(k), Some(val)) = (k, val) {
            c.len(&k, &format!("tags.{n}.member.key"), 1, 128);
            c.len(&val, &format!("tags.{n}.member.value"), 0, 256);
            out.push((k, val));
        }
    }
    out
}

fn filters(c: &mut Check, v: &Option<Vec<FilterIn>>, field: &str) -> Vec<RawFilter> {
    let mut out = Vec::new();
    for (i, f) in v.iter().flatten().enumerate() {
        let key = c.required(&f.key, &format!("{field}.{}.member.key", i + 1)).cloned().unwrap_or_default();
        out.push(RawFilter { key, option: f.option.clone(), values: f.values.clone().unwrap_or_default() });
    }
    out
}

fn names(c: &mut Check, v: &Option<Vec<String>>) -> Vec<String> {
    let names = c.required(v, "names").cloned().unwrap_or_default();
    if v.is_some() {
        c.count(names.len(), "names", 1, MAX_NAMES);
    }
    names
}

fn name(c: &mut Check, v: &Option<String>) -> String {
    let n = c.required(v, "name").cloned().unwrap_or_default();
    if v.is_some() {
        c.len(&n, "name", 1, MAX_NAME);
    }
    n
}

pub(super) fn put_parameter(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::PutParameterIn = parse(body)?;
    let mut c = Check::default();
    let name = name(&mut c, &r.name);
    c.required(&r.value, "value");
    let kind = c.enumeration(r.kind.as_deref(), "type", ParameterType::parse, "SecureString, StringList, String");
    let tier = c.enumeration(r.tier.as_deref(), "tier", Tier::parse, "Standard, Advanced, Intelligent-Tiering");
    if let Some(d) = &r.description {
        c.len(d, "description", 0, MAX_DESCRIPTION);
    }
    if let Some(p) = &r.allowed_pattern {
        c.len(p, "allowedPattern", 0, MAX_PATTERN);
    }
    if let Some(p) = &r.policies {
        c.len(p, "policies", 1, MAX_POLICIES);
    }
    if let Some(k) = &r.key_id {
        c.len(k, "keyId", 1, 256);
    }
    if let Some(d) = &r.data_type {
        c.len(d, "dataType", 0, 128);
    }
    let tags = tags(&mut c, &r.tags);
    c.finish()?;
    let value = r.value.as_ref().map(|v| v.as_bytes().to_vec()).unwrap_or_default();
    let (version, tier) = ssm
        .put_parameter(
            caller,
            PutRequest {
                name,
                value: SecretBytes::new(value),
                kind,
                description: r.description,
                key_id: r.key_id,
                overwrite: r.overwrite.unwrap_or(false),
                allowed_pattern: r.allowed_pattern,
                tags,
                tier,
                policies: r.policies,
                data_type: r.data_type,
            },
        )
        .map_err(ApiError::Ssm)?;
    to_body(&json!({ "Version": version, "Tier": tier.as_str() }))
}

pub(super) fn get_parameter(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::NameIn = parse(body)?;
    let mut c = Check::default();
    let name = name(&mut c, &r.name);
    c.finish()?;
    let v = ssm.get_parameter(caller, &name, r.with_decryption.unwrap_or(false)).map_err(ApiError::Ssm)?;
    to_body(&json!({ "Parameter": ParameterOut::new(&v) }))
}

pub(super) fn get_parameters(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::NameIn = parse(body)?;
    let mut c = Check::default();
    let names = names(&mut c, &r.names);
    c.finish()?;
    let (found, invalid) =
        ssm.get_parameters(caller, &names, r.with_decryption.unwrap_or(false)).map_err(ApiError::Ssm)?;
    let found: Vec<ParameterOut<'_>> = found.iter().map(ParameterOut::new).collect();
    to_body(&json!({ "Parameters": found, "InvalidParameters": invalid }))
}

pub(super) fn get_parameters_by_path(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::ByPathIn = parse(body)?;
    let mut c = Check::default();
    let path = c.required(&r.path, "path").cloned().unwrap_or_default();
    if r.path.is_some() {
        c.len(&path, "path", 1, MAX_NAME);
    }
    let max = max_results(&mut c, r.max_results, 10);
    let filters = filters(&mut c, &r.parameter_filters, "parameterFilters");
    c.finish()?;
    let req = PathRequest {
        path,
        recursive: r.recursive.unwrap_or(false),
        filters,
        with_decryption: r.with_decryption.unwrap_or(false),
        max_results: max,
        next_token: r.next_token,
    };
    let (found, next) = ssm.get_parameters_by_path(caller, &req).map_err(ApiError::Ssm)?;
    let found: Vec<ParameterOut<'_>> = found.iter().map(ParameterOut::new).collect();
    let mut out = json!({ "Parameters": found });
    if let Some(t) = next {
        out["NextToken"] = t.into();
    }
    to_body(&out)
}

pub(super) fn delete_parameter(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::NameIn = parse(body)?;
    let mut c = Check::default();
    let name = name(&mut c, &r.name);
    c.finish()?;
    ssm.delete_parameter(caller, &name).map_err(ApiError::Ssm)?;
    to_body(&json!({}))
}

pub(super) fn delete_parameters(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::NameIn = parse(body)?;
    let mut c = Check::default();
    let names = names(&mut c, &r.names);
    c.finish()?;
    let (deleted, invalid) = ssm.delete_parameters(caller, &names).map_err(ApiError::Ssm)?;
    to_body(&json!({ "DeletedParameters": deleted, "InvalidParameters": invalid }))
}

pub(super) fn describe_parameters(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::DescribeIn = parse(body)?;
    let mut c = Check::default();
    let max = max_results(&mut c, r.max_results, 50);
    let legacy: Vec<(String, Vec<String>)> =
        filters(&mut c, &r.filters, "filters").into_iter().map(|f| (f.key, f.values)).collect();
    let parameter_filters = filters(&mut c, &r.parameter_filters, "parameterFilters");
    c.finish()?;
    if r.shared == Some(true) {
        // Shared parameters come from other accounts (resource policies): none exist in Trent.
        return to_body(&json!({ "Parameters": [] }));
    }
    let req = DescribeRequest { filters: legacy, parameter_filters, max_results: max, next_token: r.next_token };
    let (found, next) = ssm.describe_parameters(caller, &req).map_err(ApiError::Ssm)?;
    let found: Vec<MetadataOut<'_>> = found.iter().map(MetadataOut::new).collect();
    let mut out = json!({ "Parameters": found });
    if let Some(t) = next {
        out["NextToken"] = t.into();
    }
    to_body(&out)
}

pub(super) fn get_parameter_history(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::NameIn = parse(body)?;
    let mut c = Check::default();
    let name = name(&mut c, &r.name);
    let max = max_results(&mut c, r.max_results, 50);
    c.finish()?;
    let (entries, next) = ssm
        .get_parameter_history(caller, &name, r.with_decryption.unwrap_or(false), max, r.next_token.as_deref())
        .map_err(ApiError::Ssm)?;
    let entries: Vec<HistoryOut<'_>> = entries.iter().map(HistoryOut::new).collect();
    let mut out = json!({ "Parameters": entries });
    if let Some(t) = next {
        out["NextToken"] = t.into();
    }
    to_body(&out)
}

fn labels(c: &mut Check, v: &Option<Vec<String>>) -> Vec<String> {
    let labels = c.required(v, "labels").cloned().unwrap_or_default();
    if v.is_some() {
        c.count(labels.len(), "labels", 1, MAX_LABELS);
    }
    labels
}

fn version(c: &mut Check, v: Option<i64>) -> Option<u64> {
    let v = v?;
    c.range(v, "parameterVersion", 1, i64::MAX);
    u64::try_from(v).ok()
}

pub(super) fn label_parameter_version(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::LabelIn = parse(body)?;
    let mut c = Check::default();
    let name = name(&mut c, &r.name);
    let labels = labels(&mut c, &r.labels);
    let version = version(&mut c, r.parameter_version);
    c.finish()?;
    let (invalid, version) = ssm.label_parameter_version(caller, &name, version, &labels).map_err(ApiError::Ssm)?;
    to_body(&json!({ "InvalidLabels": invalid, "ParameterVersion": version }))
}

pub(super) fn unlabel_parameter_version(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::LabelIn = parse(body)?;
    let mut c = Check::default();
    let name = name(&mut c, &r.name);
    let labels = labels(&mut c, &r.labels);
    c.required(&r.parameter_version, "parameterVersion");
    let version = version(&mut c, r.parameter_version);
    c.finish()?;
    let (removed, invalid) =
        ssm.unlabel_parameter_version(caller, &name, version.unwrap_or_default(), &labels).map_err(ApiError::Ssm)?;
    to_body(&json!({ "RemovedLabels": removed, "InvalidLabels": invalid }))
}

/// `ResourceType` and `ResourceId` of the tagging operations; only `Parameter` resources exist here.
fn resource(c: &mut Check, r: &wire::TagsIn) -> (String, String) {
    const TYPES: &str = "Document, ManagedInstance, MaintenanceWindow, Parameter, PatchBaseline, OpsItem, OpsMetadata, Automation, Association";
    let rt = c.required(&r.resource_type, "resourceType").cloned().unwrap_or_default();
    if r.resource_type.is_some() {
        c.enumeration(Some(rt.as_str()), "resourceType", |s| TYPES.split(", ").find(|t| *t == s), TYPES);
    }
    let id = c.required(&r.resource_id, "resourceId").cloned().unwrap_or_default();
    (rt, id)
}

pub(super) fn add_tags(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::TagsIn = parse(body)?;
    let mut c = Check::default();
    let (rt, id) = resource(&mut c, &r);
    c.required(&r.tags, "tags");
    let tags = tags(&mut c, &r.tags);
    c.finish()?;
    ssm.add_tags(caller, &rt, &id, &tags).map_err(ApiError::Ssm)?;
    to_body(&json!({}))
}

pub(super) fn remove_tags(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::TagsIn = parse(body)?;
    let mut c = Check::default();
    let (rt, id) = resource(&mut c, &r);
    let keys = c.required(&r.tag_keys, "tagKeys").cloned().unwrap_or_default();
    c.finish()?;
    ssm.remove_tags(caller, &rt, &id, &keys).map_err(ApiError::Ssm)?;
    to_body(&json!({}))
}

pub(super) fn list_tags(ssm: &Ssm, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::TagsIn = parse(body)?;
    let mut c = Check::default();
    let (rt, id) = resource(&mut c, &r);
    c.finish()?;
    let tags = ssm.list_tags(caller, &rt, &id).map_err(ApiError::Ssm)?;
    let list: Vec<_> = tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
    to_body(&json!({ "TagList": list }))
}
