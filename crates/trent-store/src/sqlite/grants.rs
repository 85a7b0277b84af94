//! Grants in SQLite.

use std::collections::BTreeMap;

use rusqlite::{Row, params};
use trent_core::KmsError;
use trent_core::ids::KeyId;
use trent_core::model::{GrantOperation, GrantRecord, Timestamp};

use super::{SqliteStore, db};

const COLUMNS: &str = "key_id, grant_id, name, grantee_principal, retiring_principal, operations, context_subset, \
     context_equals, issuing_account, created_ms";

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, KmsError> {
    serde_json::to_string(v).map_err(KmsError::internal)
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Result<GrantRecord, String>> {
    let key_id: String = r.get(0)?;
    let grant_id: String = r.get(1)?;
    let name: Option<String> = r.get(2)?;
    let grantee_principal: String = r.get(3)?;
    let retiring_principal: Option<String> = r.get(4)?;
    let operations: String = r.get(5)?;
    let subset: Option<String> = r.get(6)?;
    let equals: Option<String> = r.get(7)?;
    let issuing_account: String = r.get(8)?;
    let created: i64 = r.get(9)?;
    Ok((|| {
        let ops: Vec<String> = serde_json::from_str(&operations).map_err(|e| e.to_string())?;
        let context = |t: Option<String>| -> Result<Option<BTreeMap<String, String>>, String> {
            t.map(|t| serde_json::from_str(&t).map_err(|e| e.to_string())).transpose()
        };
        Ok(GrantRecord {
            key_id: KeyId::parse(&key_id).ok_or_else(|| format!("stored key id {key_id:?} is not valid"))?,
            grant_id,
            name,
            grantee_principal,
            retiring_principal,
            operations: ops
                .iter()
                .map(|o| GrantOperation::parse(o).ok_or_else(|| format!("stored grant operation {o:?} is not valid")))
                .collect::<Result<_, _>>()?,
            context_subset: context(subset)?,
            context_equals: context(equals)?,
            issuing_account,
            created: Timestamp(created),
        })
    })())
}

impl SqliteStore {
    pub(super) fn put_grant_row(&self, g: &GrantRecord) -> Result<(), KmsError> {
        let ops: Vec<&str> = g.operations.iter().map(|o| o.as_str()).collect();
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO grants ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (key_id, grant_id) DO NOTHING"
                ),
                params![
                    g.key_id.to_string(),
                    g.grant_id,
                    g.name,
                    g.grantee_principal,
                    g.retiring_principal,
                    to_json(&ops)?,
                    g.context_subset.as_ref().map(to_json).transpose()?,
                    g.context_equals.as_ref().map(to_json).transpose()?,
                    g.issuing_account,
                    g.created.0
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    pub(super) fn grant_rows(&self, sql_where: &str, arg: &str) -> Result<Vec<GrantRecord>, KmsError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM grants WHERE {sql_where} ORDER BY created_ms, grant_id"))
            .map_err(db)?;
        let rows = stmt.query_map(params![arg], from_row).map_err(db)?;
        rows.map(|r| r.map_err(db)?.map_err(KmsError::internal)).collect()
    }

    pub(super) fn delete_grant_row(&self, key_id: &KeyId, grant_id: &str) -> Result<bool, KmsError> {
        let n = self
            .conn()
            .execute("DELETE FROM grants WHERE key_id = ?1 AND grant_id = ?2", params![key_id.to_string(), grant_id])
            .map_err(db)?;
        Ok(n == 1)
    }
}
