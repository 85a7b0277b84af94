use std::collections::BTreeMap;
use std::sync::Arc;

use trent_crypto::{RootKey, SecretBytes};

use super::*;
use crate::clock::ManualClock;
use crate::context::EncryptionContext;
use crate::model::{DataKeySpec, KeyState, Timestamp};
use crate::store::MemoryStore;

pub(super) struct Fixture {
    pub(super) kms: Kms,
    pub(super) clock: Arc<ManualClock>,
    pub(super) caller: Caller,
}

pub(super) fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let root = RootKey::from_secret(&SecretBytes::new(vec![9; 32])).unwrap();
    let kms =
        Kms::new(Arc::new(MemoryStore::new()), Arc::new(root), clock.clone(), Region::parse("us-east-1").unwrap());
    let account = AccountId::parse("111122223333").unwrap();
    Fixture { kms, clock, caller: Caller::root(account) }
}

pub(super) fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    EncryptionContext::try_new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>())
        .unwrap()
}

pub(super) fn key_ref(s: &str) -> KeyRef {
    KeyRef::parse(s).unwrap()
}

impl Fixture {
    pub(super) fn create(&self) -> KeyMetadata {
        self.kms.create_key(&self.caller, CreateKeyRequest::default()).unwrap()
    }

    pub(super) fn encrypt(&self, key: &str, pt: &[u8], c: EncryptionContext) -> Result<EncryptResponse, KmsError> {
        self.kms.encrypt(
            &self.caller,
            EncryptRequest { key: key_ref(key), plaintext: SecretBytes::new(pt.to_vec()), context: c, algorithm: None },
        )
    }

    pub(super) fn decrypt(
        &self,
        blob: &[u8],
        c: EncryptionContext,
        key: Option<&str>,
    ) -> Result<DecryptResponse, KmsError> {
        self.kms.decrypt(
            &self.caller,
            DecryptRequest { ciphertext: blob.to_vec(), context: c, key: key.map(key_ref), algorithm: None },
        )
    }
}

#[test]
fn create_and_describe_defaults() {
    let f = fixture();
    let m = f.create();
    assert_eq!(m.record.state, KeyState::Enabled);
    assert!(m.arn.starts_with("arn:aws:kms:us-east-1:111122223333:key/"));
    assert!(m.record.policy.contains("\"AWS\" : \"arn:aws:iam::111122223333:root\""));
    let d = f.kms.describe_key(&f.caller, &key_ref(&m.arn)).unwrap();
    assert_eq!(d.record.key_id, m.record.key_id);
    assert_eq!(d.current_material_id, m.current_material_id);
}

#[test]
fn encrypt_decrypt_with_context_and_aliases() {
    let f = fixture();
    let m = f.create();
    f.kms.create_alias(&f.caller, "alias/app", &m.record.key_id.to_string()).unwrap();
    let e = f.encrypt("alias/app", b"secret", ctx(&[("a", "1"), ("b", "2")])).unwrap();
    assert_eq!(e.key_arn, m.arn);
    let d = f.decrypt(&e.ciphertext, ctx(&[("b", "2"), ("a", "1")]), None).unwrap();
    assert_eq!(d.plaintext.expose_secret(), b"secret");
    assert_eq!(d.key_arn, m.arn);
    // KeyId given as alias ARN, matching.
    f.decrypt(&e.ciphertext, ctx(&[("a", "1"), ("b", "2")]), Some("arn:aws:kms:us-east-1:111122223333:alias/app"))
        .unwrap();
    for wrong in [ctx(&[]), ctx(&[("a", "1")]), ctx(&[("a", "1"), ("b", "X")])] {
        assert!(matches!(f.decrypt(&e.ciphertext, wrong, None), Err(KmsError::InvalidCiphertext)));
    }
    let mut tampered = e.ciphertext.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(matches!(f.decrypt(&tampered, ctx(&[("a", "1"), ("b", "2")]), None), Err(KmsError::InvalidCiphertext)));
    assert!(matches!(f.decrypt(b"garbage", ctx(&[]), None), Err(KmsError::InvalidCiphertext)));
}

#[test]
fn decrypt_with_other_key_id_is_incorrect_key() {
    let f = fixture();
    let a = f.create();
    let b = f.create();
    let e = f.encrypt(&a.record.key_id.to_string(), b"x", ctx(&[])).unwrap();
    let err = f.decrypt(&e.ciphertext, ctx(&[]), Some(&b.record.key_id.to_string())).unwrap_err();
    assert!(matches!(err, KmsError::IncorrectKey(_)));
}

#[test]
fn disabled_and_pending_deletion_states() {
    let f = fixture();
    let m = f.create();
    let id = m.record.key_id.to_string();
    let e = f.encrypt(&id, b"x", ctx(&[])).unwrap();
    f.kms.disable_key(&f.caller, &key_ref(&id)).unwrap();
    let err = f.encrypt(&id, b"x", ctx(&[])).unwrap_err();
    assert_eq!(err.to_string(), format!("{} is disabled.", m.arn));
    assert!(matches!(f.decrypt(&e.ciphertext, ctx(&[]), None), Err(KmsError::Disabled(_))));
    f.kms.enable_key(&f.caller, &key_ref(&id)).unwrap();

    let s = f.kms.schedule_key_deletion(&f.caller, &key_ref(&id), Some(7)).unwrap();
    assert_eq!(s.pending_window_days, 7);
    assert_eq!(s.deletion_date, f.clock.now().plus_days(7));
    assert!(matches!(f.encrypt(&id, b"x", ctx(&[])), Err(KmsError::InvalidState(_))));
    assert!(matches!(f.kms.enable_key(&f.caller, &key_ref(&id)), Err(KmsError::InvalidState(_))));
    assert!(matches!(f.kms.schedule_key_deletion(&f.caller, &key_ref(&id), None), Err(KmsError::InvalidState(_))));
    assert_eq!(f.kms.cancel_key_deletion(&f.caller, &key_ref(&id)).unwrap(), m.arn);
    assert_eq!(f.kms.describe_key(&f.caller, &key_ref(&id)).unwrap().record.state, KeyState::Disabled);
    assert!(matches!(f.kms.cancel_key_deletion(&f.caller, &key_ref(&id)), Err(KmsError::InvalidState(_))));
    for bad in [6, 31] {
        assert!(matches!(
            f.kms.schedule_key_deletion(&f.caller, &key_ref(&id), Some(bad)),
            Err(KmsError::Validation(_))
        ));
    }
}

