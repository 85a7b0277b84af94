//! What a KMS handler tells the trail about its request, from the request it parsed and the outcome it got:
//! the allow-listed request parameters (read off the parsed request members, as the caller sent them), the
//! key the operation resolved, and the response elements CloudTrail shows. The audit event is built from these
//! (`crate::audit`), so the trail reads no JSON for an operation that ran: no second parse of the request and
//! no parse back of the response the handler just encoded.
//!
//! Parameters come from the wire members (`wire::XIn`), the one parse of the body, before they become the
//! typed request: they keep the text the caller sent (`keyId` as given, an algorithm's name, `dryRun: false`)
//! and are there even when the typed request refuses a member, so a refused request is recorded like an
//! accepted one. Only allow-listed, non-secret members are copied; `RequestParameters` has no field for
//! Plaintext, CiphertextBlob, Message, Signature, Mac, PublicKey, GrantTokens, Policy or any token.

use trent_audit::event::{KeyMetadata, Tag};
use trent_audit::{RequestParameters, ResponseElements};
use trent_core::service;

use super::wire::{self, TagIn};

/// The audit facts of one KMS request; collected only when there is a trail (`recording`).
#[derive(Default)]
pub(crate) struct KmsFacts {
    on: bool,
    /// The request's parameters; `None` until the body parsed into the operation's members.
    pub(crate) params: Option<RequestParameters>,
    /// What CloudTrail shows of the response (the key it names); the event keeps it only for operations that
    /// are not on the hot path, as AWS logs none for the cryptographic operations.
    pub(crate) response: Option<ResponseElements>,
    /// The key the operation acted on, as the service resolved it (an ARN).
    pub(crate) key_arn: Option<String>,
}

impl KmsFacts {
    /// Facts for a request that is audited.
    pub(crate) fn recording() -> Self {
        Self { on: true, ..Self::default() }
    }

    /// The parsed request's allow-listed members.
    pub(crate) fn request(&mut self, members: &impl AuditParams) {
        if self.on {
            self.params = Some(members.audit_params());
        }
    }

    /// The key the operation acted on, for the hot path: a resource, and no response elements.
    pub(crate) fn key(&mut self, arn: &str) {
        if self.on {
            self.key_arn = Some(arn.to_owned());
        }
    }

    /// A response naming its key (`KeyId`: the key's ARN, or its bare id for GetKeyLastUsage).
    pub(crate) fn answered_key(&mut self, key_id: &str) {
        self.answered(|| ResponseElements { key_id: Some(key_id.to_owned()), ..ResponseElements::default() });
    }

    /// A request that failed after the service resolved its key and authorized the caller on it (disabled key,
    /// wrong key usage, a dry run...) is recorded against that key, as AWS does. ReEncrypt names two keys: which
    /// one a failure is about is not known here, so it keeps the keys its parameters name.
    pub(crate) fn failed(&mut self, op: super::Operation, resolved: &service::ResolvedKey) {
        if self.on
            && self.key_arn.is_none()
            && op != super::Operation::ReEncrypt
            && let Some(arn) = resolved.arn()
        {
            self.key_arn = Some(arn.to_owned());
        }
    }

    pub(crate) fn answered(&mut self, response: impl FnOnce() -> ResponseElements) {
        if self.on {
            self.response = Some(response());
        }
    }

    /// A response carrying `KeyMetadata` (CreateKey, DescribeKey): its allow-listed members.
    pub(crate) fn answered_metadata(&mut self, m: &service::KeyMetadata) {
        self.answered(|| {
            let r = &m.record;
            let metadata = KeyMetadata {
                aws_account_id: Some(r.account.as_str().to_owned()),
                key_id: Some(r.key_id.to_string()),
                arn: Some(m.arn.clone()),
                enabled: Some(r.state == trent_core::model::KeyState::Enabled),
                description: Some(r.description.clone()),
                key_usage: Some(r.key_usage.as_str().to_owned()),
                key_state: Some(r.state.as_str().to_owned()),
                origin: Some(r.origin.as_str().to_owned()),
                key_manager: Some(r.key_manager.as_str().to_owned()),
                key_spec: Some(r.key_spec.as_str().to_owned()),
            };
            ResponseElements { key_metadata: Some(metadata), ..ResponseElements::default() }
        });
    }
}

/// The allow-listed members of a parsed request, in CloudTrail's names.
pub(crate) trait AuditParams {
    fn audit_params(&self) -> RequestParameters;
}

/// A count as CloudTrail records it: a negative number (refused by validation) is left out, as before.
fn count(v: Option<i64>) -> Option<u64> {
    v.and_then(|n| u64::try_from(n).ok())
}

/// Tags as recorded: all of them, or none if one lacks its key (the lenient reading drops such a list whole).
fn tags(v: &Option<Vec<TagIn>>) -> Option<Vec<Tag>> {
    v.as_ref()?.iter().map(|t| Some(Tag { key: t.tag_key.clone()?, value: t.tag_value.clone() })).collect()
}

impl AuditParams for wire::CreateKeyIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            description: self.description.clone(),
            key_spec: self.key_spec.clone(),
            key_usage: self.key_usage.clone(),
            origin: self.origin.clone(),
            bypass_policy_lockout_safety_check: self.bypass_policy_lockout_safety_check,
            tags: tags(&self.tags),
            multi_region: self.multi_region,
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::KeyIdIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters { key_id: self.key_id.clone(), ..RequestParameters::default() }
    }
}

