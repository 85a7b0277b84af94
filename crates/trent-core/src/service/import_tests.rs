//! The imported-material state machine of AWS's 2025 imported key rotation: NEW_KEY_MATERIAL imports pending
//! rotation, RotateKeyOnDemand making them CURRENT, re-imports of existing material, deletion and expiry of
//! one material among several.

// Test helpers outside #[test] functions (allow-unwrap-in-tests does not reach them) may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::tests::import::{external, import, import_as};
use super::tests::{Fixture, ctx, fixture};
use super::*;
use crate::model::{ExpirationModel, ImportType, KeyMaterialState, MaterialImportState, RotationType, Timestamp};

const A: [u8; 32] = [0xA1; 32];
const B: [u8; 32] = [0xB2; 32];
const C: [u8; 32] = [0xC3; 32];

fn new(f: &Fixture, k: &KeyRef, material: &[u8]) -> Result<String, KmsError> {
    import_as(f, k, material, None, Some(ImportType::NewKeyMaterial), None)
}

/// (material id, state, import state, rotated) of every material, in version order.
fn materials(f: &Fixture, k: &KeyRef) -> Vec<(String, KeyMaterialState, MaterialImportState, bool)> {
    let all = f.kms.list_key_rotations(&f.caller, k, &PageRequest::default(), true).unwrap();
    all.items
        .into_iter()
        .map(|e| {
            let i = e.imported.expect("imported key entries carry import members");
            (e.material_id, e.state, i.import_state, e.rotation.is_some())
        })
        .collect()
}

fn describe(f: &Fixture, k: &KeyRef) -> KeyMetadata {
    f.kms.describe_key(&f.caller, k).unwrap()
}

