#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use trent_core::KmsError;
use trent_core::ids::{AccountId, AliasName, KeyId, Region};
use trent_core::model::{AliasRecord, KeyRecord, KeySpec, KeyState, KeyUsage, KeyVersionRecord, Origin, Timestamp};
use trent_core::store::Store;

use super::SqliteStore;

fn account() -> AccountId {
    AccountId::parse("111122223333").unwrap()
}

fn key(id: KeyId) -> (KeyRecord, KeyVersionRecord) {
    let mut tags = BTreeMap::new();
    tags.insert("team".to_string(), "blue".to_string());
    (
        KeyRecord {
            key_id: id,
            account: account(),
            region: Region::parse("us-east-1").unwrap(),
            description: "d".into(),
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            state: KeyState::Enabled,
            created: Timestamp(1000),
            deletion_date: None,
            pending_window_days: None,
            policy: "{}".into(),
            tags,
            current_version: 1,
            rotation: None,
            materials: Vec::new(),
            key_manager: trent_core::model::KeyManager::Customer,
        },
        KeyVersionRecord {
            key_id: id,
            version: 1,
            wrapped: vec![1, 2, 3],
            material_id: "ab".repeat(32),
            created: Timestamp(1000),
            rotation: None,
        },
    )
}

#[test]
fn key_round_trip_update_and_rollback() {
    let s = SqliteStore::open_in_memory().unwrap();
    let id = KeyId::random();
    let (k, v) = key(id);
    s.create_key(&k, Some(&v)).unwrap();
    assert_eq!(s.key(&id).unwrap().unwrap(), k);
    assert_eq!(s.key_versions(&id).unwrap(), vec![v]);

    let updated = s
        .update_key(&id, &mut |r| {
            r.state = KeyState::Disabled;
            r.tags.insert("env".into(), "prod".into());
            Ok(())
        })
        .unwrap()
        .unwrap();
    assert_eq!(updated.state, KeyState::Disabled);
    assert_eq!(s.key(&id).unwrap().unwrap().tags.len(), 2);

    // A refused update changes nothing.
    let err = s.update_key(&id, &mut |r| {
        r.state = KeyState::Enabled;
        Err(KmsError::InvalidState("no".into()))
    });
    assert!(matches!(err, Err(KmsError::InvalidState(_))));
    assert_eq!(s.key(&id).unwrap().unwrap().state, KeyState::Disabled);
    assert!(s.update_key(&KeyId::random(), &mut |_| Ok(())).unwrap().is_none());
}

#[test]
fn list_keys_pages_in_id_order() {
    let s = SqliteStore::open_in_memory().unwrap();
    let mut ids: Vec<KeyId> = (0..5).map(|_| KeyId::random()).collect();
    for id in &ids {
        let (k, v) = key(*id);
        s.create_key(&k, Some(&v)).unwrap();
    }
    ids.sort();
    let first = s.list_keys(&account(), None, 3).unwrap();
    assert_eq!(first, ids[..3]);
    let rest = s.list_keys(&account(), Some(&first[2]), 3).unwrap();
    assert_eq!(rest, ids[3..]);
    assert!(s.list_keys(&AccountId::parse("999999999999").unwrap(), None, 3).unwrap().is_empty());
}

#[test]
fn aliases_and_destroy() {
    let s = SqliteStore::open_in_memory().unwrap();
    let id = KeyId::random();
    let (k, v) = key(id);
    s.create_key(&k, Some(&v)).unwrap();
    let name = AliasName::parse("alias/a").unwrap();
    let rec = AliasRecord {
        account: account(),
        name: name.clone(),
        target: id,
        created: Timestamp(1),
        updated: Timestamp(1),
    };
    s.create_alias(&rec).unwrap();
    assert!(matches!(s.create_alias(&rec), Err(KmsError::AlreadyExists(_))));
    assert_eq!(s.alias(&account(), &name).unwrap().unwrap(), rec);
    assert_eq!(s.count_aliases(&id).unwrap(), 1);
    assert_eq!(s.list_aliases(&account(), Some(&id), None, 10).unwrap().len(), 1);

    s.update_key(&id, &mut |r| {
        r.state = KeyState::PendingDeletion;
        r.deletion_date = Some(Timestamp(5000));
        Ok(())
    })
    .unwrap();
    assert!(s.keys_due_for_deletion(4999).unwrap().is_empty());
    assert_eq!(s.keys_due_for_deletion(5000).unwrap(), vec![id]);
    s.destroy_key(&id).unwrap();
    assert!(s.key(&id).unwrap().is_none());
    assert!(s.key_versions(&id).unwrap().is_empty());
    assert!(s.alias(&account(), &name).unwrap().is_none());
}

