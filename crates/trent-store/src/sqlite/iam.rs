//! IAM users and roles (migration 4). A user or role is read whole (record, inline policies, tags, a user's
//! access keys) and written back whole inside one transaction, like SSM parameters: they are small and change
//! rarely, and every rule stays in `trent_core::iam::service`. Names compare case-insensitively (`COLLATE
//! NOCASE`), as IAM's do. Access-key secrets are stored only wrapped under the root key.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use trent_core::iam::store::{RoleUpdate, UserUpdate};
use trent_core::iam::{IamError, IamStore, RoleRecord, Tags, UserRecord};
use trent_core::ids::AccountId;
use trent_core::model::{AccessKeyRecord, Timestamp};

use super::SqliteStore;

const USER: &str = "user";
const ROLE: &str = "role";

fn db(e: rusqlite::Error) -> IamError {
    IamError::internal(format!("sqlite: {e}"))
}

fn account_of(s: &str) -> Result<AccountId, IamError> {
    AccountId::parse(s).ok_or_else(|| IamError::internal(format!("stored account {s:?} is not valid")))
}

fn policies(
    conn: &Connection,
    account: &AccountId,
    kind: &str,
    owner: &str,
) -> Result<BTreeMap<String, String>, IamError> {
    let mut stmt = conn
        .prepare_cached("SELECT name, document FROM iam_policies WHERE account = ?1 AND kind = ?2 AND owner = ?3")
        .map_err(db)?;
    let rows = stmt
        .query_map(params![account.as_str(), kind, owner], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

fn tags(conn: &Connection, account: &AccountId, kind: &str, owner: &str) -> Result<Tags, IamError> {
    let mut stmt = conn
        .prepare_cached("SELECT tag_key, tag_value FROM iam_tags WHERE account = ?1 AND kind = ?2 AND owner = ?3")
        .map_err(db)?;
    let rows = stmt
        .query_map(params![account.as_str(), kind, owner], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

const KEY_COLUMNS: &str = "access_key_id, account, principal_arn, wrapped_secret, active, created_ms";

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, Vec<u8>, bool, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

fn to_key(row: (String, String, String, Vec<u8>, bool, i64)) -> Result<AccessKeyRecord, IamError> {
    let (access_key_id, account, principal_arn, wrapped_secret, active, created) = row;
    Ok(AccessKeyRecord {
        access_key_id,
        account: account_of(&account)?,
        principal_arn,
        wrapped_secret,
        active,
        created: Timestamp(created),
    })
}

fn read_user(conn: &Connection, account: &AccountId, name: &str) -> Result<Option<UserRecord>, IamError> {
    let row = conn
        .query_row(
            "SELECT name, path, id, arn, created_ms FROM iam_users WHERE account = ?1 AND name = ?2",
            params![account.as_str(), name],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            },
        )
        .optional()
        .map_err(db)?;
    let Some((name, path, id, arn, created)) = row else { return Ok(None) };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM iam_access_keys WHERE account = ?1 AND user_name = ?2 ORDER BY created_ms, access_key_id"
        ))
        .map_err(db)?;
    let access_keys = stmt
        .query_map(params![account.as_str(), name], key_from_row)
        .map_err(db)?
        .map(|r| r.map_err(db).and_then(to_key))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(UserRecord {
        account: account.clone(),
        policies: policies(conn, account, USER, &name)?,
        tags: tags(conn, account, USER, &name)?,
        name,
        path,
        id,
        arn,
        created: Timestamp(created),
        access_keys,
    }))
}

