//! The Parameter Store tables (migration 3). A parameter is read whole (its at most 100 versions, labels and
//! tags) and written back whole inside one transaction: parameters change rarely and are small, and the
//! read-modify-write keeps the version and label rules in one place (`trent_core::ssm::versions`).

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use trent_core::ids::AccountId;
use trent_core::model::Timestamp;
use trent_core::ssm::store::ParameterUpdate;
use trent_core::ssm::{ParameterRecord, ParameterStore, ParameterType, SsmError, Tier, VersionRecord};

use super::SqliteStore;

fn db(e: rusqlite::Error) -> SsmError {
    SsmError::internal(format!("sqlite: {e}"))
}

fn corrupt(what: &str, v: &str) -> SsmError {
    SsmError::internal(format!("stored {what} {v:?} is not valid"))
}

fn read(conn: &Connection, account: &AccountId, name: &str) -> Result<Option<ParameterRecord>, SsmError> {
    let expires: Option<Option<i64>> = conn
        .query_row(
            "SELECT expires_ms FROM ssm_parameters WHERE account = ?1 AND name = ?2",
            params![account.as_str(), name],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    let Some(expires) = expires else { return Ok(None) };
    let mut stmt = conn
        .prepare_cached(
            "SELECT version, type, value, key_id, description, allowed_pattern, data_type, tier, policies, labels,
                    modified_ms, modified_user
             FROM ssm_parameter_versions WHERE account = ?1 AND name = ?2 ORDER BY version",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![account.as_str(), name], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, i64>(10)?,
                r.get::<_, String>(11)?,
            ))
        })
        .map_err(db)?;
    let mut versions = Vec::new();
    for row in rows {
        let (
            version,
            kind,
            value,
            key_id,
            description,
            allowed_pattern,
            data_type,
            tier,
            policies,
            labels,
            modified,
            user,
        ) = row.map_err(db)?;
        versions.push(VersionRecord {
            version: u64::try_from(version).map_err(|_| corrupt("version", &version.to_string()))?,
            kind: ParameterType::parse(&kind).ok_or_else(|| corrupt("parameter type", &kind))?,
            value,
            key_id,
            description,
            allowed_pattern,
            data_type,
            tier: Tier::parse(&tier).ok_or_else(|| corrupt("tier", &tier))?,
            policies,
            // Labels cannot contain commas (letters, digits, `.`, `-`, `_` only).
            labels: labels.split(',').filter(|l| !l.is_empty()).map(str::to_owned).collect(),
            modified: Timestamp(modified),
            modified_user: user,
        });
    }
    let mut tags = BTreeMap::new();
    let mut stmt = conn
        .prepare_cached("SELECT tag_key, tag_value FROM ssm_parameter_tags WHERE account = ?1 AND name = ?2")
        .map_err(db)?;
    let rows = stmt
        .query_map(params![account.as_str(), name], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(db)?;
    for row in rows {
        let (k, v) = row.map_err(db)?;
        tags.insert(k, v);
    }
    Ok(Some(ParameterRecord {
        account: account.clone(),
        name: name.to_owned(),
        tags,
        versions,
        expires: expires.map(Timestamp),
    }))
}

fn delete(tx: &rusqlite::Transaction<'_>, account: &AccountId, name: &str) -> Result<(), SsmError> {
    for sql in [
        "DELETE FROM ssm_parameter_tags WHERE account = ?1 AND name = ?2",
        "DELETE FROM ssm_parameter_versions WHERE account = ?1 AND name = ?2",
        "DELETE FROM ssm_parameters WHERE account = ?1 AND name = ?2",
    ] {
        tx.execute(sql, params![account.as_str(), name]).map_err(db)?;
    }
    Ok(())
}

fn write(tx: &rusqlite::Transaction<'_>, p: &ParameterRecord) -> Result<(), SsmError> {
    delete(tx, &p.account, &p.name)?;
    tx.execute(
        "INSERT INTO ssm_parameters (account, name, expires_ms) VALUES (?1, ?2, ?3)",
        params![p.account.as_str(), p.name, p.expires.map(|t| t.0)],
    )
    .map_err(db)?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO ssm_parameter_versions (account, name, version, type, value, key_id, description,
                 allowed_pattern, data_type, tier, policies, labels, modified_ms, modified_user)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .map_err(db)?;
    for v in &p.versions {
        let version = i64::try_from(v.version).map_err(SsmError::internal)?;
        stmt.execute(params![
            p.account.as_str(),
            p.name,
            version,
            v.kind.as_str(),
            v.value,
            v.key_id,
            v.description,
            v.allowed_pattern,
            v.data_type,
            v.tier.as_str(),
            v.policies,
            v.labels.join(","),
            v.modified.0,
            v.modified_user
        ])
        .map_err(db)?;
    }
    let mut stmt = tx
        .prepare_cached("INSERT INTO ssm_parameter_tags (account, name, tag_key, tag_value) VALUES (?1, ?2, ?3, ?4)")
        .map_err(db)?;
    for (k, v) in &p.tags {
        stmt.execute(params![p.account.as_str(), p.name, k, v]).map_err(db)?;
    }
    Ok(())
}

impl ParameterStore for SqliteStore {
    fn parameter(&self, account: &AccountId, name: &str) -> Result<Option<ParameterRecord>, SsmError> {
        read(&self.conn(), account, name)
    }

