//! The `Ssm` service: one method per Parameter Store operation. SecureString values are encrypted and
//! decrypted by the `Kms` service with the caller's own `Caller`, under the encryption context
//! `{"PARAMETER_ARN": <parameter ARN>}`, as AWS Systems Manager calls AWS KMS.

use std::collections::BTreeMap;
use std::sync::Arc;

use trent_crypto::SecretBytes;

use super::filters::{self, FilterContext, FilterKey, ParameterFilter, RawFilter};
use super::names::{self, Selector, parameter_arn, parse_selector};
use super::policies::{self, PolicyEntry};
use super::store::{ParameterRecord, ParameterStore, VersionRecord};
use super::{ParameterType, SsmError, Tier};
use super::{envelope, versions};
use crate::context::EncryptionContext;
use crate::ids::KeyRef;
use crate::model::Timestamp;
use crate::service::{Caller, DecryptRequest, DelegatedCall, EncryptRequest, Kms};

/// The AWS managed key Parameter Store uses when a SecureString names none.
pub const DEFAULT_KEY: &str = "alias/aws/ssm";
const STANDARD_MAX_VALUE: usize = 4096;
const ADVANCED_MAX_VALUE: usize = 8192;
const MAX_TAGS: usize = 50;
/// How many records one store read brings when a page is filtered.
const SCAN_BATCH: usize = 50;

/// PutParameter, parsed. Debug is safe: the value is `SecretBytes`, whose Debug is redacted.
#[derive(Debug)]
pub struct PutRequest {
    pub name: String,
    pub value: SecretBytes,
    pub kind: Option<ParameterType>,
    pub description: Option<String>,
    pub key_id: Option<String>,
    pub overwrite: bool,
    pub allowed_pattern: Option<String>,
    pub tags: Vec<(String, String)>,
    pub tier: Option<Tier>,
    pub policies: Option<String>,
    pub data_type: Option<String>,
}

/// A value as returned: text, a SecureString's ciphertext (without decryption), or its plaintext.
#[derive(Debug)]
pub enum ParameterValue {
    Text(String),
    Ciphertext(Vec<u8>),
    Secret(SecretBytes),
}

#[derive(Debug)]
pub struct ParameterView {
    pub name: String,
    pub kind: ParameterType,
    pub value: ParameterValue,
    pub version: u64,
    pub selector: Option<String>,
    pub last_modified: Timestamp,
    pub arn: String,
    pub data_type: String,
}

/// DescribeParameters reports metadata, never values.
#[derive(Debug, Clone)]
pub struct ParameterMetadata {
    pub name: String,
    pub arn: String,
    pub kind: ParameterType,
    pub key_id: Option<String>,
    pub last_modified: Timestamp,
    pub last_modified_user: String,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    pub version: u64,
    pub tier: Tier,
    pub policies: Vec<PolicyEntry>,
    pub data_type: String,
}

