//! Mapping between rows and domain records. Enum columns hold AWS's spellings, so the data is readable with
//! any SQL client and portable to PostgreSQL.

use std::collections::BTreeMap;

use rusqlite::{Row, Transaction, params};
use trent_core::ids::{AccountId, AliasName, KeyId, Region};
use trent_core::model::{
    AccessKeyRecord, AliasRecord, ExpirationModel, ImportParamsRecord, ImportedMaterial, KeyManager, KeyMaterialState,
    KeyRecord, KeySpec, KeyState, KeyUsage, KeyVersionRecord, Origin, RotationSchedule, RotationType, Timestamp,
    WrappingAlgorithm,
};

pub(super) const KEY_COLUMNS: &str = "key_id, account, region, description, key_spec, key_usage, origin, state, \
     created_ms, deletion_ms, pending_window_days, policy, current_version, rotation_period_days, next_rotation_ms, \
     key_manager";

/// A row read successfully whose contents may still fail domain parsing (a corrupted or foreign database).
/// Kept apart from `rusqlite::Error` so the caller can report which value was wrong.
pub(super) struct Decoded<T>(Result<T, String>);

impl<T> Decoded<T> {
    pub(super) fn take(self) -> Result<T, String> {
        self.0
    }
}

fn parse<T>(what: &str, s: &str, f: impl FnOnce(&str) -> Option<T>) -> Result<T, String> {
    f(s).ok_or_else(|| format!("stored {what} {s:?} is not valid"))
}

pub(super) fn insert_key(tx: &Transaction<'_>, k: &KeyRecord) -> rusqlite::Result<usize> {
    tx.execute(
        &format!(
            "INSERT INTO keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        ),
        params![
            k.key_id.to_string(),
            k.account.as_str(),
            k.region.as_str(),
            k.description,
            k.key_spec.as_str(),
            k.key_usage.as_str(),
            k.origin.as_str(),
            k.state.as_str(),
            k.created.0,
            k.deletion_date.map(|t| t.0),
            k.pending_window_days,
            k.policy,
            k.current_version,
            k.rotation.map(|r| r.period_days),
            k.rotation.map(|r| r.next.0),
            k.key_manager.as_str()
        ],
    )
}

/// The mutable columns of a key, for UPDATE (parameters ?2.. after the key id in ?1).
pub(super) fn update_key(tx: &Transaction<'_>, k: &KeyRecord) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE keys SET description = ?2, state = ?3, deletion_ms = ?4, pending_window_days = ?5, policy = ?6,
             current_version = ?7, rotation_period_days = ?8, next_rotation_ms = ?9
         WHERE key_id = ?1",
        params![
            k.key_id.to_string(),
            k.description,
            k.state.as_str(),
            k.deletion_date.map(|t| t.0),
            k.pending_window_days,
            k.policy,
            k.current_version,
            k.rotation.map(|r| r.period_days),
            k.rotation.map(|r| r.next.0)
        ],
    )
}

pub(super) fn insert_version(tx: &Transaction<'_>, v: &KeyVersionRecord) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO key_versions (key_id, version, wrapped, material_id, created_ms, rotation_type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        v.key_id.to_string(),
        v.version,
        v.wrapped,
        v.material_id,
        v.created.0,
        v.rotation.map(|r| r.as_str())
    ])
}

pub(super) fn version_from_row(
    key_id: trent_core::ids::KeyId,
    r: &Row<'_>,
) -> rusqlite::Result<Decoded<KeyVersionRecord>> {
    let version: u32 = r.get(0)?;
    let wrapped: Vec<u8> = r.get(1)?;
    let material_id: String = r.get(2)?;
    let created: i64 = r.get(3)?;
    let rotation: Option<String> = r.get(4)?;
    Ok(Decoded((|| {
        Ok(KeyVersionRecord {
            key_id,
            version,
            wrapped,
            material_id,
            created: Timestamp(created),
            rotation: rotation.map(|s| parse("rotation type", &s, RotationType::parse)).transpose()?,
        })
    })()))
}

