//! Handlers for the operations on key material: rotation (Enable/DisableKeyRotation, GetKeyRotationStatus,
//! RotateKeyOnDemand, ListKeyRotations) and import (GetParametersForImport, ImportKeyMaterial,
//! DeleteImportedKeyMaterial).

use serde_json::json;
use trent_core::KmsError;
use trent_core::model::{ExpirationModel, ImportType, Timestamp, WrappingAlgorithm, WrappingKeySpec};
use trent_core::service::{Caller, ImportMaterialRequest, Kms, MaterialRef};

use super::ops::{Out, key_id, key_only, key_ref, page};
use super::validate::{Check, decode_blob};
use super::wire::{self, B64, epoch, parse, to_body};

pub(crate) fn enable_key_rotation(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::RotationIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.finish()?;
    let raw = raw.unwrap_or_default();
    // Range errors come from the service with AWS's text; a value outside u32 is out of range too.
    let days = r.rotation_period_in_days.map(|d| u32::try_from(d).unwrap_or(u32::MAX));
    kms.enable_key_rotation(caller, &key_ref(&raw)?, days)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn disable_key_rotation(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let k = key_only(body)?;
    kms.disable_key_rotation(caller, &k)?;
    Ok(b"{}".to_vec())
}

pub(crate) fn get_key_rotation_status(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let k = key_only(body)?;
    let s = kms.key_rotation_status(caller, &k)?;
    let mut out = json!({ "KeyRotationEnabled": s.enabled, "KeyId": s.key_arn });
    if let Some(d) = s.period_days {
        out["RotationPeriodInDays"] = d.into();
    }
    if let Some(t) = s.next_rotation {
        out["NextRotationDate"] = epoch(t).into();
    }
    if let Some(t) = s.on_demand_started {
        out["OnDemandRotationStartDate"] = epoch(t).into();
    }
    to_body(&out)
}

pub(crate) fn rotate_key_on_demand(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let k = key_only(body)?;
    let arn = kms.rotate_key_on_demand(caller, &k)?;
    to_body(&json!({ "KeyId": arn }))
}

pub(crate) fn list_key_rotations(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::RotationIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    let p = page(&mut c, r.limit, r.marker);
    c.finish()?;
    let all_material = match r.include_key_material.as_deref() {
        None | Some("ROTATIONS_ONLY") => false,
        Some("ALL_KEY_MATERIAL") => true,
        Some(other) => {
            return Err(KmsError::validation_one(
                other,
                "includeKeyMaterial",
                "Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]",
            )
            .into());
        }
    };
    let raw = raw.unwrap_or_default();
    let res = kms.list_key_rotations(caller, &key_ref(&raw)?, &p, all_material)?;
    let rotations: Vec<_> = res.items.iter().map(wire::RotationOut::new).collect();
    let mut out = json!({ "Rotations": rotations, "Truncated": res.next_marker.is_some() });
    if let Some(m) = res.next_marker {
        out["NextMarker"] = m.into();
    }
    to_body(&out)
}

pub(crate) fn get_parameters_for_import(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::ImportIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.required(&r.wrapping_algorithm, "wrappingAlgorithm");
    c.required(&r.wrapping_key_spec, "wrappingKeySpec");
    let alg = c.enumeration(
        r.wrapping_algorithm.as_deref(),
        "wrappingAlgorithm",
        WrappingAlgorithm::parse,
        WrappingAlgorithm::enum_constraint,
    );
    let spec = c.enumeration(
        r.wrapping_key_spec.as_deref(),
        "wrappingKeySpec",
        WrappingKeySpec::parse,
        WrappingKeySpec::enum_constraint,
    );
    c.finish()?;
    let (Some(raw), Some(alg), Some(spec)) = (raw, alg, spec) else {
        return Err(KmsError::internal("validated members missing").into());
    };
    let p = kms.get_parameters_for_import(caller, &key_ref(&raw)?, alg, spec)?;
    to_body(&json!({
        "KeyId": p.key_arn,
        "ImportToken": B64(&p.import_token),
        "PublicKey": B64(&p.public_key),
        "ParametersValidTo": epoch(p.valid_to),
    }))
}

pub(crate) fn import_key_material(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::ImportIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    let token = match c.required(&r.import_token, "importToken") {
        Some(t) => decode_blob(t, "ImportToken")?,
        None => Vec::new(),
    };
    let material = match c.required(&r.encrypted_key_material, "encryptedKeyMaterial") {
        Some(m) => decode_blob(m, "EncryptedKeyMaterial")?,
        None => Vec::new(),
    };
    c.blob_len(token.len(), "importToken", 1, 6144);
    c.blob_len(material.len(), "encryptedKeyMaterial", 1, 6144);
    let expiration = c.enumeration(
        r.expiration_model.as_deref(),
        "expirationModel",
        ExpirationModel::parse,
        ExpirationModel::enum_constraint,
    );
    let import_type =
        c.enumeration(r.import_type.as_deref(), "importType", ImportType::parse, ImportType::enum_constraint);
    if let Some(id) = &r.key_material_id {
        c.len(id, "keyMaterialId", 64, 64);
    }
    if let Some(d) = &r.key_material_description {
        c.len(d, "keyMaterialDescription", 0, 256);
    }
    c.finish()?;
    check_material_id(r.key_material_id.as_deref(), "keyMaterialId")?;
    // AWS's pattern `^[a-zA-Z0-9:/_\s.-]+$`: at least one character, `\s` as Java reads it (ASCII only).
    if let Some(d) = &r.key_material_description
        && (d.is_empty()
            || !d.chars().all(|ch| {
                ch.is_ascii_alphanumeric()
                    || matches!(ch, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ':' | '/' | '_' | '.' | '-')
            }))
    {
        return Err(KmsError::validation_one(
            d,
            "keyMaterialDescription",
            r"Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_\s.-]+$",
        )
        .into());
    }
    let raw = raw.unwrap_or_default();
    let valid_to = r.valid_to.map(|s| Timestamp((s * 1000.0) as i64));
    let done = kms.import_key_material(
        caller,
        &key_ref(&raw)?,
        ImportMaterialRequest {
            import_token: token,
            encrypted_key_material: material,
            expiration,
            valid_to,
            import_type,
            material_id: r.key_material_id,
            description: r.key_material_description,
        },
    )?;
    material_ref(&done)
}

pub(crate) fn delete_imported_key_material(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: wire::ImportIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    if let Some(id) = &r.key_material_id {
        c.len(id, "keyMaterialId", 64, 64);
    }
    c.finish()?;
    check_material_id(r.key_material_id.as_deref(), "keyMaterialId")?;
    let raw = raw.unwrap_or_default();
    let done = kms.delete_imported_key_material(caller, &key_ref(&raw)?, r.key_material_id.as_deref())?;
    material_ref(&done)
}

/// `KeyId` and, when there is one, `KeyMaterialId`: the answer of ImportKeyMaterial and
/// DeleteImportedKeyMaterial.
fn material_ref(m: &MaterialRef) -> Out {
    let mut out = json!({ "KeyId": m.key_arn });
    if let Some(id) = &m.material_id {
        out["KeyMaterialId"] = id.as_str().into();
    }
    to_body(&out)
}

/// AWS's BackingKeyIdType pattern, `^[a-f0-9]+$` (the length is checked with the other members).
fn check_material_id(id: Option<&str>, field: &str) -> Result<(), crate::error::ApiError> {
    match id {
        Some(id) if !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => {
            Err(KmsError::validation_one(id, field, "Member must satisfy regular expression pattern: ^[a-f0-9]+$")
                .into())
        }
        _ => Ok(()),
    }
}
