//! SQLite implementation of the store: one connection in WAL mode with `synchronous=FULL`, so a committed
//! transaction survives a crash or power loss.

mod grants;
mod iam;
mod migrations;
mod rows;
mod ssm;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use trent_core::KmsError;
use trent_core::ids::{AccountId, AliasName, KeyId};
use trent_core::model::{AccessKeyRecord, AliasRecord, GrantRecord, ImportParamsRecord, KeyRecord, KeyVersionRecord};
use trent_core::store::{KeyUpdate, Store};

use rows::{
    KEY_COLUMNS, MATERIAL_COLUMNS, access_key_from_row, alias_from_row, import_params_from_row, key_from_row,
    material_from_row, version_from_row,
};

pub struct SqliteStore {
    // One connection: management writes are rare (AWS allows 5 per second for most of them) and the hot path
    // reads from the in-memory cache, so a pool would buy nothing but complexity.
    conn: Mutex<Connection>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, KmsError> {
        restrict_permissions(path)?;
        let conn = Connection::open(path).map_err(db)?;
        Self::init(conn)
    }

    /// A private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Self, KmsError> {
        Self::init(Connection::open_in_memory().map_err(db)?)
    }

    fn init(mut conn: Connection) -> Result<Self, KmsError> {
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        // Freed pages are overwritten, so destroyed key material does not linger in the database file.
        conn.pragma_update(None, "secure_delete", "ON").map_err(db)?;
        migrate(&mut conn)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    /// Runs a `SELECT key_id ... ?1` query with a time bound: the scheduler's "what is due" questions.
    fn key_ids(&self, sql: &str, now_ms: i64) -> Result<Vec<KeyId>, KmsError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql).map_err(db)?;
        let ids = stmt.query_map(params![now_ms], |r| r.get::<_, String>(0)).map_err(db)?;
        ids.map(|r| {
            let s = r.map_err(db)?;
            KeyId::parse(&s).ok_or_else(|| KmsError::internal(format!("stored key id {s:?} is not a UUID")))
        })
        .collect()
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied transaction: rusqlite rolls back an
        // unfinished transaction when it is dropped during unwinding.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The database holds only wrapped secrets, but its metadata (key ids, aliases, tags, policies) is still
/// nobody else's business: create it 0600. SQLite gives its -wal and -shm files the database's permissions.
#[cfg(unix)]
fn restrict_permissions(path: &Path) -> Result<(), KmsError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |e: std::io::Error| KmsError::internal(format!("{}: {e}", path.display()));
    if !path.exists() {
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) -> Result<(), KmsError> {
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<(), KmsError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )
    .map_err(db)?;
    let current: i64 =
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0)).map_err(db)?;
    let newest = migrations::MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(KmsError::internal(format!(
            "database schema version {current} is newer than this Trent understands ({newest}); refusing to start"
        )));
    }
    for (version, sql) in migrations::MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        tx.execute_batch(sql).map_err(db)?;
        tx.execute("INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)", params![version, now_ms()])
            .map_err(db)?;
        tx.commit().map_err(db)?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn db(e: rusqlite::Error) -> KmsError {
    KmsError::internal(format!("sqlite: {e}"))
}

fn write_tags(tx: &rusqlite::Transaction<'_>, key: &KeyRecord) -> Result<(), KmsError> {
    let id = key.key_id.to_string();
    tx.execute("DELETE FROM key_tags WHERE key_id = ?1", params![id]).map_err(db)?;
    let mut stmt =
        tx.prepare_cached("INSERT INTO key_tags (key_id, tag_key, tag_value) VALUES (?1, ?2, ?3)").map_err(db)?;
    for (k, v) in &key.tags {
        stmt.execute(params![id, k, v]).map_err(db)?;
    }
    Ok(())
}

