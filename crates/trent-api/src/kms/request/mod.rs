//! Typed requests: each operation's wire members (all optional, as sent) parsed once into a request whose
//! required members are present and whose values are domain types (`KeyRef`, `EncryptionContext`, enums,
//! `SecretBytes`). `TryFrom<wire::XIn>` runs AWS's member checks in AWS's order and returns every failure as one
//! ValidationException with AWS's texts; a handler gets either a whole request or that error, never a half-checked
//! one to unwrap.

mod asymmetric;
mod crypto;
mod grants;
mod keys;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use trent_core::KmsError;
use trent_core::context::EncryptionContext;
use trent_core::ids::KeyRef;
use trent_core::model::EncryptionAlgorithm;
use trent_core::service::PageRequest;
use trent_crypto::SecretBytes;

pub(crate) use asymmetric::{DeriveSharedSecret, GenerateDataKeyPair, GenerateMac, Sign, Verify, VerifyMac};
pub(crate) use crypto::GenerateRandom;
pub(crate) use grants::{CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant};
pub(crate) use keys::{
    AliasOnly, AliasTarget, DescribeKey, GetKeyPolicy, KeyOnly, ListKeyPolicies, ListKeys, ListResourceTags,
    PutKeyPolicy, ScheduleKeyDeletion, TagResource, UntagResource, UpdateKeyDescription,
};

use super::audit_facts::{AuditParams, KmsFacts};
use super::validate::{Check, Checked, decode_blob};
use super::wire::{TagIn, parse};
use crate::error::ApiError;

const MAX_KEY_ID: usize = 2048;
const MAX_GRANT_TOKENS: usize = 10;

/// A request read from a body: the wire shape `Wire`, then `TryFrom` into the typed request.
pub(crate) trait FromBody: Sized {
    type Wire: DeserializeOwned + Default;

    fn from_body(body: &[u8]) -> Result<Self, ApiError>
    where
        Self: TryFrom<Self::Wire, Error = ApiError>,
    {
        Self::try_from(parse::<Self::Wire>(body)?)
    }

    /// `from_body`, noting the parsed members' allow-listed parameters for the trail before they become the
    /// typed request (so a request the typed checks refuse is recorded with them too).
    fn from_body_noted(body: &[u8], facts: &mut KmsFacts) -> Result<Self, ApiError>
    where
        Self: TryFrom<Self::Wire, Error = ApiError>,
        Self::Wire: AuditParams,
    {
        let members = parse::<Self::Wire>(body)?;
        facts.request(&members);
        Self::try_from(members)
    }
}

/// A request that may be a dry run (`DryRun: true`): validated and authorized, never executed.
pub(crate) struct DryRunnable<T> {
    pub(crate) request: T,
    pub(crate) dry_run: bool,
}

impl<T> DryRunnable<T> {
    fn new(request: T, dry_run: Option<bool>) -> Self {
        Self { request, dry_run: dry_run == Some(true) }
    }
}

/// A required `KeyId`-like member: null, or its length (1 to 2048).
pub(crate) fn key_id(check: &mut Check, v: &Option<String>, field: &str) -> Checked<String> {
    let v = check.required(v, field)?;
    check.len(v, field, 1, MAX_KEY_ID);
    Some(v.clone())
}

/// An optional `KeyId`-like member: its length when present.
fn optional_key_id(check: &mut Check, v: &Option<String>, field: &str) {
    if let Some(k) = v {
        check.len(k, field, 1, MAX_KEY_ID);
    }
}

/// One of the four forms a `KeyId` names a key by. Done after the member checks: a text that is none of them is a
/// NotFoundException, which AWS answers only for requests that pass validation.
pub(crate) fn key_ref(raw: &str) -> Result<KeyRef, ApiError> {
    Ok(KeyRef::parse(raw)?)
}

fn optional_key_ref(raw: Option<&str>) -> Result<Option<KeyRef>, ApiError> {
    raw.map(key_ref).transpose()
}

fn grant_tokens(check: &mut Check, v: &Option<Vec<String>>) {
    if let Some(t) = v
        && t.len() > MAX_GRANT_TOKENS
    {
        check.range(t.len() as i64, "grantTokens", 0, MAX_GRANT_TOKENS as i64);
    }
}

/// An encryption context member; absent is the empty context (AWS treats them alike).
fn context(v: Option<BTreeMap<String, String>>) -> Result<EncryptionContext, ApiError> {
    Ok(match v {
        Some(pairs) => EncryptionContext::try_new(pairs)?,
        None => EncryptionContext::default(),
    })
}

/// `Limit` (1 to 1000) and `Marker` (1 to 1024 characters), both optional.
pub(crate) fn page(check: &mut Check, limit: Option<i64>, marker: Option<String>) -> PageRequest {
    if let Some(l) = limit {
        check.range(l, "limit", 1, 1000);
    }
    if let Some(m) = &marker {
        check.len(m, "marker", 1, 1024);
    }
    PageRequest { limit: limit.and_then(|l| u32::try_from(l).ok()), marker }
}

/// `Tags`: each pair's key (1 to 128) and value (0 to 256) are required.
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

fn algorithm(check: &mut Check, v: Option<&str>, field: &str) -> Checked<Option<EncryptionAlgorithm>> {
    match v {
        Some(_) => {
            check.enumeration(v, field, EncryptionAlgorithm::parse, EncryptionAlgorithm::enum_constraint).map(Some)
        }
        None => Some(None),
    }
}

/// A required blob member: null, a SerializationException if it is not base64, or its decoded length.
fn blob(
    check: &mut Check,
    v: Option<&str>,
    field: &str,
    member: &str,
    max: usize,
) -> Result<Checked<Vec<u8>>, ApiError> {
    let Some(b) = check.required(&v, field) else { return Ok(None) };
    let bytes = decode_blob(b, member)?;
    check.blob_len(bytes.len(), field, 1, max);
    Ok(Some(bytes))
}

/// `blob` for a secret member (Plaintext, Message): held in `SecretBytes` from the moment it is decoded, so it is
/// wiped even when a later check refuses the request.
fn secret_blob(
    check: &mut Check,
    v: Option<&str>,
    field: &str,
    member: &str,
    max: usize,
) -> Result<Checked<SecretBytes>, ApiError> {
    let Some(b) = check.required(&v, field) else { return Ok(None) };
    let bytes = SecretBytes::new(decode_blob(b, member)?);
    check.blob_len(bytes.len(), field, 1, max);
    Ok(Some(bytes))
}

/// `Recipient` (Nitro Enclaves attestation) is refused after the member checks, as an unsupported feature.
fn refuse_recipient(recipient: &Option<serde_json::Value>) -> Result<(), ApiError> {
    if recipient.is_some() {
        return Err(KmsError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by Trent.".into(),
        )
        .into());
    }
    Ok(())
}