impl AuditParams for wire::UpdateKeyDescriptionIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            description: self.description.clone(),
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::ScheduleKeyDeletionIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            pending_window_in_days: count(self.pending_window_in_days),
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::ListIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters { key_id: self.key_id.clone(), limit: count(self.limit), ..RequestParameters::default() }
    }
}

impl AuditParams for wire::EncryptIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            encryption_context: self.encryption_context.clone(),
            encryption_algorithm: self.encryption_algorithm.clone(),
            dry_run: self.dry_run,
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::DecryptIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            encryption_context: self.encryption_context.clone(),
            encryption_algorithm: self.encryption_algorithm.clone(),
            dry_run: self.dry_run,
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::ReEncryptIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            source_key_id: self.source_key_id.clone(),
            destination_key_id: self.destination_key_id.clone(),
            source_encryption_context: self.source_encryption_context.clone(),
            destination_encryption_context: self.destination_encryption_context.clone(),
            source_encryption_algorithm: self.source_encryption_algorithm.clone(),
            destination_encryption_algorithm: self.destination_encryption_algorithm.clone(),
            dry_run: self.dry_run,
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::GenerateDataKeyIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            encryption_context: self.encryption_context.clone(),
            number_of_bytes: count(self.number_of_bytes),
            key_spec: self.key_spec.clone(),
            dry_run: self.dry_run,
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::GenerateRandomIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters { number_of_bytes: count(self.number_of_bytes), ..RequestParameters::default() }
    }
}

impl AuditParams for wire::AliasIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            alias_name: self.alias_name.clone(),
            target_key_id: self.target_key_id.clone(),
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::TagResourceIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            tags: tags(&self.tags),
            tag_keys: self.tag_keys.clone(),
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::KeyPolicyIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            policy_name: self.policy_name.clone(),
            bypass_policy_lockout_safety_check: self.bypass_policy_lockout_safety_check,
            limit: count(self.limit),
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::SignIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            signing_algorithm: self.signing_algorithm.clone(),
            mac_algorithm: self.mac_algorithm.clone(),
            dry_run: self.dry_run,
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::DeriveIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters { key_id: self.key_id.clone(), dry_run: self.dry_run, ..RequestParameters::default() }
    }
}

impl AuditParams for wire::DataKeyPairIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            key_pair_spec: self.key_pair_spec.clone(),
            encryption_context: self.encryption_context.clone(),
            dry_run: self.dry_run,
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::GrantIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            limit: count(self.limit),
            dry_run: self.dry_run,
            ..RequestParameters::default()
        }
    }
}

// The rotation and import requests' members, ready for their handlers (ops_material.rs, still read back from
// the JSON: `Operation::audit_from_json`) to note.

impl AuditParams for wire::RotationIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            rotation_period_in_days: count(self.rotation_period_in_days),
            limit: count(self.limit),
            include_key_material: self.include_key_material.clone(),
            ..RequestParameters::default()
        }
    }
}

impl AuditParams for wire::ImportIn {
    fn audit_params(&self) -> RequestParameters {
        RequestParameters {
            key_id: self.key_id.clone(),
            wrapping_algorithm: self.wrapping_algorithm.clone(),
            wrapping_key_spec: self.wrapping_key_spec.clone(),
            expiration_model: self.expiration_model.clone(),
            import_type: self.import_type.clone(),
            key_material_id: self.key_material_id.clone(),
            key_material_description: self.key_material_description.clone(),
            ..RequestParameters::default()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The rotation and import members as the lenient reading of the same body gives them.
    #[test]
    fn rotation_and_import_members_match_the_json_reading() {
        for body in [
            r#"{"KeyId":"k","RotationPeriodInDays":90,"Limit":5,"Marker":"m","IncludeKeyMaterial":"ALL_KEY_MATERIAL"}"#,
            r#"{"KeyId":"k","RotationPeriodInDays":-1}"#,
        ] {
            let members: wire::RotationIn = serde_json::from_str(body).unwrap();
            let json = crate::audit_json::request_parameters(body.as_bytes()).unwrap();
            assert_eq!(
                serde_json::to_value(members.audit_params()).unwrap(),
                serde_json::to_value(json).unwrap(),
                "{body}"
            );
        }
        let body = r#"{"KeyId":"k","WrappingAlgorithm":"RSAES_OAEP_SHA_256","WrappingKeySpec":"RSA_4096",
            "ImportToken":"c2VjcmV0dG9rZW4=","EncryptedKeyMaterial":"c2VjcmV0a2V5","ExpirationModel":"KEY_MATERIAL_DOES_NOT_EXPIRE",
            "ImportType":"NEW_KEY_MATERIAL","KeyMaterialId":"ab12","KeyMaterialDescription":"second"}"#;
        let members: wire::ImportIn = serde_json::from_str(body).unwrap();
        let noted = serde_json::to_value(members.audit_params()).unwrap();
        assert_eq!(noted, serde_json::to_value(crate::audit_json::request_parameters(body.as_bytes())).unwrap());
        assert!(!noted.to_string().contains("c2VjcmV0"), "{noted}");
    }
}
