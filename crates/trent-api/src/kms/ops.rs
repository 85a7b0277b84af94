//! One handler per implemented operation: read the typed request (`request`), call the service, encode the
//! response.

use std::borrow::Cow;

use serde_json::json;
use trent_core::KmsError;
use trent_core::ids::KeyRef;
use trent_core::service::{
    Caller, CreateKeyRequest, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, Kms, ListAliasesRequest,
    ReEncryptRequest,
};

use super::audit_facts::KmsFacts;
use super::request::{
    AliasOnly, AliasTarget, DescribeKey, DryRunnable, FromBody, GenerateRandom, GetKeyPolicy, KeyOnly, ListKeyPolicies,
    ListKeys, ListResourceTags, PutKeyPolicy, ScheduleKeyDeletion, TagResource, UntagResource, UpdateKeyDescription,
};
pub(super) use super::request::{key_id, key_ref, page};
use super::wire::{B64, KeyMetadataOut, SecretB64, epoch, to_body};
use crate::error::ApiError;
use trent_audit::ResponseElements;

pub(super) type Out = Result<Vec<u8>, ApiError>;

/// The caller, carrying the request's DryRun flag into the service, which validates and authorizes, then
/// answers DryRunOperationException without executing anything.
pub(super) fn dry_caller(caller: &Caller, dry_run: bool) -> Cow<'_, Caller> {
    if dry_run { Cow::Owned(caller.with_dry_run(true)) } else { Cow::Borrowed(caller) }
}

/// The service's answer to a request that may be a dry run. A dry run the service let run to completion is a
/// bug (its effect has happened): it is reported as an internal error, never as a result.
pub(super) fn dry_run<T>(dry_run: bool, result: Result<T, KmsError>) -> Result<T, ApiError> {
    let value = result?;
    if dry_run {
        return Err(KmsError::internal("a DryRun request was executed").into());
    }
    Ok(value)
}

/// The `KeyId` of a request that has only that member (the rotation handlers of ops_material.rs).
pub(super) fn key_only(body: &[u8]) -> Result<KeyRef, ApiError> {
    Ok(KeyOnly::from_body(body)?.key)
}

pub(crate) fn create_key(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let m = kms.create_key(caller, CreateKeyRequest::from_body_noted(body, facts)?)?;
    facts.answered_metadata(&m);
    to_body(&json!({ "KeyMetadata": KeyMetadataOut::new(&m) }))
}

pub(crate) fn describe_key(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = DescribeKey::from_body_noted(body, facts)?;
    let m = kms.describe_key(caller, &r.key)?;
    facts.answered_metadata(&m);
    to_body(&json!({ "KeyMetadata": KeyMetadataOut::new(&m) }))
}

pub(crate) fn list_keys(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = ListKeys::from_body_noted(body, facts)?;
    let res = kms.list_keys(caller, &r.page)?;
    let keys: Vec<_> = res.items.iter().map(|(id, arn)| json!({ "KeyId": id.to_string(), "KeyArn": arn })).collect();
    let mut out = json!({ "Keys": keys, "Truncated": res.next_marker.is_some() });
    if let Some(m) = res.next_marker {
        out["NextMarker"] = m.into();
    }
    to_body(&out)
}