#[test]
fn reopening_a_file_keeps_everything() {
    let dir = std::env::temp_dir().join(format!("trent-store-{}", KeyId::random()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trent.db");
    let id = KeyId::random();
    {
        let s = SqliteStore::open(&path).unwrap();
        let (k, v) = key(id);
        s.create_key(&k, Some(&v)).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert!(s.key(&id).unwrap().is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A data directory written by 0.1.0 must open (migrations apply on top) and its ciphertext decrypt.
#[test]
fn golden_data_dir_still_decrypts() {
    use std::sync::Arc;

    use base64::Engine as _;
    use trent_core::clock::SystemClock;
    use trent_core::context::EncryptionContext;
    use trent_core::ids::KeyRef;
    use trent_core::root_key::{FileRootKey, RootKeyProvider};
    use trent_core::service::{Caller, DecryptRequest, Kms, PageRequest};

    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/datadir-v0.1.0");
    let dir = std::env::temp_dir().join(format!("trent-golden-{}", KeyId::random()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture.join("trent.db"), dir.join("trent.db")).unwrap();
    std::fs::copy(fixture.join("root.key"), dir.join("root.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("root.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let root = Arc::new(FileRootKey::new(dir.join("root.key")).load().unwrap());
    let store = Arc::new(SqliteStore::open(&dir.join("trent.db")).unwrap());
    let kms = Kms::new(store, root, Arc::new(SystemClock), Region::parse("us-east-1").unwrap());
    let caller = Caller::new(account(), "arn:aws:iam::111122223333:root");

    let b64 = std::fs::read_to_string(fixture.join("ciphertext.b64")).unwrap();
    let ciphertext = base64::engine::general_purpose::STANDARD.decode(b64.trim()).unwrap();
    let mut ctx = BTreeMap::new();
    ctx.insert("fixture".to_string(), "golden".to_string());
    let out = kms
        .decrypt(
            &caller,
            DecryptRequest {
                ciphertext,
                context: EncryptionContext::try_new(ctx).unwrap(),
                key: None,
                algorithm: None,
            },
        )
        .unwrap();
    assert_eq!(out.plaintext.expose_secret(), std::fs::read(fixture.join("plaintext.txt")).unwrap().as_slice());

    let key = kms.describe_key(&caller, &KeyRef::parse("alias/golden").unwrap()).unwrap();
    assert_eq!(key.record.description, "golden");
    let id = key.record.key_id.to_string();
    let tags = kms.list_resource_tags(&caller, &KeyRef::parse(&id).unwrap(), &PageRequest::default()).unwrap();
    assert_eq!(tags.items, vec![("fixture".to_string(), "v0.1.0".to_string())]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn create_keys_is_one_all_or_nothing_transaction() {
    let s = SqliteStore::open_in_memory().unwrap();
    let batch: Vec<_> = (0..3).map(|_| key(KeyId::random())).collect();
    s.create_keys(&batch).unwrap();
    for (k, v) in &batch {
        assert_eq!(s.key(&k.key_id).unwrap().as_ref(), Some(k));
        assert_eq!(s.key_versions(&k.key_id).unwrap(), vec![v.clone()]);
    }
    // A batch that repeats an existing id fails as a whole: its new key must not be there either.
    let fresh = key(KeyId::random());
    let err = s.create_keys(&[fresh.clone(), batch[0].clone()]);
    assert!(err.is_err());
    assert!(s.key(&fresh.0.key_id).unwrap().is_none());
    assert_eq!(s.list_keys(&account(), None, 100).unwrap().len(), 3);
}

#[test]
fn versions_rotation_and_import_columns_round_trip() {
    use trent_core::model::{
        ExpirationModel, ImportParamsRecord, ImportedMaterial, KeyMaterialState, RotationSchedule, RotationType,
        WrappingAlgorithm,
    };

    let s = SqliteStore::open_in_memory().unwrap();
    let id = KeyId::random();
    let (mut k, v) = key(id);
    k.origin = Origin::External;
    s.create_key(&k, Some(&v)).unwrap();
    let material = |version, state, valid_to: Option<i64>| ImportedMaterial {
        version,
        material_id: format!("{version}").repeat(64),
        description: Some("first one".into()),
        state,
        imported: true,
        expiration: ExpirationModel::KeyMaterialExpires,
        valid_to: valid_to.map(Timestamp),
        rotated: (version == 2).then_some(Timestamp(7000)),
    };
    let v2 = KeyVersionRecord { version: 2, rotation: Some(RotationType::OnDemand), ..v.clone() };
    let updated = s
        .add_key_version(&id, &v2, &mut |r| {
            r.current_version = 2;
            r.rotation = Some(RotationSchedule { period_days: 90, next: Timestamp(9000) });
            r.materials = vec![
                material(1, KeyMaterialState::NonCurrent, Some(8000)),
                material(2, KeyMaterialState::Current, Some(8500)),
            ];
            Ok(())
        })
        .unwrap()
        .unwrap();
    assert_eq!(s.key(&id).unwrap().unwrap(), updated);
    assert_eq!(s.key_versions(&id).unwrap(), vec![v.clone(), v2]);
    assert!(s.keys_due_for_rotation(8999).unwrap().is_empty());
    assert_eq!(s.keys_due_for_rotation(9000).unwrap(), vec![id]);
    assert_eq!(s.keys_with_expiring_material(8000).unwrap(), vec![id]);

    let p = ImportParamsRecord {
        key_id: id,
        token: vec![1, 2],
        wrapping_algorithm: WrappingAlgorithm::RsaesOaepSha256,
        wrapped_private_key: vec![3],
        valid_to: Timestamp(5),
    };
    s.put_import_params(&p).unwrap();
    s.put_import_params(&ImportParamsRecord { token: vec![9], ..p.clone() }).unwrap();
    assert_eq!(s.import_params(&id).unwrap().unwrap().token, vec![9]);

    // Erasing one version keeps the other, and the erased material's record.
    let erased = s
        .delete_key_version(&id, 1, &mut |r| {
            r.materials[0].imported = false;
            r.materials[0].valid_to = None;
            Ok(())
        })
        .unwrap()
        .unwrap();
    assert_eq!(s.key(&id).unwrap().unwrap(), erased);
    assert_eq!(erased.materials.len(), 2);
    assert_eq!(s.key_versions(&id).unwrap().iter().map(|v| v.version).collect::<Vec<_>>(), vec![2]);
    assert!(s.keys_with_expiring_material(8000).unwrap().is_empty());
    assert_eq!(s.keys_with_expiring_material(8500).unwrap(), vec![id]);
    s.destroy_key(&id).unwrap();
    assert!(s.import_params(&id).unwrap().is_none());
}

/// The scheduler's destroy re-checks, in its own transaction, that the key is still pending deletion and due.
#[test]
fn destroy_key_if_due_is_conditional() {
    let s = SqliteStore::open_in_memory().unwrap();
    let id = KeyId::random();
    let (k, v) = key(id);
    s.create_key(&k, Some(&v)).unwrap();
    assert!(!s.destroy_key_if_due(&id, i64::MAX).unwrap(), "not pending deletion");
    let schedule = |r: &mut KeyRecord| {
        r.state = KeyState::PendingDeletion;
        r.deletion_date = Some(Timestamp(5000));
        Ok(())
    };
    s.update_key(&id, &mut { schedule }).unwrap();
    assert!(!s.destroy_key_if_due(&id, 4999).unwrap(), "window not over");
    // CancelKeyDeletion commits after the scheduler listed the key.
    assert_eq!(s.keys_due_for_deletion(5000).unwrap(), vec![id]);
    s.update_key(&id, &mut |r| {
        r.state = KeyState::Disabled;
        r.deletion_date = None;
        Ok(())
    })
    .unwrap();
    assert!(!s.destroy_key_if_due(&id, 5000).unwrap());
    assert_eq!(s.key(&id).unwrap().unwrap().state, KeyState::Disabled);
    assert_eq!(s.key_versions(&id).unwrap().len(), 1, "material kept");
    s.update_key(&id, &mut { schedule }).unwrap();
    assert!(s.destroy_key_if_due(&id, 5000).unwrap());
    assert!(s.key(&id).unwrap().is_none());
    assert!(s.key_versions(&id).unwrap().is_empty());
    assert!(!s.destroy_key_if_due(&id, 5000).unwrap(), "already gone");
}

/// The race of issue 14 item 15 through the service on SQLite: CancelKeyDeletion commits between the
/// scheduler's list and its destroy; the key lives and later scheduler runs leave it alone.
#[test]
fn cancel_between_list_and_destroy_keeps_the_key_on_sqlite() {
    use std::sync::Arc;

    use trent_core::clock::{Clock, ManualClock};
    use trent_core::ids::KeyRef;
    use trent_core::service::{Caller, CreateKeyRequest, Kms};
    use trent_crypto::{RootKey, SecretBytes};

    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let root = Arc::new(RootKey::from_secret(&SecretBytes::new(vec![3; 32])).unwrap());
    let kms = Kms::new(store.clone(), root, clock.clone(), Region::parse("us-east-1").unwrap());
    let caller = Caller::root(account());
    let key = kms.create_key(&caller, CreateKeyRequest::default()).unwrap();
    let r = KeyRef::parse(&key.arn).unwrap();
    kms.schedule_key_deletion(&caller, &r, Some(7)).unwrap();
    clock.advance_ms(7 * Timestamp::DAY_MS);
    let now = clock.now();
    let listed = store.keys_due_for_deletion(now.0).unwrap();
    assert_eq!(listed, vec![key.record.key_id]);
    kms.cancel_key_deletion(&caller, &r).unwrap();
    assert!(!store.destroy_key_if_due(&listed[0], now.0).unwrap());
    assert_eq!(kms.run_due_jobs().unwrap().deleted, 0);
    assert_eq!(kms.describe_key(&caller, &r).unwrap().record.state, KeyState::Disabled);
}

/// A data directory from before imported-material rotation (schema 6): its imported key, one material
/// described on the keys row, becomes one CURRENT material; an erased one stays listed as not imported.
#[test]
fn migration_7_moves_imported_material_into_key_materials() {
    use trent_core::model::{ExpirationModel, KeyMaterialState};

    let dir = std::env::temp_dir().join(format!("trent-mig7-{}", KeyId::random()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trent.db");
    let (live, erased) = (KeyId::random(), KeyId::random());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)")
            .unwrap();
        for (version, sql) in super::migrations::MIGRATIONS.iter().filter(|m| m.0 <= 6) {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", rusqlite::params![version]).unwrap();
        }
        for (id, valid_to) in [(live, Some(9_000i64)), (erased, None)] {
            conn.execute(
                "INSERT INTO keys (key_id, account, region, description, key_spec, key_usage, origin, state,
                     created_ms, policy, current_version, import_fingerprint, expiration_model, valid_to_ms)
                 VALUES (?1, '111122223333', 'us-east-1', '', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'EXTERNAL',
                     'Enabled', 1, '{}', 1, ?2, ?3, ?4)",
                rusqlite::params![
                    id.to_string(),
                    "c".repeat(64),
                    if valid_to.is_some() { "KEY_MATERIAL_EXPIRES" } else { "KEY_MATERIAL_DOES_NOT_EXPIRE" },
                    valid_to
                ],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO key_versions (key_id, version, wrapped, material_id, created_ms) VALUES (?1, 1, x'00', ?2, 1)",
            rusqlite::params![live.to_string(), "c".repeat(64)],
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let k = s.key(&live).unwrap().unwrap();
    assert_eq!(k.materials.len(), 1);
    let m = &k.materials[0];
    assert_eq!((m.version, m.material_id.as_str(), m.state), (1, "c".repeat(64).as_str(), KeyMaterialState::Current));
    assert!(m.imported);
    assert_eq!((m.expiration, m.valid_to), (ExpirationModel::KeyMaterialExpires, Some(Timestamp(9_000))));
    assert_eq!(s.keys_with_expiring_material(9_000).unwrap(), vec![live]);
    let e = s.key(&erased).unwrap().unwrap();
    assert!(!e.materials[0].imported);
    assert_eq!(e.materials[0].expiration, ExpirationModel::KeyMaterialDoesNotExpire);
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}