#[test]
fn new_material_pends_until_rotated_in_and_old_material_still_decrypts() {
    use KeyMaterialState::*;
    use MaterialImportState::*;

    let f = fixture();
    let (id, k) = external(&f);
    // The first import needs no ImportType: it is new material, and CURRENT at once.
    let a = import(&f, &k, &A, None).unwrap();
    assert_eq!(describe(&f, &k).current_material_id.as_deref(), Some(a.as_str()));
    assert_eq!(describe(&f, &k).record.state, KeyState::Enabled);
    let old = f.encrypt(&id, b"under A", ctx(&[])).unwrap();
    assert_eq!(old.material_id, a);

    // Nothing pending: nothing to rotate into (AWS's exception and text).
    let arn = describe(&f, &k).arn;
    match f.kms.rotate_key_on_demand(&f.caller, &k) {
        Err(KmsError::InvalidState(m)) => {
            assert_eq!(m, format!("No available key material pending rotation for the key: {arn}."))
        }
        other => panic!("{other:?}"),
    }
    // Different material without NEW_KEY_MATERIAL (the default is now EXISTING_KEY_MATERIAL) is refused...
    assert!(matches!(import(&f, &k, &B, None), Err(KmsError::IncorrectKeyMaterial(_))));
    // ... and so is the same material as "new".
    assert!(matches!(new(&f, &k, &A), Err(KmsError::IncorrectKeyMaterial(_))));

    let b = new(&f, &k, &B).unwrap();
    assert_ne!(a, b);
    assert_eq!(
        materials(&f, &k),
        vec![(a.clone(), Current, Imported, false), (b.clone(), PendingRotation, Imported, false)]
    );
    // Pending material is not used, and ROTATIONS_ONLY lists completed rotations only.
    assert_eq!(f.encrypt(&id, b"still A", ctx(&[])).unwrap().material_id, a);
    assert!(f.kms.list_key_rotations(&f.caller, &k, &PageRequest::default(), false).unwrap().items.is_empty());
    // One pending material at a time.
    match new(&f, &k, &C) {
        Err(KmsError::InvalidState(m)) => {
            assert!(
                m.starts_with("New key material (id: ")
                    && m.ends_with(&format!("another key material (id: {b}) is pending rotation.")),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }

    assert_eq!(f.kms.rotate_key_on_demand(&f.caller, &k).unwrap(), describe(&f, &k).arn);
    assert_eq!(describe(&f, &k).current_material_id.as_deref(), Some(b.as_str()));
    assert_eq!(materials(&f, &k), vec![(a.clone(), NonCurrent, Imported, false), (b.clone(), Current, Imported, true)]);
    let rotations = f.kms.list_key_rotations(&f.caller, &k, &PageRequest::default(), false).unwrap().items;
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0].material_id, b);
    assert_eq!(rotations[0].rotation, Some((f.clock.now(), RotationType::OnDemand)));

    let fresh = f.encrypt(&id, b"under B", ctx(&[])).unwrap();
    assert_eq!(fresh.material_id, b);
    let d = f.decrypt(&old.ciphertext, ctx(&[]), None).unwrap();
    assert_eq!((d.plaintext.expose_secret(), d.material_id.as_str()), (&b"under A"[..], a.as_str()));
    assert_eq!(f.decrypt(&fresh.ciphertext, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"under B");
    // The pending material was consumed.
    assert!(matches!(f.kms.rotate_key_on_demand(&f.caller, &k), Err(KmsError::InvalidState(_))));
    // Rotation status works for imported keys (automatic rotation does not).
    let status = f.kms.key_rotation_status(&f.caller, &k).unwrap();
    assert!(!status.enabled && status.on_demand_started.is_none());
    assert!(matches!(f.kms.enable_key_rotation(&f.caller, &k, None), Err(KmsError::UnsupportedOperation(_))));
}

#[test]
fn reimport_changes_expiry_and_checks_the_material_id() {
    let f = fixture();
    let (_, k) = external(&f);
    let in_30 = f.clock.now().plus_days(30);
    let a = import(&f, &k, &A, Some(in_30)).unwrap();
    let m = describe(&f, &k);
    assert_eq!(
        (m.record.expiration_model(), m.record.earliest_valid_to()),
        (Some(ExpirationModel::KeyMaterialExpires), Some(in_30))
    );

    // The same material, named by its id, while it is still present: only the expiry changes.
    let again = import_as(&f, &k, &A, None, Some(ImportType::ExistingKeyMaterial), Some(&a)).unwrap();
    assert_eq!(again, a);
    let m = describe(&f, &k);
    assert_eq!(m.record.expiration_model(), Some(ExpirationModel::KeyMaterialDoesNotExpire));
    assert_eq!(m.record.earliest_valid_to(), None);
    assert_eq!(m.record.state, KeyState::Enabled);
    f.clock.advance_ms(31 * Timestamp::DAY_MS);
    assert_eq!(f.kms.run_due_jobs().unwrap().expired, 0);

    // The id must be the material's.
    let wrong = "0".repeat(64);
    let e = import_as(&f, &k, &A, None, Some(ImportType::ExistingKeyMaterial), Some(&wrong)).unwrap_err();
    assert!(matches!(e, KmsError::IncorrectKeyMaterial(_)), "{e:?}");
    // Right id, other material.
    let e = import_as(&f, &k, &B, None, Some(ImportType::ExistingKeyMaterial), Some(&a)).unwrap_err();
    assert!(matches!(e, KmsError::IncorrectKeyMaterial(_)), "{e:?}");
    // No id with NEW_KEY_MATERIAL.
    let e = import_as(&f, &k, &B, None, Some(ImportType::NewKeyMaterial), Some(&a)).unwrap_err();
    assert!(matches!(e, KmsError::Validation(_)), "{e:?}");
    // Nothing to re-import into a key that never had material.
    let (_, k2) = external(&f);
    let e = import_as(&f, &k2, &A, None, Some(ImportType::ExistingKeyMaterial), None).unwrap_err();
    assert!(matches!(e, KmsError::IncorrectKeyMaterial(_)), "{e:?}");
    // The same material in another key gets another id.
    assert_ne!(import(&f, &k2, &A, None).unwrap(), a);
}

#[test]
fn deleting_one_material_among_several() {
    use KeyMaterialState::*;
    use MaterialImportState::*;

    let f = fixture();
    let (id, k) = external(&f);
    let a = import(&f, &k, &A, None).unwrap();
    let under_a = f.encrypt(&id, b"A", ctx(&[])).unwrap().ciphertext;
    let b = new(&f, &k, &B).unwrap();

    // Pending material is not bound to the key: deleting it leaves the key usable, and other material may
    // take its place.
    let gone = f.kms.delete_imported_key_material(&f.caller, &k, Some(&b)).unwrap();
    assert_eq!(gone.material_id.as_deref(), Some(b.as_str()));
    assert_eq!(describe(&f, &k).record.state, KeyState::Enabled);
    assert_eq!(materials(&f, &k), vec![(a.clone(), Current, Imported, false)]);
    let c = new(&f, &k, &C).unwrap();
    f.kms.rotate_key_on_demand(&f.caller, &k).unwrap();
    let under_c = f.encrypt(&id, b"C", ctx(&[])).unwrap().ciphertext;

    // Deleting NON_CURRENT material makes the whole key unusable until it comes back.
    f.kms.delete_imported_key_material(&f.caller, &k, Some(&a)).unwrap();
    assert_eq!(describe(&f, &k).record.state, KeyState::PendingImport);
    assert_eq!(
        materials(&f, &k),
        vec![(a.clone(), NonCurrent, PendingImport, false), (c.clone(), Current, Imported, true)]
    );
    assert!(matches!(f.decrypt(&under_c, ctx(&[]), None), Err(KmsError::InvalidState(_))));
    assert!(matches!(f.kms.rotate_key_on_demand(&f.caller, &k), Err(KmsError::InvalidState(_))));
    assert_eq!(import(&f, &k, &A, None).unwrap(), a);
    assert_eq!(describe(&f, &k).record.state, KeyState::Enabled);
    assert_eq!(f.decrypt(&under_a, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"A");
    assert_eq!(f.decrypt(&under_c, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"C");

    // Unknown ids are refused; without an id the current material goes, and is still the current one.
    let e = f.kms.delete_imported_key_material(&f.caller, &k, Some(&"f".repeat(64))).unwrap_err();
    assert!(matches!(e, KmsError::NotFound(_)), "{e:?}");
    let gone = f.kms.delete_imported_key_material(&f.caller, &k, None).unwrap();
    assert_eq!(gone.material_id.as_deref(), Some(c.as_str()));
    assert_eq!(describe(&f, &k).current_material_id.as_deref(), Some(c.as_str()));
    assert!(matches!(f.encrypt(&id, b"x", ctx(&[])), Err(KmsError::InvalidState(_))));
    import(&f, &k, &C, None).unwrap();
    assert_eq!(f.encrypt(&id, b"x", ctx(&[])).unwrap().material_id, c);
}

#[test]
fn expiry_erases_only_the_expired_material() {
    use KeyMaterialState::*;
    use MaterialImportState::*;

    let f = fixture();
    let (id, k) = external(&f);
    let a = import(&f, &k, &A, None).unwrap();
    let day = |n| f.clock.now().plus_days(n);
    import_as(&f, &k, &B, Some(day(1)), Some(ImportType::NewKeyMaterial), None).unwrap();
    // The pending material's expiry does not show as the key's: it is not bound to the key yet.
    assert_eq!(describe(&f, &k).record.earliest_valid_to(), None);
    f.clock.advance_ms(Timestamp::DAY_MS);
    assert_eq!(f.kms.run_due_jobs().unwrap().expired, 1);
    assert_eq!(describe(&f, &k).record.state, KeyState::Enabled);
    assert_eq!(materials(&f, &k), vec![(a.clone(), Current, Imported, false)]);

    // Once rotated in, its expiry makes the key PendingImport; the other material stays.
    let b = import_as(&f, &k, &B, Some(day(2)), Some(ImportType::NewKeyMaterial), None).unwrap();
    f.kms.rotate_key_on_demand(&f.caller, &k).unwrap();
    assert_eq!(describe(&f, &k).record.earliest_valid_to(), Some(day(2)));
    let under_a = f.encrypt(&id, b"A", ctx(&[])).unwrap().ciphertext;
    f.clock.advance_ms(2 * Timestamp::DAY_MS);
    assert_eq!(f.kms.run_due_jobs().unwrap().expired, 1);
    assert_eq!(describe(&f, &k).record.state, KeyState::PendingImport);
    assert_eq!(materials(&f, &k), vec![(a, NonCurrent, Imported, false), (b.clone(), Current, PendingImport, true)]);
    assert!(matches!(f.encrypt(&id, b"x", ctx(&[])), Err(KmsError::InvalidState(_))));
    // Re-importing the expired material restores the key.
    assert_eq!(import(&f, &k, &B, None).unwrap(), b);
    assert_eq!(f.decrypt(&under_a, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"A");
}

/// Material imported before KeyMaterialIds were bound to keys has the material-only fingerprint as its id;
/// it must still be recognised as the key's own, by material and by that id.
#[test]
fn material_imported_before_key_bound_ids_is_still_recognised() {
    use trent_crypto::SecretBytes;
    use trent_crypto::import::material_fingerprint;

    let f = fixture();
    let (_, k) = external(&f);
    import(&f, &k, &A, None).unwrap();
    let legacy = material_fingerprint(&SecretBytes::new(A.to_vec()));
    // Rewrite the record as migration 7 leaves an older data directory, then read it through a fresh service.
    let key_id = describe(&f, &k).record.key_id;
    f.kms
        .store
        .update_key(&key_id, &mut |r| {
            r.materials[0].material_id = legacy.clone();
            Ok(())
        })
        .unwrap();
    let root = trent_crypto::RootKey::from_secret(&SecretBytes::new(vec![9; 32])).unwrap();
    let g = Fixture {
        kms: Kms::new(f.kms.store.clone(), std::sync::Arc::new(root), f.clock.clone(), f.kms.region.clone()),
        clock: f.clock.clone(),
        caller: f.caller.clone(),
    };
    assert_eq!(describe(&g, &k).current_material_id.as_deref(), Some(legacy.as_str()));
    assert!(matches!(new(&g, &k, &A), Err(KmsError::IncorrectKeyMaterial(_))));
    let again = import_as(&g, &k, &A, None, Some(ImportType::ExistingKeyMaterial), Some(&legacy)).unwrap();
    assert_eq!(again, legacy);
    g.kms.delete_imported_key_material(&g.caller, &k, Some(&legacy)).unwrap();
    assert_eq!(import(&g, &k, &A, None).unwrap(), legacy);
    assert_eq!(describe(&g, &k).record.state, KeyState::Enabled);
}

/// The quota of 25 on-demand rotations covers keys with imported material too.
#[test]
fn twenty_sixth_rotation_of_imported_material_is_refused() {
    use crate::model::{WrappingAlgorithm, WrappingKeySpec};
    use trent_crypto::import::test_support::oaep_sha256_encrypt;

    let f = fixture();
    let (_, k) = external(&f);
    import(&f, &k, &A, None).unwrap();
    // One set of parameters for all the imports keeps the test fast (an RSA key pair per call otherwise).
    let p = f
        .kms
        .get_parameters_for_import(&f.caller, &k, WrappingAlgorithm::RsaesOaepSha256, WrappingKeySpec::Rsa2048)
        .unwrap();
    let import_new = |n: u8| {
        f.kms.import_key_material(
            &f.caller,
            &k,
            ImportMaterialRequest {
                import_token: p.import_token.clone(),
                encrypted_key_material: oaep_sha256_encrypt(&p.public_key, &[n; 32]),
                expiration: Some(ExpirationModel::KeyMaterialDoesNotExpire),
                valid_to: None,
                import_type: Some(ImportType::NewKeyMaterial),
                material_id: None,
                description: Some(format!("material {n}")),
            },
        )
    };
    for n in 1..=25 {
        import_new(n).unwrap();
        f.kms.rotate_key_on_demand(&f.caller, &k).unwrap();
    }
    import_new(26).unwrap();
    assert!(matches!(f.kms.rotate_key_on_demand(&f.caller, &k), Err(KmsError::LimitExceeded(_))));
    let listed =
        f.kms.list_key_rotations(&f.caller, &k, &PageRequest { limit: Some(20), marker: None }, false).unwrap();
    assert_eq!(listed.items.len(), 20);
    let rest = f
        .kms
        .list_key_rotations(&f.caller, &k, &PageRequest { limit: Some(20), marker: listed.next_marker }, false)
        .unwrap();
    assert_eq!((rest.items.len(), rest.next_marker), (5, None));
}

/// As AWS documents: DeleteImportedKeyMaterial works on a key pending deletion and leaves its state alone.
#[test]
fn material_of_a_key_pending_deletion_can_be_deleted() {
    let f = fixture();
    let (_, k) = external(&f);
    let a = import(&f, &k, &A, None).unwrap();
    f.kms.schedule_key_deletion(&f.caller, &k, Some(7)).unwrap();
    let gone = f.kms.delete_imported_key_material(&f.caller, &k, None).unwrap();
    assert_eq!(gone.material_id.as_deref(), Some(a.as_str()));
    assert_eq!(describe(&f, &k).record.state, KeyState::PendingDeletion);
    assert!(f.kms.store.key_versions(&describe(&f, &k).record.key_id).unwrap().is_empty());
}
