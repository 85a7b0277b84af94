//! Requests on keys and their metadata: CreateKey, DescribeKey, ListKeys, key-only operations (EnableKey, ...),
//! UpdateKeyDescription, ScheduleKeyDeletion, aliases, tags and key policies.

use trent_core::ids::KeyRef;
use trent_core::model::{KeySpec, KeyUsage, Origin};
use trent_core::service::{CreateKeyRequest, ListAliasesRequest, PageRequest};

use super::{FromBody, grant_tokens, key_id, key_ref, optional_key_id, optional_key_ref, page, tags};
use crate::error::ApiError;
use crate::kms::validate::{Check, Checked};
use crate::kms::wire;

const MAX_DESCRIPTION: usize = 8192;
const MAX_POLICY: usize = 131_072;

impl FromBody for CreateKeyRequest {
    type Wire = wire::CreateKeyIn;
}

impl TryFrom<wire::CreateKeyIn> for CreateKeyRequest {
    type Error = ApiError;

    fn try_from(r: wire::CreateKeyIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        if let Some(d) = &r.description {
            c.len(d, "description", 0, MAX_DESCRIPTION);
        }
        if let Some(p) = &r.policy {
            c.len(p, "policy", 1, MAX_POLICY);
        }
        let key_spec = c.enumeration(r.key_spec.as_deref(), "keySpec", KeySpec::parse, KeySpec::enum_constraint);
        let customer_master_key_spec = c.enumeration(
            r.customer_master_key_spec.as_deref(),
            "customerMasterKeySpec",
            KeySpec::parse,
            KeySpec::enum_constraint,
        );
        let key_usage = c.enumeration(r.key_usage.as_deref(), "keyUsage", KeyUsage::parse, KeyUsage::enum_constraint);
        let origin = c.enumeration(r.origin.as_deref(), "origin", Origin::parse, Origin::enum_constraint);
        let tags = tags(&mut c, &r.tags);
        c.finish()?;
        Ok(Self {
            description: r.description,
            key_spec,
            customer_master_key_spec,
            key_usage,
            origin,
            policy: r.policy,
            bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check == Some(true),
            tags,
            multi_region: r.multi_region == Some(true),
            custom_key_store_id: r.custom_key_store_id,
            xks_key_id: r.xks_key_id,
        })
    }
}

/// DescribeKey: a key, and at most ten grant tokens.
pub(crate) struct DescribeKey {
    pub(crate) key: KeyRef,
}

impl FromBody for DescribeKey {
    type Wire = wire::KeyIdIn;
}

impl TryFrom<wire::KeyIdIn> for DescribeKey {
    type Error = ApiError;

    fn try_from(r: wire::KeyIdIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        grant_tokens(&mut c, &r.grant_tokens);
        let key = c.finish_with(key)?;
        Ok(Self { key: key_ref(&key)? })
    }
}

/// EnableKey, DisableKey, CancelKeyDeletion, GetPublicKey, GetKeyLastUsage and the rotation and import
/// operations that name a key and nothing else.
pub(crate) struct KeyOnly {
    pub(crate) key: KeyRef,
}

impl FromBody for KeyOnly {
    type Wire = wire::KeyIdIn;
}

impl TryFrom<wire::KeyIdIn> for KeyOnly {
    type Error = ApiError;

    fn try_from(r: wire::KeyIdIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let key = c.finish_with(key)?;
        Ok(Self { key: key_ref(&key)? })
    }
}

pub(crate) struct ListKeys {
    pub(crate) page: PageRequest,
}

impl FromBody for ListKeys {
    type Wire = wire::ListIn;
}

impl TryFrom<wire::ListIn> for ListKeys {
    type Error = ApiError;

    fn try_from(r: wire::ListIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let page = page(&mut c, r.limit, r.marker);
        c.finish()?;
        Ok(Self { page })
    }
}

pub(crate) struct UpdateKeyDescription {
    pub(crate) key: KeyRef,
    pub(crate) description: String,
}

impl FromBody for UpdateKeyDescription {
    type Wire = wire::UpdateKeyDescriptionIn;
}

impl TryFrom<wire::UpdateKeyDescriptionIn> for UpdateKeyDescription {
    type Error = ApiError;

    fn try_from(r: wire::UpdateKeyDescriptionIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let description = c.required(&r.description, "description").cloned();
        if let Some(d) = &description {
            c.len(d, "description", 0, MAX_DESCRIPTION);
        }
        let (key, description) = c.finish_with((key, description))?;
        Ok(Self { key: key_ref(&key)?, description })
    }
}