#[test]
fn deletion_window_end_destroys_key_and_aliases() {
    let f = fixture();
    let m = f.create();
    let id = m.record.key_id.to_string();
    f.kms.create_alias(&f.caller, "alias/doomed", &id).unwrap();
    f.kms.schedule_key_deletion(&f.caller, &key_ref(&id), Some(7)).unwrap();
    f.clock.advance_ms(7 * Timestamp::DAY_MS - 1);
    assert_eq!(f.kms.purge_due_keys().unwrap(), 0);
    f.clock.advance_ms(1);
    assert_eq!(f.kms.purge_due_keys().unwrap(), 1);
    assert!(matches!(f.kms.describe_key(&f.caller, &key_ref(&id)), Err(KmsError::NotFound(_))));
    assert!(matches!(f.kms.describe_key(&f.caller, &key_ref("alias/doomed")), Err(KmsError::NotFound(_))));
    assert!(f.kms.store().key_versions(&m.record.key_id).unwrap().is_empty());
}

#[test]
fn data_keys_and_random() {
    let f = fixture();
    let m = f.create();
    let id = m.record.key_id.to_string();
    let r = f
        .kms
        .generate_data_key(
            &f.caller,
            GenerateDataKeyRequest {
                key: key_ref(&id),
                size: DataKeySize::Spec(DataKeySpec::Aes256),
                context: ctx(&[("k", "v")]),
            },
            true,
        )
        .unwrap();
    let pt = r.plaintext.unwrap();
    assert_eq!(pt.len(), 32);
    let d = f.decrypt(&r.ciphertext, ctx(&[("k", "v")]), None).unwrap();
    assert_eq!(d.plaintext.expose_secret(), pt.expose_secret());
    let w = f
        .kms
        .generate_data_key(
            &f.caller,
            GenerateDataKeyRequest { key: key_ref(&id), size: DataKeySize::Bytes(7), context: ctx(&[]) },
            false,
        )
        .unwrap();
    assert!(w.plaintext.is_none());
    assert_eq!(f.decrypt(&w.ciphertext, ctx(&[]), None).unwrap().plaintext.len(), 7);
    assert!(DataKeySize::from_fields(Some(DataKeySpec::Aes128), Some(16)).is_err());
    assert!(DataKeySize::from_fields(None, None).is_err());
    assert_eq!(f.kms.generate_random(&f.caller, 1024).unwrap().len(), 1024);
}

#[test]
fn re_encrypt_moves_between_keys_and_contexts() {
    let f = fixture();
    let a = f.create();
    let b = f.create();
    let e = f.encrypt(&a.arn, b"move me", ctx(&[("from", "a")])).unwrap();
    let r = f
        .kms
        .re_encrypt(
            &f.caller,
            ReEncryptRequest {
                ciphertext: e.ciphertext,
                source_context: ctx(&[("from", "a")]),
                source_key: None,
                source_algorithm: None,
                destination_key: key_ref(&b.arn),
                destination_context: ctx(&[("to", "b")]),
                destination_algorithm: None,
            },
        )
        .unwrap();
    assert_eq!(r.source_key_arn, a.arn);
    assert_eq!(r.key_arn, b.arn);
    assert_eq!(f.decrypt(&r.ciphertext, ctx(&[("to", "b")]), None).unwrap().plaintext.expose_secret(), b"move me");
}

#[test]
fn alias_rules_and_listing() {
    let f = fixture();
    let a = f.create();
    let id = a.record.key_id.to_string();
    assert!(matches!(f.kms.create_alias(&f.caller, "alias/aws/x", &id), Err(KmsError::NotAuthorized)));
    assert!(matches!(f.kms.create_alias(&f.caller, "nope", &id), Err(KmsError::Validation(_))));
    f.kms.create_alias(&f.caller, "alias/one", &id).unwrap();
    let dup = f.kms.create_alias(&f.caller, "alias/one", &id).unwrap_err();
    assert_eq!(dup.to_string(), "An alias with the name arn:aws:kms:us-east-1:111122223333:alias/one already exists");
    assert!(matches!(f.kms.create_alias(&f.caller, "alias/two", "alias/one"), Err(KmsError::Validation(_))));
    let b = f.create();
    f.kms.update_alias(&f.caller, "alias/one", &b.arn).unwrap();
    assert_eq!(f.kms.describe_key(&f.caller, &key_ref("alias/one")).unwrap().arn, b.arn);
    for i in 0..3 {
        f.kms.create_alias(&f.caller, &format!("alias/p{i}"), &id).unwrap();
    }
    let page = f
        .kms
        .list_aliases(&f.caller, &ListAliasesRequest { key: None, page: PageRequest { limit: Some(2), marker: None } })
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let rest = f
        .kms
        .list_aliases(
            &f.caller,
            &ListAliasesRequest { key: None, page: PageRequest { limit: Some(10), marker: page.next_marker } },
        )
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert!(rest.next_marker.is_none());
    f.kms.delete_alias(&f.caller, "alias/one").unwrap();
    assert!(matches!(f.kms.delete_alias(&f.caller, "alias/one"), Err(KmsError::NotFound(_))));
}