pub(crate) fn enable_key(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    kms.enable_key(caller, &KeyOnly::from_body_noted(body, facts)?.key)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn disable_key(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    kms.disable_key(caller, &KeyOnly::from_body_noted(body, facts)?.key)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn update_key_description(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = UpdateKeyDescription::from_body_noted(body, facts)?;
    kms.update_key_description(caller, &r.key, r.description)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn schedule_key_deletion(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = ScheduleKeyDeletion::from_body_noted(body, facts)?;
    let res = kms.schedule_key_deletion(caller, &r.key, r.pending_window_days)?;
    facts.answered(|| ResponseElements {
        key_id: Some(res.key_arn.clone()),
        key_state: Some(res.key_state.as_str().to_owned()),
        deletion_date: Some(epoch(res.deletion_date)),
        pending_window_in_days: Some(u64::from(res.pending_window_days)),
        ..ResponseElements::default()
    });
    to_body(&json!({
        "KeyId": res.key_arn,
        "DeletionDate": epoch(res.deletion_date),
        "KeyState": res.key_state.as_str(),
        "PendingWindowInDays": res.pending_window_days,
    }))
}

pub(crate) fn cancel_key_deletion(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let arn = kms.cancel_key_deletion(caller, &KeyOnly::from_body_noted(body, facts)?.key)?;
    facts.answered_key(&arn);
    to_body(&json!({ "KeyId": arn }))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptOut<'a> {
    ciphertext_blob: B64<'a>,
    key_id: &'a str,
    encryption_algorithm: &'static str,
}

pub(crate) fn encrypt(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = DryRunnable::<EncryptRequest>::from_body_noted(body, facts)?;
    let res = dry_run(r.dry_run, kms.encrypt(&dry_caller(caller, r.dry_run), r.request))?;
    facts.key(&res.key_arn);
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

pub(crate) fn decrypt(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = DryRunnable::<DecryptRequest>::from_body_noted(body, facts)?;
    let res = dry_run(r.dry_run, kms.decrypt(&dry_caller(caller, r.dry_run), r.request))?;
    facts.key(&res.key_arn);
    to_body(&DecryptOut {
        key_id: &res.key_arn,
        plaintext: SecretB64(&res.plaintext),
        encryption_algorithm: res.algorithm.as_str(),
        key_material_id: &res.material_id,
    })
}

pub(crate) fn re_encrypt(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = DryRunnable::<ReEncryptRequest>::from_body_noted(body, facts)?;
    let res = dry_run(r.dry_run, kms.re_encrypt(&dry_caller(caller, r.dry_run), r.request))?;
    facts.key(&res.key_arn);
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

pub(crate) fn generate_data_key(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    with_plaintext: bool,
    facts: &mut KmsFacts,
) -> Out {
    let r = DryRunnable::<GenerateDataKeyRequest>::from_body_noted(body, facts)?;
    let res = dry_run(r.dry_run, kms.generate_data_key(&dry_caller(caller, r.dry_run), r.request, with_plaintext))?;
    facts.key(&res.key_arn);
    to_body(&DataKeyOut {
        ciphertext_blob: B64(&res.ciphertext),
        plaintext: res.plaintext.as_ref().map(SecretB64),
        key_id: &res.key_arn,
        key_material_id: &res.material_id,
    })
}

pub(crate) fn generate_random(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = GenerateRandom::from_body_noted(body, facts)?;
    let bytes = kms.generate_random(caller, r.number_of_bytes)?;
    to_body(&json!({ "Plaintext": SecretB64(&bytes) }))
}

pub(crate) fn create_alias(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = AliasTarget::from_body_noted(body, facts)?;
    kms.create_alias(caller, &r.name, &r.target)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn update_alias(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = AliasTarget::from_body_noted(body, facts)?;
    kms.update_alias(caller, &r.name, &r.target)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn delete_alias(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let key_arn = kms.delete_alias(caller, &AliasOnly::from_body_noted(body, facts)?.name)?;
    // DeleteAlias names no key; the trail lists the key the alias pointed to (as CloudTrail does).
    facts.key(&key_arn);
    Ok(b"{}".to_vec())
}

pub(crate) fn list_aliases(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let res = kms.list_aliases(caller, &ListAliasesRequest::from_body_noted(body, facts)?)?;
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

pub(crate) fn tag_resource(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = TagResource::from_body_noted(body, facts)?;
    kms.tag_resource(caller, &r.key, &r.tags)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn untag_resource(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = UntagResource::from_body_noted(body, facts)?;
    kms.untag_resource(caller, &r.key, &r.tag_keys)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn list_resource_tags(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = ListResourceTags::from_body_noted(body, facts)?;
    let res = kms.list_resource_tags(caller, &r.key, &r.page)?;
    let tags: Vec<_> = res.items.iter().map(|(k, v)| json!({ "TagKey": k, "TagValue": v })).collect();
    let mut out = json!({ "Tags": tags, "Truncated": res.next_marker.is_some() });
    if let Some(m) = res.next_marker {
        out["NextMarker"] = m.into();
    }
    to_body(&out)
}

pub(crate) fn get_key_policy(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = GetKeyPolicy::from_body_noted(body, facts)?;
    let policy = kms.get_key_policy(caller, &r.key, r.policy_name.as_deref())?;
    to_body(&json!({ "Policy": policy, "PolicyName": r.policy_name.as_deref().unwrap_or("default") }))
}

pub(crate) fn put_key_policy(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = PutKeyPolicy::from_body_noted(body, facts)?;
    kms.put_key_policy(caller, &r.key, r.policy_name.as_deref(), r.policy, r.bypass_policy_lockout_safety_check)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn list_key_policies(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let names = kms.list_key_policies(caller, &ListKeyPolicies::from_body_noted(body, facts)?.key)?;
    to_body(&json!({ "PolicyNames": names, "Truncated": false }))
}