fn read_key(conn: &Connection, key_id: &KeyId) -> Result<Option<KeyRecord>, KmsError> {
    let id = key_id.to_string();
    let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = ?1");
    let Some(row) = conn.query_row(&sql, params![id], key_from_row).optional().map_err(db)? else {
        return Ok(None);
    };
    let mut key = row.take().map_err(KmsError::internal)?;
    let mut stmt = conn.prepare_cached("SELECT tag_key, tag_value FROM key_tags WHERE key_id = ?1").map_err(db)?;
    let tags = stmt.query_map(params![id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(db)?;
    for t in tags {
        let (k, v) = t.map_err(db)?;
        key.tags.insert(k, v);
    }
    if key.origin == trent_core::model::Origin::External {
        let sql = format!("SELECT {MATERIAL_COLUMNS} FROM key_materials WHERE key_id = ?1 ORDER BY version");
        let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
        let rows = stmt.query_map(params![id], material_from_row).map_err(db)?;
        for m in rows {
            key.materials.push(m.map_err(db)?.take().map_err(KmsError::internal)?);
        }
    }
    Ok(Some(key))
}

impl Store for SqliteStore {
    fn create_key(&self, key: &KeyRecord, version: Option<&KeyVersionRecord>) -> Result<(), KmsError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        rows::insert_key(&tx, key).map_err(db)?;
        if let Some(v) = version {
            rows::insert_version(&tx, v).map_err(db)?;
        }
        write_tags(&tx, key)?;
        rows::write_materials(&tx, key).map_err(db)?;
        tx.commit().map_err(db)
    }

    fn create_keys(&self, keys: &[(KeyRecord, KeyVersionRecord)]) -> Result<(), KmsError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        for (key, version) in keys {
            rows::insert_key(&tx, key).map_err(db)?;
            rows::insert_version(&tx, version).map_err(db)?;
            if !key.tags.is_empty() {
                write_tags(&tx, key)?;
            }
        }
        // One commit, one fsync, for the whole batch; an error above drops `tx`, which rolls back.
        tx.commit().map_err(db)
    }

    fn key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, KmsError> {
        read_key(&self.conn(), key_id)
    }

    fn key_versions(&self, key_id: &KeyId) -> Result<Vec<KeyVersionRecord>, KmsError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT version, wrapped, material_id, created_ms, rotation_type FROM key_versions
                 WHERE key_id = ?1 ORDER BY version",
            )
            .map_err(db)?;
        let rows = stmt.query_map(params![key_id.to_string()], |r| version_from_row(*key_id, r)).map_err(db)?;
        rows.map(|r| r.map_err(db)?.take().map_err(KmsError::internal)).collect()
    }

    fn update_key(&self, key_id: &KeyId, update: KeyUpdate<'_>) -> Result<Option<KeyRecord>, KmsError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let Some(mut key) = read_key(&tx, key_id)? else { return Ok(None) };
        update(&mut key)?; // an Err drops `tx`, which rolls back
        rows::update_key(&tx, &key).map_err(db)?;
        write_tags(&tx, &key)?;
        rows::write_materials(&tx, &key).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Some(key))
    }

    fn list_keys(&self, account: &AccountId, after: Option<&KeyId>, limit: usize) -> Result<Vec<KeyId>, KmsError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT key_id FROM keys WHERE account = ?1 AND key_id > ?2 ORDER BY key_id LIMIT ?3")
            .map_err(db)?;
        let after = after.map(|k| k.to_string()).unwrap_or_default();
        let ids =
            stmt.query_map(params![account.as_str(), after, limit as i64], |r| r.get::<_, String>(0)).map_err(db)?;
        ids.map(|r| {
            let s = r.map_err(db)?;
            KeyId::parse(&s).ok_or_else(|| KmsError::internal(format!("stored key id {s:?} is not a UUID")))
        })
        .collect()
    }

    fn keys_due_for_deletion(&self, now_ms: i64) -> Result<Vec<KeyId>, KmsError> {
        self.key_ids(
            "SELECT key_id FROM keys WHERE deletion_ms IS NOT NULL AND deletion_ms <= ?1 AND state = 'PendingDeletion'",
            now_ms,
        )
    }

    fn destroy_key(&self, key_id: &KeyId) -> Result<(), KmsError> {
        self.destroy(key_id, None).map(|_| ())
    }

    fn destroy_key_if_due(&self, key_id: &KeyId, now_ms: i64) -> Result<bool, KmsError> {
        self.destroy(key_id, Some(now_ms))
    }

    fn create_alias(&self, alias: &AliasRecord) -> Result<(), KmsError> {
        let conn = self.conn();
        let res = conn.execute(
            "INSERT INTO aliases (account, name, target, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                alias.account.as_str(),
                alias.name.as_str(),
                alias.target.to_string(),
                alias.created.0,
                alias.updated.0
            ],
        );
        match res {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                Err(KmsError::AlreadyExists(alias.name.to_string()))
            }
            Err(e) => Err(db(e)),
        }
    }

    fn alias(&self, account: &AccountId, name: &AliasName) -> Result<Option<AliasRecord>, KmsError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT account, name, target, created_ms, updated_ms FROM aliases WHERE account = ?1 AND name = ?2",
                params![account.as_str(), name.as_str()],
                alias_from_row,
            )
            .optional()
            .map_err(db)?;
        row.map(|r| r.take().map_err(KmsError::internal)).transpose()
    }

    fn update_alias(
        &self,
        account: &AccountId,
        name: &AliasName,
        from: &KeyId,
        target: &KeyId,
        now_ms: i64,
    ) -> Result<bool, KmsError> {
        let n = self
            .conn()
            .execute(
                "UPDATE aliases SET target = ?3, updated_ms = ?4 WHERE account = ?1 AND name = ?2 AND target = ?5",
                params![account.as_str(), name.as_str(), target.to_string(), now_ms, from.to_string()],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn delete_alias(&self, account: &AccountId, name: &AliasName) -> Result<bool, KmsError> {
        let n = self
            .conn()
            .execute("DELETE FROM aliases WHERE account = ?1 AND name = ?2", params![account.as_str(), name.as_str()])
            .map_err(db)?;
        Ok(n == 1)
    }

    fn list_aliases(
        &self,
        account: &AccountId,
        target: Option<&KeyId>,
        after: Option<&AliasName>,
        limit: usize,
    ) -> Result<Vec<AliasRecord>, KmsError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT account, name, target, created_ms, updated_ms FROM aliases
                 WHERE account = ?1 AND (?2 IS NULL OR target = ?2) AND name > ?3
                 ORDER BY name LIMIT ?4",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(
                params![
                    account.as_str(),
                    target.map(|t| t.to_string()),
                    after.map(|a| a.as_str()).unwrap_or(""),
                    limit as i64
                ],
                alias_from_row,
            )
            .map_err(db)?;
        rows.map(|r| r.map_err(db)?.take().map_err(KmsError::internal)).collect()
    }

    fn count_aliases(&self, target: &KeyId) -> Result<usize, KmsError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM aliases WHERE target = ?1", params![target.to_string()], |r| r.get(0))
            .map_err(db)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn add_key_version(
        &self,
        key_id: &KeyId,
        version: &KeyVersionRecord,
        update: KeyUpdate<'_>,
    ) -> Result<Option<KeyRecord>, KmsError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let Some(mut key) = read_key(&tx, key_id)? else { return Ok(None) };
        update(&mut key)?;
        rows::insert_version(&tx, version).map_err(db)?;
        rows::update_key(&tx, &key).map_err(db)?;
        rows::write_materials(&tx, &key).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Some(key))
    }

    fn delete_key_version(
        &self,
        key_id: &KeyId,
        version: u32,
        update: KeyUpdate<'_>,
    ) -> Result<Option<KeyRecord>, KmsError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let Some(mut key) = read_key(&tx, key_id)? else { return Ok(None) };
        update(&mut key)?;
        tx.execute("DELETE FROM key_versions WHERE key_id = ?1 AND version = ?2", params![key_id.to_string(), version])
            .map_err(db)?;
        rows::update_key(&tx, &key).map_err(db)?;
        rows::write_materials(&tx, &key).map_err(db)?;
        tx.commit().map_err(db)?;
        // As in destroy_key: the erased material must leave the WAL too.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").map_err(db)?;
        Ok(Some(key))
    }

    fn keys_due_for_rotation(&self, now_ms: i64) -> Result<Vec<KeyId>, KmsError> {
        self.key_ids("SELECT key_id FROM keys WHERE next_rotation_ms IS NOT NULL AND next_rotation_ms <= ?1", now_ms)
    }

    fn keys_with_expiring_material(&self, now_ms: i64) -> Result<Vec<KeyId>, KmsError> {
        self.key_ids(
            "SELECT DISTINCT key_id FROM key_materials
              WHERE imported = 1 AND valid_to_ms IS NOT NULL AND valid_to_ms <= ?1",
            now_ms,
        )
    }

    fn put_import_params(&self, p: &ImportParamsRecord) -> Result<(), KmsError> {
        self.conn()
            .execute(
                "INSERT INTO import_params (key_id, token, wrapping_algorithm, wrapped_private_key, valid_to_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key_id) DO UPDATE SET token = excluded.token,
                     wrapping_algorithm = excluded.wrapping_algorithm,
                     wrapped_private_key = excluded.wrapped_private_key, valid_to_ms = excluded.valid_to_ms",
                params![
                    p.key_id.to_string(),
                    p.token,
                    p.wrapping_algorithm.as_str(),
                    p.wrapped_private_key,
                    p.valid_to.0
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    fn import_params(&self, key_id: &KeyId) -> Result<Option<ImportParamsRecord>, KmsError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT key_id, token, wrapping_algorithm, wrapped_private_key, valid_to_ms FROM import_params WHERE key_id = ?1",
                params![key_id.to_string()],
                import_params_from_row,
            )
            .optional()
            .map_err(db)?;
        row.map(|r| r.take().map_err(KmsError::internal)).transpose()
    }

    fn put_grant(&self, grant: &GrantRecord) -> Result<(), KmsError> {
        self.put_grant_row(grant)
    }

    fn grants(&self, key_id: &KeyId) -> Result<Vec<GrantRecord>, KmsError> {
        self.grant_rows("key_id = ?1", &key_id.to_string())
    }

    fn grants_retirable_by(&self, principal: &str) -> Result<Vec<GrantRecord>, KmsError> {
        self.grant_rows("retiring_principal = ?1", principal)
    }

    fn delete_grant(&self, key_id: &KeyId, grant_id: &str) -> Result<bool, KmsError> {
        self.delete_grant_row(key_id, grant_id)
    }

    fn put_access_key(&self, key: &AccessKeyRecord) -> Result<(), KmsError> {
        self.conn()
            .execute(
                "INSERT INTO access_keys (access_key_id, account, principal_arn, wrapped_secret, active, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (access_key_id) DO UPDATE SET active = excluded.active",
                params![
                    key.access_key_id,
                    key.account.as_str(),
                    key.principal_arn,
                    key.wrapped_secret,
                    key.active,
                    key.created.0
                ],
            )
            .map_err(db)?;
        Ok(())
    }

    fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, KmsError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT access_key_id, account, principal_arn, wrapped_secret, active, created_ms FROM access_keys WHERE access_key_id = ?1",
                params![access_key_id],
                access_key_from_row,
            )
            .optional()
            .map_err(db)?;
        row.map(|r| r.take().map_err(KmsError::internal)).transpose()
    }

    fn access_keys_of(&self, principal_arn: &str) -> Result<Vec<AccessKeyRecord>, KmsError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT access_key_id, account, principal_arn, wrapped_secret, active, created_ms FROM access_keys WHERE principal_arn = ?1 ORDER BY created_ms",
            )
            .map_err(db)?;
        let rows = stmt.query_map(params![principal_arn], access_key_from_row).map_err(db)?;
        rows.map(|r| r.map_err(db)?.take().map_err(KmsError::internal)).collect()
    }
}