#[test]
fn tags_and_policies() {
    let f = fixture();
    let m = f.create();
    let id = m.record.key_id.to_string();
    let k = key_ref(&id);
    f.kms.tag_resource(&f.caller, &k, &[("b".into(), "2".into()), ("a".into(), "1".into())]).unwrap();
    f.kms.tag_resource(&f.caller, &k, &[("a".into(), "one".into())]).unwrap();
    let tags = f.kms.list_resource_tags(&f.caller, &k, &PageRequest::default()).unwrap();
    assert_eq!(tags.items, vec![("a".to_string(), "one".to_string()), ("b".to_string(), "2".to_string())]);
    assert!(matches!(f.kms.tag_resource(&f.caller, &k, &[("aws:x".into(), "1".into())]), Err(KmsError::Tag(_))));
    f.kms.untag_resource(&f.caller, &k, &["a".into()]).unwrap();
    assert_eq!(f.kms.list_resource_tags(&f.caller, &k, &PageRequest::default()).unwrap().items.len(), 1);
    // Management operations take key ids and ARNs, not aliases.
    f.kms.create_alias(&f.caller, "alias/t", &id).unwrap();
    assert!(matches!(f.kms.tag_resource(&f.caller, &key_ref("alias/t"), &[]), Err(KmsError::NotFound(_))));

    let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}"#;
    // A policy that would lock the caller out is refused unless the caller says it knows.
    let lockout = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*"}]}"#;
    let err = f.kms.put_key_policy(&f.caller, &k, None, lockout.into(), false).unwrap_err();
    assert_eq!(err.to_string(), "The new key policy will not allow you to update the key policy in the future.");
    let ghost = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/ghost"},"Action":"kms:*","Resource":"*"}]}"#;
    let err = f.kms.put_key_policy(&f.caller, &k, None, ghost.into(), true).unwrap_err();
    assert_eq!(err.to_string(), "Policy contains a statement with one or more invalid principals.");
    f.kms.put_key_policy(&f.caller, &k, None, p.into(), false).unwrap();
    assert_eq!(f.kms.get_key_policy(&f.caller, &k, Some("default")).unwrap(), p);
    assert!(matches!(f.kms.get_key_policy(&f.caller, &k, Some("other")), Err(KmsError::NotFound(_))));
    assert!(matches!(
        f.kms.put_key_policy(&f.caller, &k, None, "{not json".into(), false),
        Err(KmsError::MalformedPolicyDocument(_))
    ));
    assert_eq!(f.kms.list_key_policies(&f.caller, &k).unwrap(), vec!["default".to_string()]);
}

#[test]
fn list_keys_paginates() {
    let f = fixture();
    for _ in 0..5 {
        f.create();
    }
    let p1 = f.kms.list_keys(&f.caller, &PageRequest { limit: Some(3), marker: None }).unwrap();
    assert_eq!(p1.items.len(), 3);
    let p2 = f.kms.list_keys(&f.caller, &PageRequest { limit: Some(3), marker: p1.next_marker }).unwrap();
    assert_eq!(p2.items.len(), 2);
    assert!(p2.next_marker.is_none());
    assert!(matches!(
        f.kms.list_keys(&f.caller, &PageRequest { limit: None, marker: Some("bogus".into()) }),
        Err(KmsError::InvalidMarker(_))
    ));
}

#[test]
fn unknown_keys_are_not_found_with_aws_text() {
    let f = fixture();
    let id = KeyId::random();
    let err = f.kms.describe_key(&f.caller, &KeyRef::Id(id)).unwrap_err();
    assert_eq!(err.to_string(), format!("Key 'arn:aws:kms:us-east-1:111122223333:key/{id}' does not exist"));
    let err = f.kms.describe_key(&f.caller, &key_ref("alias/none")).unwrap_err();
    assert_eq!(err.to_string(), "Alias arn:aws:kms:us-east-1:111122223333:alias/none is not found.");
    let other = format!("arn:aws:kms:us-east-1:999999999999:key/{id}");
    assert!(matches!(f.kms.describe_key(&f.caller, &key_ref(&other)), Err(KmsError::NotFound(_))));
}