pub(crate) struct ScheduleKeyDeletion {
    pub(crate) key: KeyRef,
    /// `None`: the service's default window.
    pub(crate) pending_window_days: Option<u32>,
}

impl FromBody for ScheduleKeyDeletion {
    type Wire = wire::ScheduleKeyDeletionIn;
}

impl TryFrom<wire::ScheduleKeyDeletionIn> for ScheduleKeyDeletion {
    type Error = ApiError;

    fn try_from(r: wire::ScheduleKeyDeletionIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let days = c.optional_in_range(r.pending_window_in_days, "pendingWindowInDays", 1, 365);
        let (key, pending_window_days) = c.finish_with((key, days))?;
        Ok(Self { key: key_ref(&key)?, pending_window_days })
    }
}

impl FromBody for ListAliasesRequest {
    type Wire = wire::ListIn;
}

impl TryFrom<wire::ListIn> for ListAliasesRequest {
    type Error = ApiError;

    fn try_from(r: wire::ListIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        optional_key_id(&mut c, &r.key_id, "keyId");
        let page = page(&mut c, r.limit, r.marker);
        c.finish()?;
        Ok(Self { key: optional_key_ref(r.key_id.as_deref())?, page })
    }
}

/// The alias name member (required, 1 to 256 characters). The service parses the name itself: whether it may
/// be created depends on the operation.
fn alias_name(c: &mut Check, v: &Option<String>) -> Checked<String> {
    let name = c.required(v, "aliasName")?;
    c.len(name, "aliasName", 1, 256);
    Some(name.clone())
}

/// CreateAlias and UpdateAlias: an alias name and the key it points at. The target is passed on as sent: the
/// service refuses an alias target with its own message.
pub(crate) struct AliasTarget {
    pub(crate) name: String,
    pub(crate) target: String,
}

impl FromBody for AliasTarget {
    type Wire = wire::AliasIn;
}

impl TryFrom<wire::AliasIn> for AliasTarget {
    type Error = ApiError;

    fn try_from(r: wire::AliasIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let name = alias_name(&mut c, &r.alias_name);
        let target = key_id(&mut c, &r.target_key_id, "targetKeyId");
        let (name, target) = c.finish_with((name, target))?;
        Ok(Self { name, target })
    }
}

/// DeleteAlias: an alias name.
pub(crate) struct AliasOnly {
    pub(crate) name: String,
}

impl FromBody for AliasOnly {
    type Wire = wire::AliasIn;
}

impl TryFrom<wire::AliasIn> for AliasOnly {
    type Error = ApiError;

    fn try_from(r: wire::AliasIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let name = alias_name(&mut c, &r.alias_name);
        Ok(Self { name: c.finish_with(name)? })
    }
}

pub(crate) struct TagResource {
    pub(crate) key: KeyRef,
    pub(crate) tags: Vec<(String, String)>,
}

impl FromBody for TagResource {
    type Wire = wire::TagResourceIn;
}

impl TryFrom<wire::TagResourceIn> for TagResource {
    type Error = ApiError;

    fn try_from(r: wire::TagResourceIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let present = c.required(&r.tags, "tags").map(|_| ());
        let tags = tags(&mut c, &r.tags);
        let (key, ()) = c.finish_with((key, present))?;
        Ok(Self { key: key_ref(&key)?, tags })
    }
}

pub(crate) struct UntagResource {
    pub(crate) key: KeyRef,
    pub(crate) tag_keys: Vec<String>,
}

impl FromBody for UntagResource {
    type Wire = wire::TagResourceIn;
}

impl TryFrom<wire::TagResourceIn> for UntagResource {
    type Error = ApiError;

    fn try_from(r: wire::TagResourceIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let tag_keys = c.required(&r.tag_keys, "tagKeys").cloned();
        for (i, k) in tag_keys.iter().flatten().enumerate() {
            c.len(k, &format!("tagKeys.{}.member", i + 1), 1, 128);
        }
        let (key, tag_keys) = c.finish_with((key, tag_keys))?;
        Ok(Self { key: key_ref(&key)?, tag_keys })
    }
}

pub(crate) struct ListResourceTags {
    pub(crate) key: KeyRef,
    pub(crate) page: PageRequest,
}

impl FromBody for ListResourceTags {
    type Wire = wire::ListIn;
}

impl TryFrom<wire::ListIn> for ListResourceTags {
    type Error = ApiError;

    fn try_from(r: wire::ListIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let page = page(&mut c, r.limit, r.marker);
        let key = c.finish_with(key)?;
        Ok(Self { key: key_ref(&key)?, page })
    }
}