/// The names `query` (name and path of an account's users or roles, ordered by name) returns whose path
/// starts with `path_prefix`.
fn names_under(
    conn: &Connection,
    query: &str,
    account: &AccountId,
    path_prefix: &str,
) -> Result<Vec<String>, IamError> {
    let mut stmt = conn.prepare_cached(query).map_err(db)?;
    let rows = stmt
        .query_map(params![account.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(db)?;
    let all: Vec<(String, String)> = rows.collect::<Result<_, _>>().map_err(db)?;
    // Prefix matching in Rust: LIKE would treat `_` and `%` in paths as wildcards.
    Ok(all.into_iter().filter(|(_, p)| p.starts_with(path_prefix)).map(|(n, _)| n).collect())
}

fn read_role(conn: &Connection, account: &AccountId, name: &str) -> Result<Option<RoleRecord>, IamError> {
    let row = conn
        .query_row(
            "SELECT name, path, id, arn, created_ms, description, max_session_secs, trust_policy
             FROM iam_roles WHERE account = ?1 AND name = ?2",
            params![account.as_str(), name],
            |r| {
                Ok((
                    (r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?),
                    (r.get::<_, i64>(4)?, r.get::<_, Option<String>>(5)?, r.get::<_, u32>(6)?, r.get::<_, String>(7)?),
                ))
            },
        )
        .optional()
        .map_err(db)?;
    let Some(((name, path, id, arn), (created, description, max_session_secs, trust_policy))) = row else {
        return Ok(None);
    };
    Ok(Some(RoleRecord {
        account: account.clone(),
        policies: policies(conn, account, ROLE, &name)?,
        tags: tags(conn, account, ROLE, &name)?,
        name,
        path,
        id,
        arn,
        created: Timestamp(created),
        description,
        max_session_secs,
        trust_policy,
    }))
}

/// Removes an owner's policies and tags (and, for users, access keys); the caller deletes or rewrites the rest.
fn clear_children(conn: &Connection, account: &AccountId, kind: &str, name: &str) -> Result<(), IamError> {
    conn.execute(
        "DELETE FROM iam_policies WHERE account = ?1 AND kind = ?2 AND owner = ?3",
        params![account.as_str(), kind, name],
    )
    .map_err(db)?;
    conn.execute(
        "DELETE FROM iam_tags WHERE account = ?1 AND kind = ?2 AND owner = ?3",
        params![account.as_str(), kind, name],
    )
    .map_err(db)?;
    if kind == USER {
        conn.execute(
            "DELETE FROM iam_access_keys WHERE account = ?1 AND user_name = ?2",
            params![account.as_str(), name],
        )
        .map_err(db)?;
    }
    Ok(())
}

fn write_children(
    conn: &Connection,
    account: &AccountId,
    kind: &str,
    name: &str,
    policies: &BTreeMap<String, String>,
    tags: &Tags,
) -> Result<(), IamError> {
    for (p, doc) in policies {
        conn.execute(
            "INSERT INTO iam_policies (account, kind, owner, name, document) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![account.as_str(), kind, name, p, doc],
        )
        .map_err(db)?;
    }
    for (k, v) in tags {
        conn.execute(
            "INSERT INTO iam_tags (account, kind, owner, tag_key, tag_value) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![account.as_str(), kind, name, k, v],
        )
        .map_err(db)?;
    }
    Ok(())
}

fn write_user(conn: &Connection, lookup: &str, u: &UserRecord) -> Result<(), IamError> {
    let a = &u.account;
    clear_children(conn, a, USER, lookup)?;
    conn.execute("DELETE FROM iam_users WHERE account = ?1 AND name = ?2", params![a.as_str(), lookup]).map_err(db)?;
    conn.execute(
        "INSERT INTO iam_users (account, name, path, id, arn, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![a.as_str(), u.name, u.path, u.id, u.arn, u.created.0],
    )
    .map_err(db)?;
    write_children(conn, a, USER, &u.name, &u.policies, &u.tags)?;
    for k in &u.access_keys {
        conn.execute(
            "INSERT INTO iam_access_keys (access_key_id, account, user_name, principal_arn, wrapped_secret, active, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![k.access_key_id, a.as_str(), u.name, k.principal_arn, k.wrapped_secret, k.active, k.created.0],
        )
        .map_err(db)?;
    }
    Ok(())
}

fn write_role(conn: &Connection, lookup: &str, r: &RoleRecord) -> Result<(), IamError> {
    let a = &r.account;
    clear_children(conn, a, ROLE, lookup)?;
    conn.execute("DELETE FROM iam_roles WHERE account = ?1 AND name = ?2", params![a.as_str(), lookup]).map_err(db)?;
    conn.execute(
        "INSERT INTO iam_roles (account, name, path, id, arn, created_ms, description, max_session_secs, trust_policy)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            a.as_str(),
            r.name,
            r.path,
            r.id,
            r.arn,
            r.created.0,
            r.description,
            r.max_session_secs,
            r.trust_policy
        ],
    )
    .map_err(db)?;
    write_children(conn, a, ROLE, &r.name, &r.policies, &r.tags)
}

impl IamStore for SqliteStore {
    fn user(&self, account: &AccountId, name: &str) -> Result<Option<UserRecord>, IamError> {
        read_user(&self.conn(), account, name)
    }

    fn update_user(
        &self,
        account: &AccountId,
        name: &str,
        update: UserUpdate<'_>,
    ) -> Result<Option<UserRecord>, IamError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let mut current = read_user(&tx, account, name)?;
        update(&mut current)?; // an Err drops `tx`, which rolls back
        match &current {
            Some(u) => write_user(&tx, name, u)?,
            None => {
                clear_children(&tx, account, USER, name)?;
                tx.execute("DELETE FROM iam_users WHERE account = ?1 AND name = ?2", params![account.as_str(), name])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(current)
    }

    fn list_users(&self, account: &AccountId, path_prefix: &str) -> Result<Vec<UserRecord>, IamError> {
        let conn = self.conn();
        let names = names_under(
            &conn,
            "SELECT name, path FROM iam_users WHERE account = ?1 ORDER BY name",
            account,
            path_prefix,
        )?;
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            out.extend(read_user(&conn, account, &n)?);
        }
        Ok(out)
    }

    fn user_access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>, IamError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("SELECT {KEY_COLUMNS} FROM iam_access_keys WHERE access_key_id = ?1"),
                params![access_key_id],
                key_from_row,
            )
            .optional()
            .map_err(db)?;
        row.map(to_key).transpose()
    }

    fn list_roles(&self, account: &AccountId, path_prefix: &str) -> Result<Vec<RoleRecord>, IamError> {
        let conn = self.conn();
        let names = names_under(
            &conn,
            "SELECT name, path FROM iam_roles WHERE account = ?1 ORDER BY name",
            account,
            path_prefix,
        )?;
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            out.extend(read_role(&conn, account, &n)?);
        }
        Ok(out)
    }

    fn role(&self, account: &AccountId, name: &str) -> Result<Option<RoleRecord>, IamError> {
        read_role(&self.conn(), account, name)
    }

    fn update_role(
        &self,
        account: &AccountId,
        name: &str,
        update: RoleUpdate<'_>,
    ) -> Result<Option<RoleRecord>, IamError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let mut current = read_role(&tx, account, name)?;
        update(&mut current)?;
        match &current {
            Some(r) => write_role(&tx, name, r)?,
            None => {
                clear_children(&tx, account, ROLE, name)?;
                tx.execute("DELETE FROM iam_roles WHERE account = ?1 AND name = ?2", params![account.as_str(), name])
                    .map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(current)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use trent_core::clock::SystemClock;
    use trent_core::iam::Iam;
    use trent_core::identity::{Identities, root_arn};
    use trent_core::service::Caller;
    use trent_crypto::{RootKey, SecretBytes};

    use super::*;

    #[test]
    fn users_roles_and_keys_round_trip_through_sqlite() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let root = Arc::new(RootKey::from_secret(&SecretBytes::new(vec![9; 32])).unwrap());
        let ids = Arc::new(Identities::new(store.clone(), root, Arc::new(SystemClock)).with_iam_store(store.clone()));
        let iam = Iam::new(ids.clone());
        let account = AccountId::parse("111122223333").unwrap();
        let admin = Caller::new(account.clone(), root_arn(&account));

        iam.create_user(&admin, "Alice", Some("/eng/"), vec![("team".into(), "x".into())]).unwrap();
        assert!(matches!(iam.create_user(&admin, "alice", None, vec![]), Err(IamError::EntityAlreadyExists(_))));
        let (_, key, secret) = iam.create_access_key(&admin, Some("alice")).unwrap();
        iam.put_user_policy(
            &admin,
            "Alice",
            "p",
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
        )
        .unwrap();
        let u = store.user(&account, "ALICE").unwrap().unwrap();
        assert_eq!((u.name.as_str(), u.path.as_str()), ("Alice", "/eng/"));
        assert_eq!(u.tags.get("team").map(String::as_str), Some("x"));
        assert_eq!(u.policies.len(), 1);
        assert_eq!(u.access_keys.len(), 1);
        let active = ids.access_key(&key.access_key_id).unwrap().unwrap();
        assert_eq!(active.secret.expose_secret(), secret.expose_secret());
        assert_eq!(iam.list_users(&admin, Some("/eng/")).unwrap().len(), 1);
        assert!(iam.list_users(&admin, Some("/ops/")).unwrap().is_empty());

        iam.update_access_key(&admin, Some("alice"), &key.access_key_id, false).unwrap();
        assert!(!store.user_access_key(&key.access_key_id).unwrap().unwrap().active);
        iam.delete_access_key(&admin, Some("alice"), &key.access_key_id).unwrap();
        iam.delete_user_policy(&admin, "alice", "p").unwrap();
        iam.delete_user(&admin, "alice").unwrap();
        assert!(store.user(&account, "alice").unwrap().is_none());
        assert!(store.user_access_key(&key.access_key_id).unwrap().is_none());

        let trust = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#;
        iam.create_role(&admin, "App", None, trust, Some("d"), Some(7200), vec![]).unwrap();
        iam.put_role_policy(&admin, "App", "p", r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#)
            .unwrap();
        let r = store.role(&account, "app").unwrap().unwrap();
        assert_eq!((r.max_session_secs, r.description.as_deref(), r.policies.len()), (7200, Some("d"), 1));
        assert_eq!(r.trust_policy, trust);
        iam.delete_role_policy(&admin, "App", "p").unwrap();
        iam.delete_role(&admin, "App").unwrap();
        assert!(store.role(&account, "App").unwrap().is_none());
    }

    /// A database of the previous schema (5) with a user and a role upgrades: their (20-character) ids are
    /// kept, and a session of the role, bound to that id, works.
    #[test]
    fn upgrade_keeps_existing_ids_and_sessions_bind_to_them() {
        let dir = std::env::temp_dir().join(format!("trent-iam-upgrade-{}", trent_core::ids::KeyId::random()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trent.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
            )
            .unwrap();
            for (version, sql) in super::super::migrations::MIGRATIONS.iter().filter(|m| m.0 <= 5) {
                conn.execute_batch(sql).unwrap();
                conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", params![version]).unwrap();
            }
            conn.execute(
                "INSERT INTO iam_users (account, name, path, id, arn, created_ms) VALUES ('111122223333', 'old', '/', \
                 'AIDAOLDOLDOLDOLDOLDO', 'arn:aws:iam::111122223333:user/old', 0)",
                [],
            )
            .unwrap();
            let trust =
                r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#;
            conn.execute(
                "INSERT INTO iam_roles (account, name, path, id, arn, created_ms, max_session_secs, trust_policy) \
                 VALUES ('111122223333', 'app', '/', 'AROAOLDOLDOLDOLDOLDO', 'arn:aws:iam::111122223333:role/app', 0, \
                 3600, ?1)",
                params![trust],
            )
            .unwrap();
        }
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let account = AccountId::parse("111122223333").unwrap();
        assert_eq!(store.user(&account, "old").unwrap().unwrap().id, "AIDAOLDOLDOLDOLDOLDO");
        let root = Arc::new(RootKey::from_secret(&SecretBytes::new(vec![9; 32])).unwrap());
        let ids = Arc::new(Identities::new(store.clone(), root, Arc::new(SystemClock)).with_iam_store(store.clone()));
        let iam = Iam::new(ids.clone());
        let admin = Caller::new(account.clone(), root_arn(&account));
        let s = iam.assume_role(&admin, "arn:aws:iam::111122223333:role/app", "s1", None).unwrap();
        assert_eq!(s.assumed_role_id, "AROAOLDOLDOLDOLDOLDO:s1");
        assert!(ids.session(&s.credentials.access_key_id, &s.credentials.session_token).is_ok());
        drop((ids, iam, store));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Unique ids are stored, read back as created, and never shared by two roles or two users.
    #[test]
    fn unique_ids_persist_and_cannot_repeat() {
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let root = Arc::new(RootKey::from_secret(&SecretBytes::new(vec![9; 32])).unwrap());
        let ids = Arc::new(Identities::new(store.clone(), root, Arc::new(SystemClock)).with_iam_store(store.clone()));
        let iam = Iam::new(ids);
        let account = AccountId::parse("111122223333").unwrap();
        let admin = Caller::new(account.clone(), root_arn(&account));
        let trust = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#;
        let role = iam.create_role(&admin, "App", None, trust, None, None, vec![]).unwrap();
        assert_eq!(store.role(&account, "app").unwrap().unwrap().id, role.id);
        let user = iam.create_user(&admin, "bob", None, vec![]).unwrap();
        assert_eq!(store.user(&account, "bob").unwrap().unwrap().id, user.id);

        let mut copy = role.clone();
        copy.name = "Other".into();
        let dup = store.update_role(&account, "Other", &mut |r| {
            *r = Some(copy.clone());
            Ok(())
        });
        assert!(dup.is_err(), "a second role with the same unique id was stored");
        assert!(store.role(&account, "Other").unwrap().is_none());
    }
}
