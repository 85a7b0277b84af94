//! One handler per implemented operation: parse the wire members into domain types (with AWS's validation
//! texts), call the service, encode the response.

use std::borrow::Cow;

use serde_json::json;
use trent_core::KmsError;
use trent_core::context::EncryptionContext;
use trent_core::ids::KeyRef;
use trent_core::model::{DataKeySpec, EncryptionAlgorithm, KeySpec, KeyUsage, Origin};
use trent_core::service::{
    Caller, CreateKeyRequest, DataKeySize, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, Kms,
    ListAliasesRequest, PageRequest, ReEncryptRequest,
};
use trent_crypto::SecretBytes;

use super::validate::{Check, decode_blob};
use super::wire::{self, B64, KeyMetadataOut, SecretB64, TagIn, epoch, parse, to_body};
use crate::error::ApiError;

pub(super) type Out = Result<Vec<u8>, ApiError>;

const MAX_KEY_ID: usize = 2048;
const MAX_PLAINTEXT: usize = 4096;
const MAX_CIPHERTEXT: usize = 6144;
const MAX_DESCRIPTION: usize = 8192;
const MAX_POLICY: usize = 131_072;
const MAX_GRANT_TOKENS: usize = 10;

/// Validates a required `KeyId` member and parses it into one of the four forms.
pub(super) fn key_id(check: &mut Check, v: &Option<String>, field: &str) -> Option<String> {
    let v = check.required(v, field)?;
    check.len(v, field, 1, MAX_KEY_ID);
    Some(v.clone())
}

pub(super) fn key_ref(raw: &str) -> Result<KeyRef, ApiError> {
    Ok(KeyRef::parse(raw)?)
}

fn grant_tokens(check: &mut Check, v: &Option<Vec<String>>) {
    if let Some(t) = v
        && t.len() > MAX_GRANT_TOKENS
    {
        check.range(t.len() as i64, "grantTokens", 0, MAX_GRANT_TOKENS as i64);
    }
}

fn context(v: Option<std::collections::BTreeMap<String, String>>) -> Result<EncryptionContext, ApiError> {
    Ok(EncryptionContext::try_new(v.unwrap_or_default())?)
}

pub(super) fn page(check: &mut Check, limit: Option<i64>, marker: Option<String>) -> PageRequest {
    if let Some(l) = limit {
        check.range(l, "limit", 1, 1000);
    }
    if let Some(m) = &marker {
        check.len(m, "marker", 1, 1024);
    }
    PageRequest { limit: limit.and_then(|l| u32::try_from(l).ok()), marker }
}

fn tags(check: &mut Check, v: &Option<Vec<TagIn>>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, t) in v.iter().flatten().enumerate() {
        let n = i + 1;
        let k = check.required(&t.tag_key, &format!("tags.{n}.member.tagKey")).cloned();
        let val = check.required(&t.tag_value, &format!("tags.{n}.member.tagValue")).cloned();
        if let (Some(k), Some(val)) = (k, val) {
            check.len(&k, &format!("tags.{n}.member.tagKey"), 1, 128);
            check.len(&val, &format!("tags.{n}.member.tagValue"), 0, 256);
            out.push((k, val));
        }
    }
    out
}

fn algorithm(check: &mut Check, v: Option<&str>, field: &str) -> Option<EncryptionAlgorithm> {
    check.enumeration(v, field, EncryptionAlgorithm::parse, EncryptionAlgorithm::enum_constraint)
}

/// The caller, carrying the request's DryRun flag into the service, which validates and authorizes, then
/// answers DryRunOperationException without executing anything.
pub(super) fn dry_caller(caller: &Caller, dry_run: Option<bool>) -> Cow<'_, Caller> {
    if dry_run == Some(true) { Cow::Owned(caller.with_dry_run(true)) } else { Cow::Borrowed(caller) }
}

/// The service's answer to a request that may be a dry run. A dry run the service let run to completion is a
/// bug (its effect has happened): it is reported as an internal error, never as a result.
pub(super) fn dry_run<T>(dry_run: Option<bool>, result: Result<T, KmsError>) -> Result<T, ApiError> {
    let value = result?;
    if dry_run == Some(true) {
        return Err(KmsError::internal("a DryRun request was executed").into());
    }
    Ok(value)
}