#[test]
fn on_demand_rotation_keeps_old_ciphertexts_and_is_capped() {
    let f = fixture();
    let m = f.create();
    let id = m.record.key_id.to_string();
    let k = key_ref(&id);
    let before = f.encrypt(&id, b"old", ctx(&[])).unwrap();
    f.kms.rotate_key_on_demand(&f.caller, &k).unwrap();
    let after = f.encrypt(&id, b"new", ctx(&[])).unwrap();
    assert_ne!(before.material_id, after.material_id);
    assert_eq!(f.decrypt(&before.ciphertext, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"old");
    assert_eq!(f.decrypt(&after.ciphertext, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"new");
    assert_eq!(f.kms.describe_key(&f.caller, &k).unwrap().current_material_id.unwrap(), after.material_id);

    for _ in 1..25 {
        f.kms.rotate_key_on_demand(&f.caller, &k).unwrap();
    }
    assert!(matches!(f.kms.rotate_key_on_demand(&f.caller, &k), Err(KmsError::LimitExceeded(_))));
    let page = f.kms.list_key_rotations(&f.caller, &k, &PageRequest { limit: Some(10), marker: None }, false).unwrap();
    assert_eq!(page.items.len(), 10);
    assert!(page.items.iter().all(|r| r.rotation.map(|(_, t)| t) == Some(crate::model::RotationType::OnDemand)));
    let mut total = page.items.len();
    let mut marker = page.next_marker;
    while let Some(m) = marker {
        let p =
            f.kms.list_key_rotations(&f.caller, &k, &PageRequest { limit: Some(10), marker: Some(m) }, false).unwrap();
        total += p.items.len();
        marker = p.next_marker;
    }
    assert_eq!(total, 25);
    // Survives a cold cache: the versions come back from the store.
    let fresh = Kms::new(
        f.kms.store().clone(),
        Arc::new(RootKey::from_secret(&SecretBytes::new(vec![9; 32])).unwrap()),
        f.clock.clone(),
        Region::parse("us-east-1").unwrap(),
    );
    let d = fresh
        .decrypt(
            &f.caller,
            DecryptRequest { ciphertext: before.ciphertext, context: ctx(&[]), key: None, algorithm: None },
        )
        .unwrap();
    assert_eq!(d.plaintext.expose_secret(), b"old");
}

#[test]
fn automatic_rotation_fires_when_the_clock_passes_the_period() {
    let f = fixture();
    let m = f.create();
    let id = m.record.key_id.to_string();
    let k = key_ref(&id);
    assert!(matches!(f.kms.enable_key_rotation(&f.caller, &k, Some(89)), Err(KmsError::Validation(_))));
    f.kms.enable_key_rotation(&f.caller, &k, Some(90)).unwrap();
    let s = f.kms.key_rotation_status(&f.caller, &k).unwrap();
    assert!(s.enabled);
    assert_eq!(s.next_rotation, Some(f.clock.now().plus_days(90)));
    let jobs = f.kms.scheduled_jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].kind, jobs[0].due), (crate::service::JobKind::Rotation, f.clock.now().plus_days(90)));
    let old = f.encrypt(&id, b"before", ctx(&[])).unwrap();

    f.clock.advance_ms(90 * Timestamp::DAY_MS - 1);
    assert_eq!(f.kms.run_due_jobs().unwrap().rotated, 0);
    f.clock.advance_ms(1);
    assert_eq!(f.kms.run_due_jobs().unwrap().rotated, 1);
    assert_eq!(f.kms.run_due_jobs().unwrap().rotated, 0, "the next rotation is a full period away");
    let s = f.kms.key_rotation_status(&f.caller, &k).unwrap();
    assert_eq!(s.next_rotation, Some(f.clock.now().plus_days(90)));
    let rotations = f.kms.list_key_rotations(&f.caller, &k, &PageRequest::default(), false).unwrap();
    assert_eq!(rotations.items.len(), 1);
    assert_eq!(rotations.items[0].rotation.map(|(_, t)| t), Some(crate::model::RotationType::Automatic));
    assert_eq!(f.decrypt(&old.ciphertext, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"before");

    f.kms.disable_key_rotation(&f.caller, &k).unwrap();
    f.clock.advance_ms(1000 * Timestamp::DAY_MS);
    assert_eq!(f.kms.run_due_jobs().unwrap().rotated, 0);
    f.kms.disable_key(&f.caller, &k).unwrap();
    assert!(matches!(f.kms.enable_key_rotation(&f.caller, &k, None), Err(KmsError::Disabled(_))));
}

pub(super) mod import {
    use aws_lc_rs_free::*;

    use super::*;
    use crate::model::{ExpirationModel, WrappingAlgorithm, WrappingKeySpec};
    use crate::service::ImportMaterialRequest;

    /// Wraps like `openssl pkeyutl -encrypt -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256`, using
    /// the import parameters' public key (the test stands in for the customer).
    mod aws_lc_rs_free {
        pub(super) use trent_crypto::import::test_support::oaep_sha256_encrypt;
    }

    pub(crate) fn external(f: &Fixture) -> (String, KeyRef) {
        let m = f
            .kms
            .create_key(
                &f.caller,
                CreateKeyRequest { origin: Some(crate::model::Origin::External), ..Default::default() },
            )
            .unwrap();
        assert_eq!(m.record.state, KeyState::PendingImport);
        assert!(m.current_material_id.is_none());
        let id = m.record.key_id.to_string();
        let k = key_ref(&id);
        (id, k)
    }

    /// Imports `material` with the default ImportType; returns its KeyMaterialId.
    pub(crate) fn import(
        f: &Fixture,
        k: &KeyRef,
        material: &[u8],
        valid_to: Option<Timestamp>,
    ) -> Result<String, KmsError> {
        import_as(f, k, material, valid_to, None, None)
    }

    pub(crate) fn import_as(
        f: &Fixture,
        k: &KeyRef,
        material: &[u8],
        valid_to: Option<Timestamp>,
        import_type: Option<crate::model::ImportType>,
        material_id: Option<&str>,
    ) -> Result<String, KmsError> {
        let p = f
            .kms
            .get_parameters_for_import(&f.caller, k, WrappingAlgorithm::RsaesOaepSha256, WrappingKeySpec::Rsa2048)
            .unwrap();
        let encrypted = oaep_sha256_encrypt(&p.public_key, material);
        f.kms
            .import_key_material(
                &f.caller,
                k,
                ImportMaterialRequest {
                    import_token: p.import_token,
                    encrypted_key_material: encrypted,
                    expiration: Some(if valid_to.is_some() {
                        ExpirationModel::KeyMaterialExpires
                    } else {
                        ExpirationModel::KeyMaterialDoesNotExpire
                    }),
                    valid_to,
                    import_type,
                    material_id: material_id.map(str::to_owned),
                    description: None,
                },
            )
            .map(|m| m.material_id.unwrap_or_default())
    }

