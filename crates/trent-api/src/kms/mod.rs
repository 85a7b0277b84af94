//! The AWS KMS JSON 1.1 protocol: `X-Amz-Target: TrentService.<Operation>`.

mod audit_facts;
mod operation;
mod ops;
mod ops_asymmetric;
mod ops_grants;
mod ops_last_usage;
mod ops_material;
mod request;
mod validate;
mod wire;

use trent_core::KmsError;
use trent_core::service::{Caller, Kms};

pub(crate) use audit_facts::KmsFacts;
pub(crate) use operation::Operation;
/// Called by the router with the audit directory, which `dispatch` does not see.
pub(crate) use ops_last_usage::get_key_last_usage;

use crate::error::ApiError;

/// The `X-Amz-Target` prefix of KMS, and the SigV4 service name its requests are signed for.
pub(crate) const TARGET_PREFIX: &str = "TrentService.";
pub(crate) const SIGNING_NAME: &str = "kms";

/// Runs one operation on an authenticated caller's request body; returns the JSON response body, and notes
/// in `facts` what the trail records of the request and its outcome (the rotation and import handlers, whose
/// operations `Operation::audit_from_json` lists, note nothing yet: their events are read from the JSON).
pub(crate) fn dispatch(
    kms: &Kms,
    caller: &Caller,
    op: Operation,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Vec<u8>, ApiError> {
    use Operation as O;
    match op {
        O::CreateKey => ops::create_key(kms, caller, body, facts),
        O::DescribeKey => ops::describe_key(kms, caller, body, facts),
        O::ListKeys => ops::list_keys(kms, caller, body, facts),
        O::UpdateKeyDescription => ops::update_key_description(kms, caller, body, facts),
        O::EnableKey => ops::enable_key(kms, caller, body, facts),
        O::DisableKey => ops::disable_key(kms, caller, body, facts),
        O::ScheduleKeyDeletion => ops::schedule_key_deletion(kms, caller, body, facts),
        O::CancelKeyDeletion => ops::cancel_key_deletion(kms, caller, body, facts),
        O::Encrypt => ops::encrypt(kms, caller, body, facts),
        O::Decrypt => ops::decrypt(kms, caller, body, facts),
        O::ReEncrypt => ops::re_encrypt(kms, caller, body, facts),
        O::GenerateDataKey => ops::generate_data_key(kms, caller, body, true, facts),
        O::GenerateDataKeyWithoutPlaintext => ops::generate_data_key(kms, caller, body, false, facts),
        O::GenerateRandom => ops::generate_random(kms, caller, body, facts),
        O::CreateAlias => ops::create_alias(kms, caller, body, facts),
        O::UpdateAlias => ops::update_alias(kms, caller, body, facts),
        O::DeleteAlias => ops::delete_alias(kms, caller, body, facts),
        O::ListAliases => ops::list_aliases(kms, caller, body, facts),
        O::TagResource => ops::tag_resource(kms, caller, body, facts),
        O::UntagResource => ops::untag_resource(kms, caller, body, facts),
        O::ListResourceTags => ops::list_resource_tags(kms, caller, body, facts),
        O::GetKeyPolicy => ops::get_key_policy(kms, caller, body, facts),
        O::PutKeyPolicy => ops::put_key_policy(kms, caller, body, facts),
        O::ListKeyPolicies => ops::list_key_policies(kms, caller, body, facts),
        O::CreateGrant => ops_grants::create_grant(kms, caller, body, facts),
        O::ListGrants => ops_grants::list_grants(kms, caller, body, facts),
        O::ListRetirableGrants => ops_grants::list_retirable_grants(kms, caller, body, facts),
        O::RetireGrant => ops_grants::retire_grant(kms, caller, body, facts),
        O::RevokeGrant => ops_grants::revoke_grant(kms, caller, body, facts),
        O::Sign => ops_asymmetric::sign(kms, caller, body, facts),
        O::Verify => ops_asymmetric::verify(kms, caller, body, facts),
        O::GetPublicKey => ops_asymmetric::get_public_key(kms, caller, body, facts),
        O::GenerateMac => ops_asymmetric::generate_mac(kms, caller, body, facts),
        O::VerifyMac => ops_asymmetric::verify_mac(kms, caller, body, facts),
        O::DeriveSharedSecret => ops_asymmetric::derive_shared_secret(kms, caller, body, facts),
        O::GenerateDataKeyPair => ops_asymmetric::generate_data_key_pair(kms, caller, body, true, facts),
        O::GenerateDataKeyPairWithoutPlaintext => {
            ops_asymmetric::generate_data_key_pair(kms, caller, body, false, facts)
        }
        O::EnableKeyRotation => ops_material::enable_key_rotation(kms, caller, body),
        O::DisableKeyRotation => ops_material::disable_key_rotation(kms, caller, body),
        O::GetKeyRotationStatus => ops_material::get_key_rotation_status(kms, caller, body),
        O::RotateKeyOnDemand => ops_material::rotate_key_on_demand(kms, caller, body),
        O::ListKeyRotations => ops_material::list_key_rotations(kms, caller, body),
        O::GetParametersForImport => ops_material::get_parameters_for_import(kms, caller, body),
        O::ImportKeyMaterial => ops_material::import_key_material(kms, caller, body),
        O::DeleteImportedKeyMaterial => ops_material::delete_imported_key_material(kms, caller, body),
        // Without a trail (the router passes it when there is one), nothing is tracked.
        O::GetKeyLastUsage => ops_last_usage::get_key_last_usage(kms, caller, body, None, facts),
        other => Err(KmsError::UnsupportedOperation(format!(
            "{} is not implemented by this version of Trent. See docs/compatibility.md.",
            other.name()
        ))
        .into()),
    }
}