pub(crate) fn create_key(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::CreateKeyIn = parse(body)?;
    let mut c = Check::default();
    if let Some(d) = &r.description {
        c.len(d, "description", 0, MAX_DESCRIPTION);
    }
    if let Some(p) = &r.policy {
        c.len(p, "policy", 1, MAX_POLICY);
    }
    let key_spec = c.enumeration(r.key_spec.as_deref(), "keySpec", KeySpec::parse, KeySpec::enum_constraint);
    let cmk_spec = c.enumeration(
        r.customer_master_key_spec.as_deref(),
        "customerMasterKeySpec",
        KeySpec::parse,
        KeySpec::enum_constraint,
    );
    let key_usage = c.enumeration(r.key_usage.as_deref(), "keyUsage", KeyUsage::parse, KeyUsage::enum_constraint);
    let origin = c.enumeration(r.origin.as_deref(), "origin", Origin::parse, Origin::enum_constraint);
    let tags = tags(&mut c, &r.tags);
    c.finish()?;
    let m = kms.create_key(
        caller,
        CreateKeyRequest {
            description: r.description,
            key_spec,
            customer_master_key_spec: cmk_spec,
            key_usage,
            origin,
            policy: r.policy,
            bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check.unwrap_or(false),
            tags,
            multi_region: r.multi_region.unwrap_or(false),
            custom_key_store_id: r.custom_key_store_id,
            xks_key_id: r.xks_key_id,
        },
    )?;
    to_body(&json!({ "KeyMetadata": KeyMetadataOut::new(&m) }))
}

pub(crate) fn describe_key(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::KeyIdIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    grant_tokens(&mut c, &r.grant_tokens);
    c.finish()?;
    let raw = raw.unwrap_or_default();
    let m = kms.describe_key(caller, &key_ref(&raw)?)?;
    to_body(&json!({ "KeyMetadata": KeyMetadataOut::new(&m) }))
}

pub(crate) fn list_keys(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::ListIn = parse(body)?;
    let mut c = Check::default();
    let p = page(&mut c, r.limit, r.marker);
    c.finish()?;
    let res = kms.list_keys(caller, &p)?;
    let keys: Vec<_> = res.items.iter().map(|(id, arn)| json!({ "KeyId": id.to_string(), "KeyArn": arn })).collect();
    let mut out = json!({ "Keys": keys, "Truncated": res.next_marker.is_some() });
    if let Some(m) = res.next_marker {
        out["NextMarker"] = m.into();
    }
    to_body(&out)
}

/// Enable/DisableKey, CancelKeyDeletion and friends: a key id and nothing else.
pub(super) fn key_only(body: &[u8]) -> Result<(KeyRef, String), ApiError> {
    let r: wire::KeyIdIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.finish()?;
    let raw = raw.unwrap_or_default();
    Ok((key_ref(&raw)?, raw))
}