/// The members every key-policy operation checks: the key and the optional policy name (1 to 128).
fn policy_key(c: &mut Check, r: &wire::KeyPolicyIn) -> Checked<String> {
    let key = key_id(c, &r.key_id, "keyId");
    if let Some(n) = &r.policy_name {
        c.len(n, "policyName", 1, 128);
    }
    key
}

pub(crate) struct GetKeyPolicy {
    pub(crate) key: KeyRef,
    pub(crate) policy_name: Option<String>,
}

impl FromBody for GetKeyPolicy {
    type Wire = wire::KeyPolicyIn;
}

impl TryFrom<wire::KeyPolicyIn> for GetKeyPolicy {
    type Error = ApiError;

    fn try_from(r: wire::KeyPolicyIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = policy_key(&mut c, &r);
        let key = c.finish_with(key)?;
        Ok(Self { key: key_ref(&key)?, policy_name: r.policy_name })
    }
}

pub(crate) struct PutKeyPolicy {
    pub(crate) key: KeyRef,
    pub(crate) policy_name: Option<String>,
    pub(crate) policy: String,
    pub(crate) bypass_policy_lockout_safety_check: bool,
}

impl FromBody for PutKeyPolicy {
    type Wire = wire::KeyPolicyIn;
}

impl TryFrom<wire::KeyPolicyIn> for PutKeyPolicy {
    type Error = ApiError;

    fn try_from(r: wire::KeyPolicyIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = policy_key(&mut c, &r);
        let policy = c.required(&r.policy, "policy").cloned();
        if let Some(p) = &policy {
            c.len(p, "policy", 1, MAX_POLICY);
        }
        let (key, policy) = c.finish_with((key, policy))?;
        Ok(Self {
            key: key_ref(&key)?,
            policy_name: r.policy_name,
            policy,
            bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check == Some(true),
        })
    }
}

pub(crate) struct ListKeyPolicies {
    pub(crate) key: KeyRef,
}

impl FromBody for ListKeyPolicies {
    type Wire = wire::KeyPolicyIn;
}

impl TryFrom<wire::KeyPolicyIn> for ListKeyPolicies {
    type Error = ApiError;

    /// The key is resolved before `Limit` and `Marker` are checked (a key that does not parse is reported
    /// first), as Trent has always answered; the page itself is not used (one policy per key).
    fn try_from(r: wire::KeyPolicyIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = policy_key(&mut c, &r);
        let key = key_ref(&c.finish_with(key)?)?;
        let mut c = Check::default();
        page(&mut c, r.limit, r.marker);
        c.finish()?;
        Ok(Self { key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<R: FromBody + TryFrom<R::Wire, Error = ApiError>>(body: &str) -> Result<R, String> {
        R::from_body(body.as_bytes()).map_err(|e| match e {
            ApiError::Kms(k) => k.to_string(),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn a_key_id_keeps_its_text_and_missing_members_are_all_reported() {
        let r: UpdateKeyDescription = parse(r#"{"KeyId":"alias/x","Description":"d"}"#).unwrap();
        assert_eq!(r.key.to_string(), "alias/x");
        assert_eq!(r.description, "d");
        assert_eq!(
            parse::<UpdateKeyDescription>("{}").err().unwrap(),
            "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; \
             Value null at 'description' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn an_out_of_range_window_is_refused_not_defaulted() {
        let err = parse::<ScheduleKeyDeletion>(r#"{"KeyId":"alias/x","PendingWindowInDays":0}"#).err().unwrap();
        assert!(err.contains("'pendingWindowInDays'"), "{err}");
        let r: ScheduleKeyDeletion = parse(r#"{"KeyId":"alias/x"}"#).unwrap();
        assert_eq!(r.pending_window_days, None);
        let r: ScheduleKeyDeletion = parse(r#"{"KeyId":"alias/x","PendingWindowInDays":7}"#).unwrap();
        assert_eq!(r.pending_window_days, Some(7));
    }

    #[test]
    fn validation_comes_before_the_key_form() {
        // A KeyId that names no key is NotFound, but only once the members pass their checks.
        let err = parse::<KeyOnly>(r#"{"KeyId":""}"#).err().unwrap();
        assert!(err.starts_with("1 validation error detected"), "{err}");
        let err = parse::<KeyOnly>(r#"{"KeyId":"nope"}"#).err().unwrap();
        assert!(err.contains("Invalid keyId 'nope'"), "{err}");
    }
}