/// Replaces the key's rows in key_materials with `k.materials`.
pub(super) fn write_materials(tx: &Transaction<'_>, k: &KeyRecord) -> rusqlite::Result<()> {
    // Only EXTERNAL keys have rows; other keys skip the statement on every metadata update.
    if k.origin != Origin::External {
        return Ok(());
    }
    let id = k.key_id.to_string();
    tx.execute("DELETE FROM key_materials WHERE key_id = ?1", params![id])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO key_materials (key_id, version, material_id, description, state, imported, expiration_model,
                                    valid_to_ms, rotated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for m in &k.materials {
        stmt.execute(params![
            id,
            m.version,
            m.material_id,
            m.description,
            m.state.as_str(),
            m.imported,
            m.expiration.as_str(),
            m.valid_to.map(|t| t.0),
            m.rotated.map(|t| t.0)
        ])?;
    }
    Ok(())
}

pub(super) const MATERIAL_COLUMNS: &str =
    "version, material_id, description, state, imported, expiration_model, valid_to_ms, rotated_ms";

pub(super) fn material_from_row(r: &Row<'_>) -> rusqlite::Result<Decoded<ImportedMaterial>> {
    let version: u32 = r.get(0)?;
    let material_id: String = r.get(1)?;
    let description: Option<String> = r.get(2)?;
    let state: String = r.get(3)?;
    let imported: bool = r.get(4)?;
    let expiration: String = r.get(5)?;
    let valid_to: Option<i64> = r.get(6)?;
    let rotated: Option<i64> = r.get(7)?;
    Ok(Decoded((|| {
        Ok(ImportedMaterial {
            version,
            material_id,
            description,
            state: parse("key material state", &state, KeyMaterialState::parse)?,
            imported,
            expiration: parse("expiration model", &expiration, ExpirationModel::parse)?,
            valid_to: valid_to.map(Timestamp),
            rotated: rotated.map(Timestamp),
        })
    })()))
}

pub(super) fn import_params_from_row(r: &Row<'_>) -> rusqlite::Result<Decoded<ImportParamsRecord>> {
    let key_id: String = r.get(0)?;
    let token: Vec<u8> = r.get(1)?;
    let alg: String = r.get(2)?;
    let wrapped_private_key: Vec<u8> = r.get(3)?;
    let valid_to: i64 = r.get(4)?;
    Ok(Decoded((|| {
        Ok(ImportParamsRecord {
            key_id: parse("key id", &key_id, trent_core::ids::KeyId::parse)?,
            token,
            wrapping_algorithm: parse("wrapping algorithm", &alg, WrappingAlgorithm::parse)?,
            wrapped_private_key,
            valid_to: Timestamp(valid_to),
        })
    })()))
}

pub(super) fn key_from_row(r: &Row<'_>) -> rusqlite::Result<Decoded<KeyRecord>> {
    let key_id: String = r.get(0)?;
    let account: String = r.get(1)?;
    let region: String = r.get(2)?;
    let description: String = r.get(3)?;
    let spec: String = r.get(4)?;
    let usage: String = r.get(5)?;
    let origin: String = r.get(6)?;
    let state: String = r.get(7)?;
    let created: i64 = r.get(8)?;
    let deletion: Option<i64> = r.get(9)?;
    let window: Option<u32> = r.get(10)?;
    let policy: String = r.get(11)?;
    let current_version: u32 = r.get(12)?;
    let rotation_period: Option<u32> = r.get(13)?;
    let next_rotation: Option<i64> = r.get(14)?;
    let key_manager: String = r.get(15)?;
    Ok(Decoded((|| {
        Ok(KeyRecord {
            key_id: parse("key id", &key_id, KeyId::parse)?,
            account: parse("account", &account, AccountId::parse)?,
            region: parse("region", &region, Region::parse)?,
            description,
            key_spec: parse("key spec", &spec, KeySpec::parse)?,
            key_usage: parse("key usage", &usage, KeyUsage::parse)?,
            origin: parse("origin", &origin, Origin::parse)?,
            state: parse("key state", &state, KeyState::parse)?,
            created: Timestamp(created),
            deletion_date: deletion.map(Timestamp),
            pending_window_days: window,
            policy,
            tags: BTreeMap::new(),
            current_version,
            rotation: match (rotation_period, next_rotation) {
                (Some(period_days), Some(next)) => Some(RotationSchedule { period_days, next: Timestamp(next) }),
                _ => None,
            },
            // Filled from key_materials by the caller.
            materials: Vec::new(),
            key_manager: parse("key manager", &key_manager, KeyManager::parse)?,
        })
    })()))
}

pub(super) fn alias_from_row(r: &Row<'_>) -> rusqlite::Result<Decoded<AliasRecord>> {
    let account: String = r.get(0)?;
    let name: String = r.get(1)?;
    let target: String = r.get(2)?;
    let created: i64 = r.get(3)?;
    let updated: i64 = r.get(4)?;
    Ok(Decoded((|| {
        Ok(AliasRecord {
            account: parse("account", &account, AccountId::parse)?,
            name: parse("alias", &name, |s| AliasName::parse(s).ok())?,
            target: parse("alias target", &target, KeyId::parse)?,
            created: Timestamp(created),
            updated: Timestamp(updated),
        })
    })()))
}

pub(super) fn access_key_from_row(r: &Row<'_>) -> rusqlite::Result<Decoded<AccessKeyRecord>> {
    let access_key_id: String = r.get(0)?;
    let account: String = r.get(1)?;
    let principal_arn: String = r.get(2)?;
    let wrapped_secret: Vec<u8> = r.get(3)?;
    let active: bool = r.get(4)?;
    let created: i64 = r.get(5)?;
    Ok(Decoded((|| {
        Ok(AccessKeyRecord {
            access_key_id,
            account: parse("account", &account, AccountId::parse)?,
            principal_arn,
            wrapped_secret,
            active,
            created: Timestamp(created),
        })
    })()))
}