    fn update_parameter(
        &self,
        account: &AccountId,
        name: &str,
        update: ParameterUpdate<'_>,
    ) -> Result<Option<ParameterRecord>, SsmError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let mut current = read(&tx, account, name)?;
        let existed = current.is_some();
        update(&mut current)?; // an Err drops `tx`, which rolls back
        match &current {
            Some(p) => write(&tx, p)?,
            None if existed => delete(&tx, account, name)?,
            None => {}
        }
        tx.commit().map_err(db)?;
        Ok(current)
    }

    fn list_parameters(
        &self,
        account: &AccountId,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ParameterRecord>, SsmError> {
        let conn = self.conn();
        let names: Vec<String> = {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT name FROM ssm_parameters
                     WHERE account = ?1 AND substr(name, 1, length(?2)) = ?2 AND name > ?3
                     ORDER BY name LIMIT ?4",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![account.as_str(), prefix, after.unwrap_or(""), limit as i64], |r| r.get(0))
                .map_err(db)?;
            rows.collect::<Result<_, _>>().map_err(db)?
        };
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            if let Some(p) = read(&conn, account, &n)? {
                out.push(p);
            }
        }
        Ok(out)
    }

    fn parameters_expiring(&self, now_ms: i64) -> Result<Vec<(AccountId, String)>, SsmError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT account, name FROM ssm_parameters WHERE expires_ms IS NOT NULL AND expires_ms <= ?1",
            )
            .map_err(db)?;
        let rows =
            stmt.query_map(params![now_ms], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(db)?;
        let mut out = Vec::new();
        for row in rows {
            let (a, n) = row.map_err(db)?;
            out.push((AccountId::parse(&a).ok_or_else(|| corrupt("account", &a))?, n));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use trent_core::clock::SystemClock;
    use trent_core::ids::Region;
    use trent_core::service::{Caller, Kms};
    use trent_core::ssm::{PutRequest, Ssm};
    use trent_crypto::{RootKey, SecretBytes};

    use super::*;

    fn caller() -> Caller {
        Caller::new(AccountId::parse("111122223333").unwrap(), "arn:aws:iam::111122223333:root")
    }

    fn ssm(store: Arc<SqliteStore>) -> Ssm {
        let root = Arc::new(RootKey::from_secret(&SecretBytes::new(vec![3; 32])).unwrap());
        let kms = Arc::new(Kms::new(store.clone(), root, Arc::new(SystemClock), Region::parse("us-east-1").unwrap()));
        Ssm::new(kms, store)
    }

    fn put(name: &str, value: &str, kind: ParameterType) -> PutRequest {
        PutRequest {
            name: name.into(),
            value: SecretBytes::new(value.as_bytes().to_vec()),
            kind: Some(kind),
            description: Some("d".into()),
            key_id: None,
            overwrite: true,
            allowed_pattern: None,
            tags: Vec::new(),
            tier: None,
            policies: None,
            data_type: None,
        }
    }

    #[test]
    fn parameters_round_trip_with_versions_labels_tags() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let s = ssm(store.clone());
        let c = caller();
        for v in ["a", "b", "c"] {
            s.put_parameter(&c, put("/x/p", v, ParameterType::StringList)).unwrap();
        }
        s.label_parameter_version(&c, "/x/p", Some(2), &["prod".into(), "blue".into()]).unwrap();
        s.add_tags(&c, "Parameter", "/x/p", &[("team".into(), "red".into())]).unwrap();
        let p = store.parameter(&c.account, "/x/p").unwrap().unwrap();
        assert_eq!(p.versions.len(), 3);
        assert_eq!(p.versions[1].labels, vec!["prod".to_string(), "blue".to_string()]);
        assert_eq!(p.tags.get("team").map(String::as_str), Some("red"));
        assert_eq!(p.versions[2].value, b"c");
        assert_eq!(p.versions[0].description.as_deref(), Some("d"));
        let listed = store.list_parameters(&c.account, "/x/", None, 10).unwrap();
        assert_eq!(listed.len(), 1);
        assert!(store.list_parameters(&c.account, "/y/", None, 10).unwrap().is_empty());
        s.delete_parameter(&c, "/x/p").unwrap();
        assert!(store.parameter(&c.account, "/x/p").unwrap().is_none());
        // The tag and version rows went with it.
        let conn = store.conn();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM ssm_parameter_versions", [], |r| r.get(0)).unwrap();
        let t: i64 = conn.query_row("SELECT COUNT(*) FROM ssm_parameter_tags", [], |r| r.get(0)).unwrap();
        assert_eq!((n, t), (0, 0));
    }

    #[test]
    fn secure_string_plaintext_never_reaches_the_file() {
        let dir = std::env::temp_dir().join(format!("trent-ssm-{}", trent_core::ids::KeyId::random()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trent.db");
        let secret = "correct-horse-battery-staple-7731";
        {
            let store = Arc::new(SqliteStore::open(&path).unwrap());
            let s = ssm(store.clone());
            s.put_parameter(&caller(), put("/db/pw", secret, ParameterType::SecureString)).unwrap();
            let got = s.get_parameter(&caller(), "/db/pw", true).unwrap();
            assert!(
                matches!(got.value, trent_core::ssm::ParameterValue::Secret(ref p) if p.expose_secret() == secret.as_bytes())
            );
            store.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        }
        let mut bytes = std::fs::read(&path).unwrap();
        if let Ok(wal) = std::fs::read(dir.join("trent.db-wal")) {
            bytes.extend(wal);
        }
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        assert!(bytes.windows(6).any(|w| w == b"/db/pw"), "the parameter row is in the file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