#[derive(Debug)]
pub struct HistoryEntry {
    pub meta: ParameterMetadata,
    pub value: ParameterValue,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PathRequest {
    pub path: String,
    pub recursive: bool,
    pub filters: Vec<RawFilter>,
    pub with_decryption: bool,
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DescribeRequest {
    pub filters: Vec<(String, Vec<String>)>,
    pub parameter_filters: Vec<RawFilter>,
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

pub struct Ssm {
    kms: Arc<Kms>,
    store: Arc<dyn ParameterStore>,
}

impl Ssm {
    pub fn new(kms: Arc<Kms>, store: Arc<dyn ParameterStore>) -> Self {
        Self { kms, store }
    }

    fn arn(&self, caller: &Caller, name: &str) -> String {
        parameter_arn(self.kms.region(), &caller.account, name)
    }

    /// `ssm:<Action>` on the parameter, by the caller's IAM policies (the same engine as KMS).
    fn authorize(&self, caller: &Caller, action: &str, name: &str) -> Result<(), SsmError> {
        Ok(self.kms.authorize_iam(caller, action, &self.arn(caller, name))?)
    }

    /// One pair whose value is a parameter ARN (at most 2048 characters) always fits the context's limits,
    /// so a failure here is an internal error, not the caller's.
    fn context(arn: &str) -> Result<EncryptionContext, SsmError> {
        EncryptionContext::try_new(BTreeMap::from([("PARAMETER_ARN".to_owned(), arn.to_owned())]))
            .map_err(SsmError::internal)
    }

    fn load(&self, caller: &Caller, name: &str) -> Result<ParameterRecord, SsmError> {
        self.store.parameter(&caller.account, name)?.ok_or_else(|| SsmError::not_found(name))
    }

    pub fn put_parameter(&self, caller: &Caller, req: PutRequest) -> Result<(u64, Tier), SsmError> {
        let name = names::validate_new_name(&req.name, self.kms.region(), &caller.account)?;
        self.authorize(caller, "ssm:PutParameter", &name)?;
        if req.overwrite && !req.tags.is_empty() {
            return Err(SsmError::Validation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.".into()));
        }
        let text = std::str::from_utf8(req.value.expose_secret()) // checked against limits and AllowedPattern
            .map_err(|_| SsmError::Validation("The parameter value must be UTF-8 text.".into()))?;
        let chars = text.chars().count();
        if chars == 0 {
            return Err(SsmError::Validation("1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1".into()));
        }
        let data_type = req.data_type.clone().unwrap_or_else(|| "text".into());
        if !matches!(data_type.as_str(), "text" | "aws:ec2:image" | "aws:ssm:integration") {
            return Err(SsmError::Validation(format!(
                "The following data type is not supported: {data_type} (Data type names are all lowercase.)"
            )));
        }
        let existing = self.store.parameter(&caller.account, &name)?;
        let previous = existing.as_ref().and_then(ParameterRecord::latest);
        if previous.is_some() && !req.overwrite {
            return Err(SsmError::ParameterAlreadyExists);
        }
        let kind = req
            .kind
            .or(previous.map(|p| p.kind))
            .ok_or_else(|| SsmError::Validation("A parameter type is required when you create a parameter.".into()))?;
        if let Some(prev) = previous.filter(|p| p.kind != kind && name.contains('/')) {
            return Err(SsmError::HierarchyTypeMismatch(format!(
                "The parameter type can't be changed for a parameter in a hierarchy: {name} is a {}. Create a new parameter instead.",
                prev.kind
            )));
        }
        let policies_doc = req.policies.clone().or_else(|| previous.and_then(|p| p.policies.clone()));
        let tier = resolve_tier(req.tier, previous.map(|p| p.tier), chars, policies_doc.is_some())?;
        if chars > ADVANCED_MAX_VALUE {
            return Err(SsmError::Validation(format!(
                "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length less than or equal to {ADVANCED_MAX_VALUE}"
            )));
        }
        let expires = match &policies_doc {
            Some(_) if tier == Tier::Standard && req.policies.is_some() => {
                return Err(SsmError::Validation("Standard tier parameters don't support parameter policies. Use the advanced-parameter tier to set policies.".into()));
            }
            Some(doc) => policies::parse(doc)?.1,
            None => None,
        };
        // Only a newly sent Expiration must lie ahead; a kept one is as valid as when it was set.
        if req.policies.is_some() && expires.is_some_and(|t| t <= self.kms.clock().now()) {
            return Err(SsmError::InvalidPolicyAttribute(
                "The Expiration policy timestamp must be a date and time in the future.".into(),
            ));
        }
        let allowed_pattern = req.allowed_pattern.clone().or_else(|| previous.and_then(|p| p.allowed_pattern.clone()));
        if let Some(pattern) = &allowed_pattern {
            let re = regex_lite::Regex::new(pattern).map_err(|_| {
                SsmError::InvalidAllowedPattern(format!(
                    "The allowed pattern {pattern} is not a valid regular expression."
                ))
            })?;
            if !re.is_match(text) {
                return Err(SsmError::ParameterPatternMismatch(format!(
                    "Parameter value, cannot be validated against allowedPattern: {pattern}"
                )));
            }
        }
        let arn = self.arn(caller, &name);
        let (value, key_id) = if kind == ParameterType::SecureString {
            let key_id = req
                .key_id
                .clone()
                .or_else(|| previous.filter(|p| p.kind == ParameterType::SecureString).and_then(|p| p.key_id.clone()))
                .unwrap_or_else(|| DEFAULT_KEY.to_owned());
            let key = self.key_ref(caller, &key_id)?;
            let plaintext = SecretBytes::new(req.value.expose_secret().to_vec()); // handed to KMS or the envelope
            let sealed = if tier == Tier::Standard {
                let context = Self::context(&arn)?;
                let request = EncryptRequest { key, plaintext, context: context.clone(), algorithm: None };
                let result = self.kms.encrypt(&self.via(caller), request);
                caller.note_delegated(DelegatedCall::new("Encrypt", Some(key_id.clone()), &context, &result, |r| {
                    &r.key_arn
                }));
                result?.ciphertext
            } else {
                // Advanced values may exceed KMS's 4 KB: envelope encryption, as AWS does.
                envelope::seal(&self.kms, &self.via(caller), key, &key_id, Self::context(&arn)?, &arn, &plaintext)?
            };
            (sealed, Some(key_id))
        } else {
            (text.as_bytes().to_vec(), None)
        };
        let version = VersionRecord {
            version: 0,
            kind,
            value,
            key_id,
            description: req.description.clone().or_else(|| previous.and_then(|p| p.description.clone())),
            allowed_pattern,
            data_type,
            tier,
            policies: policies_doc,
            labels: Vec::new(),
            modified: self.kms.clock().now(),
            modified_user: caller.principal_arn.clone(),
        };
        let tags: BTreeMap<String, String> = req.tags.iter().cloned().collect();
        if tags.len() > MAX_TAGS {
            return Err(too_many_tags());
        }
        let overwrite = req.overwrite;
        let stored = self.store.update_parameter(&caller.account, &name, &mut |current| {
            // Checked again inside the transaction: another request may have created it meanwhile.
            let p = match current {
                Some(_) if !overwrite => return Err(SsmError::ParameterAlreadyExists),
                Some(p) => p,
                None => current.insert(ParameterRecord {
                    account: caller.account.clone(),
                    name: name.clone(),
                    tags: tags.clone(),
                    versions: Vec::new(),
                    expires: None,
                }),
            };
            let mut v = version.clone();
            v.version = p.latest().map_or(1, |l| l.version + 1);
            versions::push_version(p, v)?;
            p.expires = expires;
            Ok(())
        })?;
        let version = stored.as_ref().and_then(ParameterRecord::latest).map_or(1, |v| v.version);
        tracing::info!(parameter = %arn, version, "parameter stored");
        Ok((version, tier))
    }

    /// A KeyId as Parameter Store accepts it; the AWS managed key is created on first use.
    fn key_ref(&self, caller: &Caller, key_id: &str) -> Result<KeyRef, SsmError> {
        let valid = !key_id.is_empty()
            && key_id.len() <= 256
            && key_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'));
        if !valid {
            return Err(SsmError::Validation(format!(
                "1 validation error detected: Value '{key_id}' at 'keyId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-zA-Z0-9:/_-]+)$"
            )));
        }
        if key_id == DEFAULT_KEY {
            return Ok(self.kms.aws_managed_key(caller, "ssm")?);
        }
        KeyRef::parse(key_id).map_err(|_| SsmError::InvalidKeyId(format!("Invalid keyId {key_id}")))
    }

    /// Parameter Store calls KMS on the caller's behalf, with the caller's own permissions; the
    /// `kms:ViaService` condition key names Parameter Store, as AWS managed keys' policies require.
    fn via(&self, caller: &Caller) -> Caller {
        caller.via(format!("ssm.{}.amazonaws.com", self.kms.region()))
    }

    fn value(&self, caller: &Caller, arn: &str, v: &VersionRecord, decrypt: bool) -> Result<ParameterValue, SsmError> {
        match v.kind {
            ParameterType::SecureString if decrypt && envelope::is_envelope(&v.value) => Ok(ParameterValue::Secret(
                envelope::open(&self.kms, &self.via(caller), Self::context(arn)?, arn, &v.value)?,
            )),
            ParameterType::SecureString if decrypt => {
                let context = Self::context(arn)?;
                let request = DecryptRequest {
                    ciphertext: v.value.clone(),
                    context: context.clone(),
                    key: None,
                    algorithm: None,
                };
                let result = self.kms.decrypt(&self.via(caller), request);
                caller.note_delegated(DelegatedCall::new("Decrypt", None, &context, &result, |r| &r.key_arn));
                Ok(ParameterValue::Secret(result?.plaintext))
            }
            ParameterType::SecureString => Ok(ParameterValue::Ciphertext(v.value.clone())),
            _ => Ok(ParameterValue::Text(String::from_utf8_lossy(&v.value).into_owned())),
        }
    }

    fn view(
        &self,
        caller: &Caller,
        p: &ParameterRecord,
        v: &VersionRecord,
        sel: &Selector,
        decrypt: bool,
    ) -> Result<ParameterView, SsmError> {
        let arn = self.arn(caller, &p.name);
        Ok(ParameterView {
            name: p.name.clone(),
            kind: v.kind,
            value: self.value(caller, &arn, v, decrypt)?,
            version: v.version,
            selector: sel.wire(),
            last_modified: v.modified,
            arn,
            data_type: v.data_type.clone(),
        })
    }

    fn metadata(&self, caller: &Caller, p: &ParameterRecord, v: &VersionRecord) -> ParameterMetadata {
        ParameterMetadata {
            name: p.name.clone(),
            arn: self.arn(caller, &p.name),
            kind: v.kind,
            key_id: v.key_id.clone(),
            last_modified: v.modified,
            last_modified_user: v.modified_user.clone(),
            description: v.description.clone(),
            allowed_pattern: v.allowed_pattern.clone(),
            version: v.version,
            tier: v.tier,
            policies: v.policies.as_deref().and_then(|d| policies::parse(d).ok()).map(|p| p.0).unwrap_or_default(),
            data_type: v.data_type.clone(),
        }
    }

    pub fn get_parameter(&self, caller: &Caller, raw: &str, decrypt: bool) -> Result<ParameterView, SsmError> {
        self.get_parameter_as(caller, raw, decrypt, "ssm:GetParameter")
    }

    fn get_parameter_as(
        &self,
        caller: &Caller,
        raw: &str,
        decrypt: bool,
        action: &str,
    ) -> Result<ParameterView, SsmError> {
        let (name, sel) = parse_selector(raw);
        self.authorize(caller, action, &name)?;
        let p = self.load(caller, &name)?;
        let v = versions::select(&p, &sel)?;
        self.view(caller, &p, v, &sel, decrypt)
    }

    /// Returns the parameters found and the names that were not (listed, not raised, as AWS does).
    pub fn get_parameters(
        &self,
        caller: &Caller,
        raws: &[String],
        decrypt: bool,
    ) -> Result<(Vec<ParameterView>, Vec<String>), SsmError> {
        let (mut found, mut invalid) = (Vec::new(), Vec::new());
        let mut seen = std::collections::HashSet::new();
        for raw in raws.iter().filter(|r| seen.insert(r.as_str())) {
            match self.get_parameter_as(caller, raw, decrypt, "ssm:GetParameters") {
                Ok(v) => found.push(v),
                Err(SsmError::ParameterNotFound(_) | SsmError::ParameterVersionNotFound(_)) => {
                    invalid.push(raw.clone())
                }
                Err(e) => return Err(e),
            }
        }
        Ok((found, invalid))
    }

    /// Walks the account's parameters by name from the token on, keeping those `keep` accepts, until a page
    /// is full. Returns the page and the token of the next one.
    fn scan<T>(
        &self,
        caller: &Caller,
        prefix: &str,
        token: Option<&str>,
        max: usize,
        mut keep: impl FnMut(&ParameterRecord) -> Result<Option<T>, SsmError>,
    ) -> Result<(Vec<T>, Option<String>), SsmError> {
        let mut after = token.map(names::decode_token).transpose()?;
        let mut out = Vec::new();
        loop {
            let batch = self.store.list_parameters(&caller.account, prefix, after.as_deref(), SCAN_BATCH)?;
            let full_batch = batch.len() == SCAN_BATCH;
            for (i, p) in batch.iter().enumerate() {
                if let Some(item) = keep(p)? {
                    out.push(item);
                }
                if out.len() == max {
                    let more = i + 1 < batch.len() || full_batch;
                    return Ok((out, more.then(|| names::encode_token(&p.name))));
                }
            }
            match batch.last() {
                Some(last) if full_batch => after = Some(last.name.clone()),
                _ => return Ok((out, None)),
            }
        }
    }

    pub fn get_parameters_by_path(
        &self,
        caller: &Caller,
        req: &PathRequest,
    ) -> Result<(Vec<ParameterView>, Option<String>), SsmError> {
        names::validate_path(&req.path)?;
        self.authorize(caller, "ssm:GetParametersByPath", &req.path)?;
        let filters = filters::parse_filters(&req.filters, FilterContext::ByPath)?;
        let label = filters.iter().find(|f| f.key == FilterKey::Label).cloned();
        let prefix = if req.path == "/" { String::new() } else { format!("{}/", req.path.trim_end_matches('/')) };
        let max = req.max_results.unwrap_or(10);
        self.scan(caller, &prefix, req.next_token.as_deref(), max, |p| {
            if !filters::under_path(&p.name, &req.path, req.recursive) {
                return Ok(None);
            }
            // With a Label filter the labelled version is the one reported.
            let v = match &label {
                Some(f) => p.versions.iter().find(|v| v.labels.iter().any(|l| f.values.contains(l))),
                None => p.latest(),
            };
            match v {
                Some(v) if filters::matches(p, v, &filters) => {
                    Ok(Some(self.view(caller, p, v, &Selector::Latest, req.with_decryption)?))
                }
                _ => Ok(None),
            }
        })
    }

    pub fn describe_parameters(
        &self,
        caller: &Caller,
        req: &DescribeRequest,
    ) -> Result<(Vec<ParameterMetadata>, Option<String>), SsmError> {
        self.kms.authorize_iam(caller, "ssm:DescribeParameters", "*")?;
        if !req.filters.is_empty() && !req.parameter_filters.is_empty() {
            return Err(SsmError::Validation(
                "You can use either Filters or ParameterFilters in a single request.".into(),
            ));
        }
        let filters: Vec<ParameterFilter> = if req.filters.is_empty() {
            filters::parse_filters(&req.parameter_filters, FilterContext::Describe)?
        } else {
            filters::parse_legacy(&req.filters)?
        };
        let max = req.max_results.unwrap_or(50);
        self.scan(caller, "", req.next_token.as_deref(), max, |p| {
            Ok(p.latest().filter(|v| filters::matches(p, v, &filters)).map(|v| self.metadata(caller, p, v)))
        })
    }

    pub fn get_parameter_history(
        &self,
        caller: &Caller,
        raw: &str,
        decrypt: bool,
        max_results: Option<usize>,
        token: Option<&str>,
    ) -> Result<(Vec<HistoryEntry>, Option<String>), SsmError> {
        let name = names::plain_name(raw);
        self.authorize(caller, "ssm:GetParameterHistory", &name)?;
        let p = self.load(caller, &name)?;
        let after: u64 = match token {
            Some(t) => names::decode_token(t)?.parse().map_err(|_| SsmError::InvalidNextToken)?,
            None => 0,
        };
        let max = max_results.unwrap_or(50);
        let arn = self.arn(caller, &p.name);
        let rest: Vec<&VersionRecord> = p.versions.iter().filter(|v| v.version > after).collect();
        let mut out = Vec::new();
        for v in rest.iter().take(max) {
            out.push(HistoryEntry {
                meta: self.metadata(caller, &p, v),
                value: self.value(caller, &arn, v, decrypt)?,
                labels: v.labels.clone(),
            });
        }
        let next =
            (rest.len() > max).then(|| names::encode_token(&out.last().map_or(0, |e| e.meta.version).to_string()));
        Ok((out, next))
    }

    /// Returns the invalid labels and the version labelled.
    pub fn label_parameter_version(
        &self,
        caller: &Caller,
        raw: &str,
        version: Option<u64>,
        labels: &[String],
    ) -> Result<(Vec<String>, u64), SsmError> {
        let name = names::plain_name(raw);
        self.authorize(caller, "ssm:LabelParameterVersion", &name)?;
        let mut result = (Vec::new(), 0);
        self.store.update_parameter(&caller.account, &name, &mut |current| {
            let p = current.as_mut().ok_or_else(|| SsmError::not_found(&name))?;
            result = versions::label(p, version, labels)?;
            Ok(())
        })?;
        Ok(result)
    }

    /// Returns the removed and the invalid labels.
    pub fn unlabel_parameter_version(
        &self,
        caller: &Caller,
        raw: &str,
        version: u64,
        labels: &[String],
    ) -> Result<(Vec<String>, Vec<String>), SsmError> {
        let name = names::plain_name(raw);
        self.authorize(caller, "ssm:UnlabelParameterVersion", &name)?;
        let mut result = (Vec::new(), Vec::new());
        self.store.update_parameter(&caller.account, &name, &mut |current| {
            let p = current.as_mut().ok_or_else(|| SsmError::not_found(&name))?;
            result = versions::unlabel(p, version, labels)?;
            Ok(())
        })?;
        Ok(result)
    }

    pub fn delete_parameter(&self, caller: &Caller, raw: &str) -> Result<(), SsmError> {
        self.delete_parameter_as(caller, raw, "ssm:DeleteParameter")
    }

    fn delete_parameter_as(&self, caller: &Caller, raw: &str, action: &str) -> Result<(), SsmError> {
        let name = names::plain_name(raw);
        self.authorize(caller, action, &name)?;
        self.store.update_parameter(&caller.account, &name, &mut |current| match current.take() {
            Some(_) => Ok(()),
            None => Err(SsmError::not_found(&name)),
        })?;
        tracing::info!(parameter = %self.arn(caller, &name), "parameter deleted");
        Ok(())
    }

    /// Returns the deleted names and the names that did not exist.
    pub fn delete_parameters(&self, caller: &Caller, raws: &[String]) -> Result<(Vec<String>, Vec<String>), SsmError> {
        let (mut deleted, mut invalid) = (Vec::new(), Vec::new());
        for raw in raws {
            match self.delete_parameter_as(caller, raw, "ssm:DeleteParameters") {
                Ok(()) => deleted.push(raw.clone()),
                Err(SsmError::ParameterNotFound(_)) => invalid.push(raw.clone()),
                Err(e) => return Err(e),
            }
        }
        Ok((deleted, invalid))
    }

    fn update_tags(
        &self,
        caller: &Caller,
        resource_type: &str,
        resource_id: &str,
        action: &str,
        change: TagChange<'_>,
    ) -> Result<BTreeMap<String, String>, SsmError> {
        if resource_type != "Parameter" {
            return Err(SsmError::InvalidResourceType);
        }
        let name = names::plain_name(resource_id);
        self.authorize(caller, action, &name)?;
        let mut tags = BTreeMap::new();
        self.store.update_parameter(&caller.account, &name, &mut |current| {
            let p = current.as_mut().ok_or(SsmError::InvalidResourceId)?;
            change(&mut p.tags)?;
            tags = p.tags.clone();
            Ok(())
        })?;
        Ok(tags)
    }

    pub fn add_tags(
        &self,
        caller: &Caller,
        resource_type: &str,
        resource_id: &str,
        new: &[(String, String)],
    ) -> Result<(), SsmError> {
        self.update_tags(caller, resource_type, resource_id, "ssm:AddTagsToResource", &mut |tags| {
            tags.extend(new.iter().cloned());
            if tags.len() > MAX_TAGS { Err(too_many_tags()) } else { Ok(()) }
        })
        .map(|_| ())
    }

    pub fn remove_tags(
        &self,
        caller: &Caller,
        resource_type: &str,
        resource_id: &str,
        keys: &[String],
    ) -> Result<(), SsmError> {
        self.update_tags(caller, resource_type, resource_id, "ssm:RemoveTagsFromResource", &mut |tags| {
            tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
        .map(|_| ())
    }

    pub fn list_tags(
        &self,
        caller: &Caller,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<BTreeMap<String, String>, SsmError> {
        if resource_type != "Parameter" {
            return Err(SsmError::InvalidResourceType);
        }
        let name = names::plain_name(resource_id);
        self.authorize(caller, "ssm:ListTagsForResource", &name)?;
        Ok(self.store.parameter(&caller.account, &name)?.ok_or(SsmError::InvalidResourceId)?.tags)
    }

    /// The scheduler's work: deletes parameters whose Expiration policy time has passed. Returns how many.
    pub fn run_due_jobs(&self) -> Result<usize, SsmError> {
        let now = self.kms.clock().now();
        let mut deleted = 0;
        for (account, name) in self.store.parameters_expiring(now.0)? {
            self.store.update_parameter(&account, &name, &mut |current| {
                // Re-checked in the transaction: an overwrite may have moved or removed the expiration.
                if current.as_ref().and_then(|p| p.expires).is_some_and(|t| t <= now) {
                    *current = None;
                    deleted += 1;
                }
                Ok(())
            })?;
            tracing::info!(%account, parameter = %name, "parameter expired");
        }
        Ok(deleted)
    }
}

/// A change to a parameter's tags, applied inside the store transaction.
type TagChange<'a> = &'a mut dyn FnMut(&mut BTreeMap<String, String>) -> Result<(), SsmError>;

fn too_many_tags() -> SsmError {
    SsmError::TooManyTags("The Tags parameter contains too many tags. A resource can have at most 50 tags.".into())
}

/// The tier a new version is stored in: never back from Advanced, Intelligent-Tiering promotes only when the
/// value or policies need it, and Standard holds at most 4096 characters.
fn resolve_tier(
    requested: Option<Tier>,
    previous: Option<Tier>,
    chars: usize,
    has_policies: bool,
) -> Result<Tier, SsmError> {
    let tier = match requested.or(previous).unwrap_or(Tier::Standard) {
        Tier::IntelligentTiering if chars > STANDARD_MAX_VALUE || has_policies => Tier::Advanced,
        Tier::IntelligentTiering => previous.unwrap_or(Tier::Standard),
        t => t,
    };
    if previous == Some(Tier::Advanced) && tier == Tier::Standard {
        return Err(SsmError::Validation("This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.".into()));
    }
    if tier == Tier::Standard && chars > STANDARD_MAX_VALUE {
        return Err(SsmError::Validation("Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html".into()));
    }
    Ok(tier)
}