pub(crate) fn enable_key(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let (k, _raw) = key_only(body)?;
    kms.enable_key(caller, &k)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn disable_key(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let (k, _raw) = key_only(body)?;
    kms.disable_key(caller, &k)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn update_key_description(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::UpdateKeyDescriptionIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    if let Some(d) = c.required(&r.description, "description") {
        c.len(d, "description", 0, MAX_DESCRIPTION);
    }
    c.finish()?;
    let raw = raw.unwrap_or_default();
    kms.update_key_description(caller, &key_ref(&raw)?, r.description.unwrap_or_default())?;
    Ok(b"{}".to_vec())
}

pub(crate) fn schedule_key_deletion(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::ScheduleKeyDeletionIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    if let Some(d) = r.pending_window_in_days {
        c.range(d, "pendingWindowInDays", 1, 365);
    }
    c.finish()?;
    let raw = raw.unwrap_or_default();
    let days = r.pending_window_in_days.and_then(|d| u32::try_from(d).ok());
    let res = kms.schedule_key_deletion(caller, &key_ref(&raw)?, days)?;
    to_body(&json!({
        "KeyId": res.key_arn,
        "DeletionDate": epoch(res.deletion_date),
        "KeyState": res.key_state.as_str(),
        "PendingWindowInDays": res.pending_window_days,
    }))
}

pub(crate) fn cancel_key_deletion(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let (k, _raw) = key_only(body)?;
    let arn = kms.cancel_key_deletion(caller, &k)?;
    to_body(&json!({ "KeyId": arn }))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptOut<'a> {
    ciphertext_blob: B64<'a>,
    key_id: &'a str,
    encryption_algorithm: &'static str,
}

pub(crate) fn encrypt(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::EncryptIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    let plaintext = match c.required(&r.plaintext, "plaintext") {
        Some(p) => Some(SecretBytes::new(decode_blob(p, "Plaintext")?)),
        None => None,
    };
    if let Some(p) = &plaintext {
        c.blob_len(p.len(), "plaintext", 1, MAX_PLAINTEXT);
    }
    let alg = algorithm(&mut c, r.encryption_algorithm.as_deref(), "encryptionAlgorithm");
    grant_tokens(&mut c, &r.grant_tokens);
    c.finish()?;
    let (Some(raw), Some(plaintext)) = (raw, plaintext) else {
        return Err(KmsError::internal("validated members missing").into());
    };
    let res = dry_run(
        r.dry_run,
        kms.encrypt(
            &dry_caller(caller, r.dry_run),
            EncryptRequest { key: key_ref(&raw)?, plaintext, context: context(r.encryption_context)?, algorithm: alg },
        ),
    )?;
    to_body(&EncryptOut {
        ciphertext_blob: B64(&res.ciphertext),
        key_id: &res.key_arn,
        encryption_algorithm: res.algorithm.as_str(),
    })
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptOut<'a> {
    key_id: &'a str,
    plaintext: SecretB64<'a>,
    encryption_algorithm: &'static str,
    key_material_id: &'a str,
}

fn ciphertext(c: &mut Check, v: &Option<String>, field: &str, member: &str) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(b) = c.required(v, field) else { return Ok(None) };
    let bytes = decode_blob(b, member)?;
    c.blob_len(bytes.len(), field, 1, MAX_CIPHERTEXT);
    Ok(Some(bytes))
}

pub(crate) fn decrypt(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::DecryptIn = parse(body)?;
    let mut c = Check::default();
    let blob = ciphertext(&mut c, &r.ciphertext_blob, "ciphertextBlob", "CiphertextBlob")?;
    if let Some(k) = &r.key_id {
        c.len(k, "keyId", 1, MAX_KEY_ID);
    }
    let alg = algorithm(&mut c, r.encryption_algorithm.as_deref(), "encryptionAlgorithm");
    grant_tokens(&mut c, &r.grant_tokens);
    c.finish()?;
    if r.recipient.is_some() {
        return Err(KmsError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by Trent.".into(),
        )
        .into());
    }
    let key = r.key_id.as_deref().map(key_ref).transpose()?;
    let res = dry_run(
        r.dry_run,
        kms.decrypt(
            &dry_caller(caller, r.dry_run),
            DecryptRequest {
                ciphertext: blob.unwrap_or_default(),
                context: context(r.encryption_context)?,
                key,
                algorithm: alg,
            },
        ),
    )?;
    to_body(&DecryptOut {
        key_id: &res.key_arn,
        plaintext: SecretB64(&res.plaintext),
        encryption_algorithm: res.algorithm.as_str(),
        key_material_id: &res.material_id,
    })
}