    #[test]
    fn import_use_delete_reimport_and_expire() {
        let f = fixture();
        let (id, k) = external(&f);
        assert!(matches!(f.encrypt(&id, b"x", ctx(&[])), Err(KmsError::InvalidState(_))));
        let material = [0x5Au8; 32];
        import(&f, &k, &material, Some(f.clock.now().plus_days(30))).unwrap();
        let e = f.encrypt(&id, b"byok", ctx(&[])).unwrap();
        assert_eq!(f.decrypt(&e.ciphertext, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"byok");
        // The KeyMaterialId is derived from the key and the material.
        assert_eq!(e.material_id, trent_crypto::import::key_material_id(&id, &SecretBytes::new(material.to_vec())));

        f.kms.delete_imported_key_material(&f.caller, &k, None).unwrap();
        assert_eq!(f.kms.describe_key(&f.caller, &k).unwrap().record.state, KeyState::PendingImport);
        assert!(matches!(f.decrypt(&e.ciphertext, ctx(&[]), None), Err(KmsError::InvalidState(_))));
        let other = import(&f, &k, &[0x11; 32], None).unwrap_err();
        assert!(matches!(other, KmsError::IncorrectKeyMaterial(_)), "{other:?}");
        import(&f, &k, &material, None).unwrap();
        assert_eq!(f.decrypt(&e.ciphertext, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"byok");

        // Expiry: material with a ValidTo disappears when the clock passes it.
        f.kms.delete_imported_key_material(&f.caller, &k, None).unwrap();
        import(&f, &k, &material, Some(f.clock.now().plus_days(1))).unwrap();
        f.clock.advance_ms(Timestamp::DAY_MS - 1);
        assert_eq!(f.kms.run_due_jobs().unwrap().expired, 0);
        f.clock.advance_ms(1);
        assert_eq!(f.kms.run_due_jobs().unwrap().expired, 1);
        assert_eq!(f.kms.describe_key(&f.caller, &k).unwrap().record.state, KeyState::PendingImport);
    }

    #[test]
    fn import_errors() {
        let f = fixture();
        let (_, k) = external(&f);
        let p = f
            .kms
            .get_parameters_for_import(&f.caller, &k, WrappingAlgorithm::RsaesOaepSha256, WrappingKeySpec::Rsa2048)
            .unwrap();
        let req = |token: Vec<u8>, material: Vec<u8>, valid_to| ImportMaterialRequest {
            import_token: token,
            encrypted_key_material: material,
            expiration: None,
            valid_to,
            import_type: None,
            material_id: None,
            description: None,
        };
        let good = oaep_sha256_encrypt(&p.public_key, &[1; 32]);
        let in_a_day = Some(f.clock.now().plus_days(1));
        assert!(matches!(
            f.kms.import_key_material(&f.caller, &k, req(p.import_token.clone(), good.clone(), None)),
            Err(KmsError::Validation(_))
        ));
        assert!(matches!(
            f.kms.import_key_material(&f.caller, &k, req(vec![0; 32], good.clone(), in_a_day)),
            Err(KmsError::InvalidImportToken(_))
        ));
        assert!(matches!(
            f.kms.import_key_material(&f.caller, &k, req(p.import_token.clone(), vec![0; 256], in_a_day)),
            Err(KmsError::InvalidCiphertext)
        ));
        let short = oaep_sha256_encrypt(&p.public_key, &[1; 16]);
        assert!(matches!(
            f.kms.import_key_material(&f.caller, &k, req(p.import_token.clone(), short, in_a_day)),
            Err(KmsError::IncorrectKeyMaterial(_))
        ));
        f.clock.advance_ms(Timestamp::DAY_MS + 1);
        assert!(matches!(
            f.kms.import_key_material(&f.caller, &k, req(p.import_token, good, Some(f.clock.now().plus_days(1)))),
            Err(KmsError::ExpiredImportToken(_))
        ));
        // Not for keys with KMS-made material; an imported key without material cannot rotate.
        let normal = f.create();
        let nid = normal.record.key_id.to_string();
        assert!(matches!(
            f.kms.get_parameters_for_import(
                &f.caller,
                &key_ref(&nid),
                WrappingAlgorithm::RsaesOaepSha256,
                WrappingKeySpec::Rsa2048
            ),
            Err(KmsError::UnsupportedOperation(_))
        ));
        assert!(matches!(f.kms.rotate_key_on_demand(&f.caller, &k), Err(KmsError::InvalidState(_))));
    }
}

mod asymmetric_keys {
    use super::*;
    use crate::model::{
        DataKeyPairSpec, EncryptionAlgorithm, KeySpec, KeyUsage, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec,
    };

    fn create(f: &Fixture, spec: KeySpec, usage: Option<KeyUsage>) -> Result<KeyMetadata, KmsError> {
        f.kms.create_key(&f.caller, CreateKeyRequest { key_spec: Some(spec), key_usage: usage, ..Default::default() })
    }

    #[test]
    fn create_rules() {
        let f = fixture();
        let err = create(&f, KeySpec::Rsa2048, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
        );
        assert!(matches!(create(&f, KeySpec::Hmac256, Some(KeyUsage::SignVerify)), Err(KmsError::Validation(_))));
        assert!(matches!(
            create(&f, KeySpec::EccSecgP256k1, Some(KeyUsage::KeyAgreement)),
            Err(KmsError::Validation(_))
        ));
        assert!(matches!(create(&f, KeySpec::Sm2, Some(KeyUsage::SignVerify)), Err(KmsError::UnsupportedOperation(_))));
        let m = create(&f, KeySpec::EccNistP256, Some(KeyUsage::SignVerify)).unwrap();
        assert_eq!(crate::specs::algorithms(m.record.key_spec, m.record.key_usage).signing, &["ECDSA_SHA_256"]);
    }

    #[test]
    fn sign_verify_and_wrong_usage() {
        let f = fixture();
        let m = create(&f, KeySpec::EccNistP384, Some(KeyUsage::SignVerify)).unwrap();
        let k = key_ref(&m.arn);
        let (_, sig) = f.kms.sign(&f.caller, &k, b"msg", MessageType::Raw, SigningAlgorithmSpec::EcdsaSha384).unwrap();
        f.kms.verify(&f.caller, &k, b"msg", MessageType::Raw, &sig, SigningAlgorithmSpec::EcdsaSha384).unwrap();
        assert!(matches!(
            f.kms.verify(&f.caller, &k, b"other", MessageType::Raw, &sig, SigningAlgorithmSpec::EcdsaSha384),
            Err(KmsError::InvalidSignature)
        ));
        assert!(matches!(
            f.kms.sign(&f.caller, &k, b"msg", MessageType::Raw, SigningAlgorithmSpec::EcdsaSha256),
            Err(KmsError::InvalidKeyUsage(_))
        ));
        let err =
            f.kms.sign(&f.caller, &k, &[0; 20], MessageType::Digest, SigningAlgorithmSpec::EcdsaSha384).unwrap_err();
        assert_eq!(err.to_string(), "Digest is invalid length for algorithm ECDSA_SHA_384.");
        // A signing key cannot encrypt; a symmetric key cannot sign.
        let e = f.encrypt(&m.arn, b"x", ctx(&[])).unwrap_err();
        assert_eq!(e.to_string(), format!("{} key usage is SIGN_VERIFY which is not valid for Encrypt.", m.arn));
        let sym = f.create();
        assert!(matches!(
            f.kms.sign(&f.caller, &key_ref(&sym.arn), b"m", MessageType::Raw, SigningAlgorithmSpec::EcdsaSha256),
            Err(KmsError::InvalidKeyUsage(_))
        ));
        assert!(matches!(f.kms.get_public_key(&f.caller, &key_ref(&sym.arn)), Err(KmsError::UnsupportedOperation(_))));
        assert_eq!(f.kms.get_public_key(&f.caller, &k).unwrap().public_key.len(), 120);
    }

    #[test]
    fn rsa_encryption() {
        let f = fixture();
        let m = create(&f, KeySpec::Rsa2048, Some(KeyUsage::EncryptDecrypt)).unwrap();
        let enc = |alg, pt: &[u8], c| {
            f.kms.encrypt(
                &f.caller,
                EncryptRequest {
                    key: key_ref(&m.arn),
                    plaintext: SecretBytes::new(pt.to_vec()),
                    context: c,
                    algorithm: alg,
                },
            )
        };
        assert!(matches!(enc(None, b"x", ctx(&[])), Err(KmsError::InvalidKeyUsage(_))));
        assert!(matches!(
            enc(Some(EncryptionAlgorithm::RsaesOaepSha256), b"x", ctx(&[("a", "b")])),
            Err(KmsError::Validation(_))
        ));
        let err = enc(Some(EncryptionAlgorithm::RsaesOaepSha256), &[0; 191], ctx(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than 190 bytes."
        );
        let e = enc(Some(EncryptionAlgorithm::RsaesOaepSha256), b"rsa secret", ctx(&[])).unwrap();
        let dec = |key: Option<&str>, alg| {
            f.kms.decrypt(
                &f.caller,
                DecryptRequest {
                    ciphertext: e.ciphertext.clone(),
                    context: ctx(&[]),
                    key: key.map(key_ref),
                    algorithm: alg,
                },
            )
        };
        assert_eq!(
            dec(Some(&m.arn), Some(EncryptionAlgorithm::RsaesOaepSha256)).unwrap().plaintext.expose_secret(),
            b"rsa secret"
        );
        assert!(matches!(
            dec(Some(&m.arn), Some(EncryptionAlgorithm::RsaesOaepSha1)),
            Err(KmsError::InvalidCiphertext)
        ));
        // Without KeyId the ciphertext is read as a symmetric blob. Random RSA output starts with the blob
        // version byte 1 time in 256; it then parses and names a key that does not exist (AWS's access-denied
        // text); otherwise it is not a blob at all.
        let without_key = dec(None, Some(EncryptionAlgorithm::RsaesOaepSha256));
        if e.ciphertext.first() == Some(&1) {
            assert!(matches!(without_key, Err(KmsError::AccessDenied(_))), "{without_key:?}");
        } else {
            assert!(matches!(without_key, Err(KmsError::InvalidCiphertext)), "{without_key:?}");
        }
        // Data keys need a symmetric key.
        let gdk = f.kms.generate_data_key(
            &f.caller,
            GenerateDataKeyRequest { key: key_ref(&m.arn), size: DataKeySize::Bytes(16), context: ctx(&[]) },
            true,
        );
        assert!(matches!(gdk, Err(KmsError::InvalidKeyUsage(_))));
    }

    #[test]
    fn hmac_and_ecdh_and_data_key_pairs() {
        let f = fixture();
        let h = create(&f, KeySpec::Hmac384, Some(KeyUsage::GenerateVerifyMac)).unwrap();
        let hk = key_ref(&h.arn);
        let (_, tag) = f.kms.generate_mac(&f.caller, &hk, b"m", MacAlgorithmSpec::HmacSha384).unwrap();
        let (_, again) = f.kms.generate_mac(&f.caller, &hk, b"m", MacAlgorithmSpec::HmacSha384).unwrap();
        assert_eq!(tag, again, "MACs are deterministic");
        assert_eq!(tag.len(), 48);
        f.kms.verify_mac(&f.caller, &hk, b"m", MacAlgorithmSpec::HmacSha384, &tag).unwrap();
        let mut bad = tag.clone();
        bad[5] ^= 1;
        assert!(matches!(
            f.kms.verify_mac(&f.caller, &hk, b"m", MacAlgorithmSpec::HmacSha384, &bad),
            Err(KmsError::InvalidMac)
        ));
        assert!(matches!(
            f.kms.generate_mac(&f.caller, &hk, b"m", MacAlgorithmSpec::HmacSha256),
            Err(KmsError::InvalidKeyUsage(_))
        ));

        let a = create(&f, KeySpec::EccNistP256, Some(KeyUsage::KeyAgreement)).unwrap();
        let b = create(&f, KeySpec::EccNistP256, Some(KeyUsage::KeyAgreement)).unwrap();
        let pa = f.kms.get_public_key(&f.caller, &key_ref(&a.arn)).unwrap().public_key;
        let pb = f.kms.get_public_key(&f.caller, &key_ref(&b.arn)).unwrap().public_key;
        let (_, s1, _) = f.kms.derive_shared_secret(&f.caller, &key_ref(&a.arn), &pb).unwrap();
        let (_, s2, _) = f.kms.derive_shared_secret(&f.caller, &key_ref(&b.arn), &pa).unwrap();
        assert_eq!(s1.expose_secret(), s2.expose_secret());
        assert!(matches!(
            f.kms.derive_shared_secret(&f.caller, &key_ref(&a.arn), b"junk"),
            Err(KmsError::Validation(_))
        ));

        let sym = f.create();
        let pair = f
            .kms
            .generate_data_key_pair(
                &f.caller,
                &key_ref(&sym.arn),
                DataKeyPairSpec::EccNistP256,
                &ctx(&[("p", "q")]),
                true,
            )
            .unwrap();
        let private = f.decrypt(&pair.private_key_ciphertext, ctx(&[("p", "q")]), None).unwrap().plaintext;
        assert_eq!(private.expose_secret(), pair.private_key_plaintext.unwrap().expose_secret());
        assert_eq!(pair.public_key.len(), 91);
    }
}

mod authorization {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Mutex;

    use super::*;
    use crate::policy::Policy;
    use crate::policy::document::{PolicyKind, parse_policy};
    use crate::service::PrincipalDirectory;

    /// IAM policies by principal ARN, standing in for the IAM users of `Identities`.
    #[derive(Default)]
    struct Directory(Mutex<HashMap<String, Arc<Vec<Policy>>>>);

    impl Directory {
        fn allow(&self, principal: &str, doc: &str) {
            let p = parse_policy(doc, PolicyKind::Identity).unwrap();
            self.0.lock().unwrap().insert(principal.to_owned(), Arc::new(vec![p]));
        }
    }

    impl PrincipalDirectory for Directory {
        fn identity_policies(&self, principal_arn: &str) -> Result<Arc<Vec<Policy>>, KmsError> {
            Ok(self.0.lock().unwrap().get(principal_arn).cloned().unwrap_or_default())
        }
        fn principal_tags(&self, _: &str) -> Result<Arc<BTreeMap<String, String>>, KmsError> {
            Ok(Arc::new(BTreeMap::new()))
        }
    }

    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
    const BOB: &str = "arn:aws:iam::444455556666:user/bob";

    fn user(arn: &str) -> Caller {
        let account = AccountId::parse(&arn[13..25]).unwrap();
        Caller::new(account, arn)
    }

    fn enc(f: &Fixture, caller: &Caller, key: &str, c: EncryptionContext) -> Result<EncryptResponse, KmsError> {
        f.kms.encrypt(
            caller,
            EncryptRequest {
                key: key_ref(key),
                plaintext: SecretBytes::new(b"x".to_vec()),
                context: c,
                algorithm: None,
            },
        )
    }

    #[test]
    fn users_need_iam_under_the_default_policy_and_key_policy_without_root_denies() {
        let f = fixture();
        let dir = Arc::new(Directory::default());
        f.kms.set_principal_directory(dir.clone());
        let key = f.create();
        let alice = user(ALICE);
        let err = enc(&f, &alice, &key.arn, ctx(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "User: {ALICE} is not authorized to perform: kms:Encrypt on resource: {} because no identity-based policy allows the kms:Encrypt action",
                key.arn
            )
        );
        dir.allow(ALICE, r#"{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}"#);
        enc(&f, &alice, &key.arn, ctx(&[])).unwrap();
        // Decrypt is not in Alice's policy.
        let blob = enc(&f, &alice, &key.arn, ctx(&[])).unwrap().ciphertext;
        let denied =
            f.kms.decrypt(&alice, DecryptRequest { ciphertext: blob, context: ctx(&[]), key: None, algorithm: None });
        assert!(matches!(denied, Err(KmsError::AccessDenied(_))));
        // A key policy without the root statement ignores IAM policies.
        let no_root = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:PutKeyPolicy","Resource":"*"}}"#;
        let k = key_ref(&key.arn);
        f.kms.put_key_policy(&f.caller, &k, None, no_root.into(), false).unwrap();
        let err = enc(&f, &alice, &key.arn, ctx(&[])).unwrap_err();
        assert!(
            err.to_string().ends_with("because no identity-based policy allows the kms:Encrypt action")
                || err.to_string().contains("resource-based")
        );
        // ListKeys and CreateKey are IAM-only.
        assert!(matches!(f.kms.list_keys(&alice, &PageRequest::default()), Err(KmsError::AccessDenied(_))));
    }

    #[test]
    fn encryption_context_conditions() {
        let f = fixture();
        let dir = Arc::new(Directory::default());
        f.kms.set_principal_directory(dir.clone());
        let key = f.create();
        dir.allow(
            ALICE,
            r#"{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*",
                "Condition":{"StringEquals":{"kms:EncryptionContext:team":"blue"}}}}"#,
        );
        let alice = user(ALICE);
        enc(&f, &alice, &key.arn, ctx(&[("team", "blue")])).unwrap();
        assert!(matches!(enc(&f, &alice, &key.arn, ctx(&[("team", "red")])), Err(KmsError::AccessDenied(_))));
        assert!(matches!(enc(&f, &alice, &key.arn, ctx(&[])), Err(KmsError::AccessDenied(_))));
    }

    #[test]
    fn resource_aliases_condition_follows_the_keys_aliases() {
        let f = fixture();
        let dir = Arc::new(Directory::default());
        f.kms.set_principal_directory(dir.clone());
        let key = f.create();
        dir.allow(
            ALICE,
            r#"{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*",
                "Condition":{"ForAnyValue:StringLike":{"kms:resourcealiases":"alias/finance-*"}}}}"#,
        );
        let alice = user(ALICE);
        assert!(matches!(enc(&f, &alice, &key.arn, ctx(&[])), Err(KmsError::AccessDenied(_))), "no alias yet");
        f.kms.create_alias(&f.caller, "alias/other", &key.arn).unwrap();
        assert!(matches!(enc(&f, &alice, &key.arn, ctx(&[])), Err(KmsError::AccessDenied(_))), "alias does not match");
        f.kms.create_alias(&f.caller, "alias/finance-2026", &key.arn).unwrap();
        enc(&f, &alice, &key.arn, ctx(&[])).unwrap();
        f.kms.delete_alias(&f.caller, "alias/finance-2026").unwrap();
        assert!(matches!(enc(&f, &alice, &key.arn, ctx(&[])), Err(KmsError::AccessDenied(_))), "alias removed");
    }

