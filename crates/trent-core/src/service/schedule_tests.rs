//! The scheduler's race with the API (issue 14 item 15): it lists due work, then acts on each item; anything
//! that committed in between (CancelKeyDeletion, a re-import) must win. The interleaving is made
//! deterministic by running the scheduler's two steps by hand around the racing call, with the test clock.

// Test helpers outside #[test] functions (allow-unwrap-in-tests does not reach them) may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::tests::import::{external, import};
use super::tests::{ctx, fixture, key_ref};
use super::*;
use crate::model::Timestamp;

#[test]
fn cancel_between_list_and_destroy_keeps_the_key() {
    let f = fixture();
    let doomed = f.create();
    let saved = f.create();
    let blob = f.encrypt(&saved.arn, b"keep me", ctx(&[])).unwrap().ciphertext;
    for k in [&doomed, &saved] {
        f.kms.schedule_key_deletion(&f.caller, &key_ref(&k.arn), Some(7)).unwrap();
    }
    f.clock.advance_ms(7 * Timestamp::DAY_MS);
    let now = f.clock.now();

    // Step 1 of the scheduler: both keys are due.
    let listed = f.kms.store.keys_due_for_deletion(now.0).unwrap();
    assert_eq!(listed.len(), 2);
    // The race: CancelKeyDeletion commits (and is answered with success) after the list was made.
    f.kms.cancel_key_deletion(&f.caller, &key_ref(&saved.arn)).unwrap();
    // Step 2: destroy what was listed. Only the key still due goes, and only it is reported (and so audited).
    let done = f.kms.destroy_listed_keys(&listed, now).unwrap();
    assert_eq!(done, vec![doomed.arn.clone()]);

    assert!(matches!(f.kms.describe_key(&f.caller, &key_ref(&doomed.arn)), Err(KmsError::NotFound(_))));
    let kept = f.kms.describe_key(&f.caller, &key_ref(&saved.arn)).unwrap();
    assert_eq!(kept.record.state, KeyState::Disabled);
    f.kms.enable_key(&f.caller, &key_ref(&saved.arn)).unwrap();
    assert_eq!(f.decrypt(&blob, ctx(&[]), None).unwrap().plaintext.expose_secret(), b"keep me");
    // Later runs leave it alone too.
    f.clock.advance_ms(30 * Timestamp::DAY_MS);
    assert_eq!(f.kms.run_due_jobs().unwrap().deleted, 0);
}

#[test]
fn rescheduled_later_between_list_and_destroy_waits_for_the_new_date() {
    let f = fixture();
    let k = f.create();
    let r = key_ref(&k.arn);
    f.kms.schedule_key_deletion(&f.caller, &r, Some(7)).unwrap();
    f.clock.advance_ms(7 * Timestamp::DAY_MS);
    let now = f.clock.now();
    let listed = f.kms.store.keys_due_for_deletion(now.0).unwrap();
    f.kms.cancel_key_deletion(&f.caller, &r).unwrap();
    f.kms.schedule_key_deletion(&f.caller, &r, Some(30)).unwrap();
    assert!(f.kms.destroy_listed_keys(&listed, now).unwrap().is_empty());
    assert_eq!(f.kms.describe_key(&f.caller, &r).unwrap().record.state, KeyState::PendingDeletion);
    f.clock.advance_ms(30 * Timestamp::DAY_MS);
    assert_eq!(f.kms.run_due_jobs().unwrap().deleted, 1);
}

#[test]
fn reimport_between_list_and_expiry_keeps_the_new_material() {
    let f = fixture();
    let (id, k) = external(&f);
    let material = [0x5Au8; 32];
    import(&f, &k, &material, Some(f.clock.now().plus_days(1))).unwrap();
    f.clock.advance_ms(Timestamp::DAY_MS);
    let now = f.clock.now();
    let listed = f.kms.store.keys_with_expiring_material(now.0).unwrap();
    assert_eq!(listed.len(), 1);
    // The race: after the list was made, the owner deletes the material and imports it again, now without
    // expiry.
    f.kms.delete_imported_key_material(&f.caller, &k, None).unwrap();
    import(&f, &k, &material, None).unwrap();
    assert!(f.kms.expire_listed_material(&listed, now).unwrap().is_empty());
    assert_eq!(f.kms.describe_key(&f.caller, &k).unwrap().record.state, KeyState::Enabled);
    f.encrypt(&id, b"still usable", ctx(&[])).unwrap();
    // Without the race the listed material does expire.
    f.kms.delete_imported_key_material(&f.caller, &k, None).unwrap();
    import(&f, &k, &material, Some(f.clock.now().plus_days(1))).unwrap();
    f.clock.advance_ms(Timestamp::DAY_MS);
    let now = f.clock.now();
    let listed = f.kms.store.keys_with_expiring_material(now.0).unwrap();
    assert_eq!(f.kms.expire_listed_material(&listed, now).unwrap().len(), 1);
    assert_eq!(f.kms.describe_key(&f.caller, &k).unwrap().record.state, KeyState::PendingImport);
}