pub(crate) fn re_encrypt(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::ReEncryptIn = parse(body)?;
    let mut c = Check::default();
    let blob = ciphertext(&mut c, &r.ciphertext_blob, "ciphertextBlob", "CiphertextBlob")?;
    let dest = key_id(&mut c, &r.destination_key_id, "destinationKeyId");
    if let Some(k) = &r.source_key_id {
        c.len(k, "sourceKeyId", 1, MAX_KEY_ID);
    }
    let src_alg = algorithm(&mut c, r.source_encryption_algorithm.as_deref(), "sourceEncryptionAlgorithm");
    let dst_alg = algorithm(&mut c, r.destination_encryption_algorithm.as_deref(), "destinationEncryptionAlgorithm");
    grant_tokens(&mut c, &r.grant_tokens);
    c.finish()?;
    let source_key = r.source_key_id.as_deref().map(key_ref).transpose()?;
    let res = dry_run(
        r.dry_run,
        kms.re_encrypt(
            &dry_caller(caller, r.dry_run),
            ReEncryptRequest {
                ciphertext: blob.unwrap_or_default(),
                source_context: context(r.source_encryption_context)?,
                source_key,
                source_algorithm: src_alg,
                destination_key: key_ref(&dest.unwrap_or_default())?,
                destination_context: context(r.destination_encryption_context)?,
                destination_algorithm: dst_alg,
            },
        ),
    )?;
    to_body(&json!({
        "CiphertextBlob": B64(&res.ciphertext),
        "SourceKeyId": res.source_key_arn,
        "KeyId": res.key_arn,
        "SourceEncryptionAlgorithm": res.source_algorithm.as_str(),
        "DestinationEncryptionAlgorithm": res.destination_algorithm.as_str(),
        "SourceKeyMaterialId": res.source_material_id,
        "DestinationKeyMaterialId": res.destination_material_id,
    }))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyOut<'a> {
    ciphertext_blob: B64<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<SecretB64<'a>>,
    key_id: &'a str,
    key_material_id: &'a str,
}

pub(crate) fn generate_data_key(kms: &Kms, caller: &Caller, body: &[u8], with_plaintext: bool) -> Out {
    let r: wire::GenerateDataKeyIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    if let Some(n) = r.number_of_bytes {
        c.range(n, "numberOfBytes", 1, 1024);
    }
    let spec = c.enumeration(r.key_spec.as_deref(), "keySpec", DataKeySpec::parse, DataKeySpec::enum_constraint);
    grant_tokens(&mut c, &r.grant_tokens);
    c.finish()?;
    if r.recipient.is_some() {
        return Err(KmsError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by Trent.".into(),
        )
        .into());
    }
    let size = DataKeySize::from_fields(spec, r.number_of_bytes.and_then(|n| usize::try_from(n).ok()))?;
    let res = dry_run(
        r.dry_run,
        kms.generate_data_key(
            &dry_caller(caller, r.dry_run),
            GenerateDataKeyRequest {
                key: key_ref(&raw.unwrap_or_default())?,
                size,
                context: context(r.encryption_context)?,
            },
            with_plaintext,
        ),
    )?;
    to_body(&DataKeyOut {
        ciphertext_blob: B64(&res.ciphertext),
        plaintext: res.plaintext.as_ref().map(SecretB64),
        key_id: &res.key_arn,
        key_material_id: &res.material_id,
    })
}

pub(crate) fn generate_random(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::GenerateRandomIn = parse(body)?;
    let Some(n) = r.number_of_bytes else {
        return Err(KmsError::Validation("NumberOfBytes is required.".into()).into());
    };
    let mut c = Check::default();
    c.range(n, "numberOfBytes", 1, 1024);
    c.finish()?;
    if r.custom_key_store_id.is_some() || r.recipient.is_some() {
        return Err(KmsError::UnsupportedOperation(
            "Custom key stores and Recipient are not supported by Trent.".into(),
        )
        .into());
    }
    let bytes = kms.generate_random(caller, usize::try_from(n).unwrap_or(0))?;
    to_body(&json!({ "Plaintext": SecretB64(&bytes) }))
}

fn alias_members(body: &[u8], need_target: bool) -> Result<(String, String), ApiError> {
    let r: wire::AliasIn = parse(body)?;
    let mut c = Check::default();
    if let Some(a) = c.required(&r.alias_name, "aliasName") {
        c.len(a, "aliasName", 1, 256);
    }
    if need_target {
        key_id(&mut c, &r.target_key_id, "targetKeyId");
    }
    c.finish()?;
    Ok((r.alias_name.unwrap_or_default(), r.target_key_id.unwrap_or_default()))
}