    #[test]
    fn grant_is_for_aws_resource_is_false_for_direct_calls() {
        let f = fixture();
        let dir = Arc::new(Directory::default());
        f.kms.set_principal_directory(dir.clone());
        let key = f.create();
        let k = key_ref(&key.arn);
        let alice = user(ALICE);
        dir.allow(
            ALICE,
            r#"{"Statement":{"Effect":"Allow","Action":"kms:ListGrants","Resource":"*",
                "Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}}"#,
        );
        let page = PageRequest::default();
        assert!(matches!(f.kms.list_grants(&alice, &k, None, None, &page), Err(KmsError::AccessDenied(_))));
        dir.allow(
            ALICE,
            r#"{"Statement":{"Effect":"Allow","Action":"kms:ListGrants","Resource":"*",
                "Condition":{"Bool":{"kms:GrantIsForAWSResource":"false"}}}}"#,
        );
        f.kms.list_grants(&alice, &k, None, None, &page).unwrap();
    }

    #[test]
    fn cross_account_needs_both_key_policy_and_iam() {
        let f = fixture();
        let dir = Arc::new(Directory::default());
        f.kms.set_principal_directory(dir.clone());
        let key = f.create();
        let bob = user(BOB);
        // Not shared: the key is invisible by id in Bob's account, and denied by ARN.
        assert!(matches!(enc(&f, &bob, &key.record.key_id.to_string(), ctx(&[])), Err(KmsError::NotFound(_))));
        assert!(matches!(enc(&f, &bob, &key.arn, ctx(&[])), Err(KmsError::AccessDenied(_))));
        let shared = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}"#;
        f.kms.put_key_policy(&f.caller, &key_ref(&key.arn), None, shared.into(), false).unwrap();
        assert!(
            matches!(enc(&f, &bob, &key.arn, ctx(&[])), Err(KmsError::AccessDenied(_))),
            "Bob's account must allow too"
        );
        dir.allow(BOB, r#"{"Statement":{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}}"#);
        let blob = enc(&f, &bob, &key.arn, ctx(&[])).unwrap().ciphertext;
        let out = f
            .kms
            .decrypt(&bob, DecryptRequest { ciphertext: blob, context: ctx(&[]), key: None, algorithm: None })
            .unwrap();
        assert_eq!(out.key_arn, key.arn);
        let eve = user("arn:aws:iam::777777777777:user/eve");
        dir.allow(
            "arn:aws:iam::777777777777:user/eve",
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
        );
        assert!(matches!(enc(&f, &eve, &key.arn, ctx(&[])), Err(KmsError::AccessDenied(_))));
    }
}
