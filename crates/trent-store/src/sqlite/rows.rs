//! Mapping between rows and domain records. Enum columns hold AWS's spellings, so the data is readable with
//! any SQL client and portable to PostgreSQL.

use std::collections::BTreeMap;

use rusqlite::{params, Row, Transaction};
use trent_core::ids::{AccountId, AliasName, KeyId, Region};
use trent_core::model::{AccessKeyRecord, AliasRecord, KeyRecord, KeySpec, KeyState, KeyUsage, Origin, Timestamp};

pub(super) const KEY_COLUMNS: &str = "key_id, account, region, description, key_spec, key_usage, origin, state, \
     created_ms, deletion_ms, pending_window_days, policy, current_version";

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
        &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
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
            k.current_version
        ],
    )
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