pub(crate) fn create_alias(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let (name, target) = alias_members(body, true)?;
    kms.create_alias(caller, &name, &target)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn update_alias(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let (name, target) = alias_members(body, true)?;
    kms.update_alias(caller, &name, &target)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn delete_alias(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let (name, _) = alias_members(body, false)?;
    kms.delete_alias(caller, &name)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn list_aliases(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::ListIn = parse(body)?;
    let mut c = Check::default();
    if let Some(k) = &r.key_id {
        c.len(k, "keyId", 1, MAX_KEY_ID);
    }
    let p = page(&mut c, r.limit, r.marker);
    c.finish()?;
    let key = r.key_id.as_deref().map(key_ref).transpose()?;
    let res = kms.list_aliases(caller, &ListAliasesRequest { key, page: p })?;
    let aliases: Vec<_> = res
        .items
        .iter()
        .map(|a| {
            json!({
                "AliasName": a.name.as_str(),
                "AliasArn": a.arn,
                "TargetKeyId": a.target.to_string(),
                "CreationDate": epoch(a.created),
                "LastUpdatedDate": epoch(a.updated),
            })
        })
        .collect();
    let mut out = json!({ "Aliases": aliases, "Truncated": res.next_marker.is_some() });
    if let Some(m) = res.next_marker {
        out["NextMarker"] = m.into();
    }
    to_body(&out)
}

pub(crate) fn tag_resource(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::TagResourceIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.required(&r.tags, "tags");
    let t = tags(&mut c, &r.tags);
    c.finish()?;
    let raw = raw.unwrap_or_default();
    kms.tag_resource(caller, &key_ref(&raw)?, &t)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn untag_resource(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::TagResourceIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.required(&r.tag_keys, "tagKeys");
    for (i, k) in r.tag_keys.iter().flatten().enumerate() {
        c.len(k, &format!("tagKeys.{}.member", i + 1), 1, 128);
    }
    c.finish()?;
    let raw = raw.unwrap_or_default();
    kms.untag_resource(caller, &key_ref(&raw)?, &r.tag_keys.unwrap_or_default())?;
    Ok(b"{}".to_vec())
}

pub(crate) fn list_resource_tags(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::ListIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    let p = page(&mut c, r.limit, r.marker);
    c.finish()?;
    let raw = raw.unwrap_or_default();
    let res = kms.list_resource_tags(caller, &key_ref(&raw)?, &p)?;
    let tags: Vec<_> = res.items.iter().map(|(k, v)| json!({ "TagKey": k, "TagValue": v })).collect();
    let mut out = json!({ "Tags": tags, "Truncated": res.next_marker.is_some() });
    if let Some(m) = res.next_marker {
        out["NextMarker"] = m.into();
    }
    to_body(&out)
}

fn policy_members(body: &[u8], need_policy: bool) -> Result<(wire::KeyPolicyIn, KeyRef, String), ApiError> {
    let r: wire::KeyPolicyIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    if let Some(n) = &r.policy_name {
        c.len(n, "policyName", 1, 128);
    }
    if need_policy && let Some(p) = c.required(&r.policy, "policy") {
        c.len(p, "policy", 1, MAX_POLICY);
    }
    c.finish()?;
    let raw = raw.unwrap_or_default();
    let k = key_ref(&raw)?;
    Ok((r, k, raw))
}

pub(crate) fn get_key_policy(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let (r, k, _raw) = policy_members(body, false)?;
    let policy = kms.get_key_policy(caller, &k, r.policy_name.as_deref())?;
    to_body(&json!({ "Policy": policy, "PolicyName": r.policy_name.as_deref().unwrap_or("default") }))
}

pub(crate) fn put_key_policy(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let (r, k, _raw) = policy_members(body, true)?;
    kms.put_key_policy(
        caller,
        &k,
        r.policy_name.as_deref(),
        r.policy.unwrap_or_default(),
        r.bypass_policy_lockout_safety_check.unwrap_or(false),
    )?;
    Ok(b"{}".to_vec())
}

pub(crate) fn list_key_policies(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let (r, k, _raw) = policy_members(body, false)?;
    let mut c = Check::default();
    page(&mut c, r.limit, r.marker);
    c.finish()?;
    let names = kms.list_key_policies(caller, &k)?;
    to_body(&json!({ "PolicyNames": names, "Truncated": false }))
}