impl SqliteStore {
    /// Erases a key in one IMMEDIATE transaction; with `due_at`, only if the key is still pending deletion with
    /// its window ended by then. The check runs inside the transaction, which holds the write lock, so no
    /// CancelKeyDeletion can commit between the check and the deletes.
    fn destroy(&self, key_id: &KeyId, due_at: Option<i64>) -> Result<bool, KmsError> {
        let mut conn = self.conn();
        let id = key_id.to_string();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        if let Some(now_ms) = due_at {
            let due = tx
                .query_row(
                    "SELECT 1 FROM keys WHERE key_id = ?1 AND state = 'PendingDeletion'
                       AND deletion_ms IS NOT NULL AND deletion_ms <= ?2",
                    params![id, now_ms],
                    |_| Ok(()),
                )
                .optional()
                .map_err(db)?
                .is_some();
            if !due {
                // Dropping the transaction rolls it back; nothing was written.
                return Ok(false);
            }
        }
        for sql in [
            "DELETE FROM aliases WHERE target = ?1",
            "DELETE FROM import_params WHERE key_id = ?1",
            "DELETE FROM grants WHERE key_id = ?1",
            "DELETE FROM key_tags WHERE key_id = ?1",
            "DELETE FROM key_materials WHERE key_id = ?1",
            "DELETE FROM key_versions WHERE key_id = ?1",
            "DELETE FROM keys WHERE key_id = ?1",
        ] {
            tx.execute(sql, params![id]).map_err(db)?;
        }
        tx.commit().map_err(db)?;
        // Move the WAL's copy of the deleted pages into the (secure_delete) main file and truncate the log,
        // so the material is gone from disk, not only from the schema.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").map_err(db)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
