//! Regression tests for the outside security review (findings 1, 2, 4, 5 and 9): each replays the review's
//! reproduction against the service and shows it refused, beside the legitimate use that must keep working.

// Test helpers outside #[test] functions (allow-unwrap-in-tests does not reach them) may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use trent_crypto::SecretBytes;

use super::tests::{Fixture, ctx, fixture, key_ref};
use super::*;
use crate::model::GrantOperation as Op;
use crate::policy::Policy;
use crate::policy::document::{PolicyKind, parse_policy};

/// IAM policies by principal ARN; every principal exists (key policies may name them).
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
    fn principal_exists(&self, _: &str) -> Result<bool, KmsError> {
        Ok(true)
    }
}

const MALLORY: &str = "arn:aws:iam::111122223333:user/mallory";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";
const BOB: &str = "arn:aws:iam::111122223333:user/bob";

fn user(arn: &str) -> Caller {
    Caller::new(AccountId::parse(&arn[13..25]).unwrap(), arn)
}

fn with_directory() -> (Fixture, Arc<Directory>) {
    let f = fixture();
    let dir = Arc::new(Directory::default());
    f.kms.set_principal_directory(dir.clone());
    (f, dir)
}

fn denied<T: std::fmt::Debug>(r: Result<T, KmsError>) -> String {
    match r {
        Err(KmsError::AccessDenied(m)) => m,
        other => panic!("expected AccessDeniedException, got {other:?}"),
    }
}

fn encrypt(f: &Fixture, caller: &Caller, key: &str, c: EncryptionContext) -> Result<EncryptResponse, KmsError> {
    f.kms.encrypt(
        caller,
        EncryptRequest {
            key: key_ref(key),
            plaintext: SecretBytes::new(b"card=4111".to_vec()),
            context: c,
            algorithm: None,
        },
    )
}

fn decrypt(f: &Fixture, caller: &Caller, blob: &[u8], c: EncryptionContext) -> Result<DecryptResponse, KmsError> {
    f.kms.decrypt(caller, DecryptRequest { ciphertext: blob.to_vec(), context: c, key: None, algorithm: None })
}

/// Mallory's own key: its policy names her (and the account root), so she needs no IAM policy to use it.
fn mallory_key(f: &Fixture, mallory: &Caller) -> KeyMetadata {
    let policy = r#"{"Statement":[
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/mallory"},"Action":"kms:*","Resource":"*"}]}"#;
    f.kms.create_key(mallory, CreateKeyRequest { policy: Some(policy.into()), ..Default::default() }).unwrap()
}

// Finding 1: UpdateAlias/CreateAlias authorized only the new target key.

#[test]
fn alias_hijack_with_only_create_key_is_refused() {
    let (f, dir) = with_directory();
    let victim = f.create();
    f.kms.create_alias(&f.caller, "alias/prod-payments", &victim.arn).unwrap();
    dir.allow(MALLORY, r#"{"Statement":{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}}"#);
    let mallory = user(MALLORY);
    let mk = mallory_key(&f, &mallory);
    let alias_arn = "arn:aws:kms:us-east-1:111122223333:alias/prod-payments";

    // The review's reproduction: repointing the application's alias to her key.
    let msg = denied(f.kms.update_alias(&mallory, "alias/prod-payments", &mk.arn));
    assert_eq!(
        msg,
        format!(
            "User: {MALLORY} is not authorized to perform: kms:UpdateAlias on resource: {alias_arn} because no identity-based policy allows the kms:UpdateAlias action"
        )
    );
    // Alias squatting and deleting someone else's alias are refused the same way.
    denied(f.kms.create_alias(&mallory, "alias/future-app", &mk.arn));
    denied(f.kms.delete_alias(&mallory, "alias/prod-payments"));
    // The alias still points at the victim's key: the application's data stays out of Mallory's reach.
    let blob = encrypt(&f, &f.caller, "alias/prod-payments", ctx(&[])).unwrap();
    assert_eq!(blob.key_arn, victim.arn);
    denied(decrypt(&f, &mallory, &blob.ciphertext, ctx(&[])));
}

#[test]
fn update_alias_needs_the_current_key_too() {
    let (f, dir) = with_directory();
    let victim = f.create();
    f.kms.create_alias(&f.caller, "alias/prod-payments", &victim.arn).unwrap();
    // Rights on every alias of the account, but on no key but her own.
    dir.allow(
        MALLORY,
        r#"{"Statement":[{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"},
            {"Effect":"Allow","Action":["kms:CreateAlias","kms:UpdateAlias","kms:DeleteAlias"],
             "Resource":"arn:aws:kms:us-east-1:111122223333:alias/*"}]}"#,
    );
    let mallory = user(MALLORY);
    let mk = mallory_key(&f, &mallory);
    let msg = denied(f.kms.update_alias(&mallory, "alias/prod-payments", &mk.arn));
    assert!(msg.contains(&format!("kms:UpdateAlias on resource: {}", victim.arn)), "{msg}");
    denied(f.kms.delete_alias(&mallory, "alias/prod-payments"));
    assert_eq!(f.kms.describe_key(&f.caller, &key_ref("alias/prod-payments")).unwrap().arn, victim.arn);
    // On her own keys she may do all three.
    f.kms.create_alias(&mallory, "alias/mallory", &mk.arn).unwrap();
    let mk2 = mallory_key(&f, &mallory);
    f.kms.update_alias(&mallory, "alias/mallory", &mk2.arn).unwrap();
    f.kms.delete_alias(&mallory, "alias/mallory").unwrap();
}

#[test]
fn alias_arn_is_authorized_by_iam_and_explicit_deny_wins() {
    let (f, dir) = with_directory();
    let a = f.create();
    let b = f.create();
    f.kms.create_alias(&f.caller, "alias/app", &a.arn).unwrap();
    // kms:* on keys (through the default key policy's delegation) but a Deny on the production aliases.
    dir.allow(
        ALICE,
        r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Action":"kms:UpdateAlias","Resource":"arn:aws:kms:*:*:alias/prod-*"}]}"#,
    );
    let alice = user(ALICE);
    f.kms.update_alias(&alice, "alias/app", &b.arn).unwrap();
    f.kms.create_alias(&f.caller, "alias/prod-db", &a.arn).unwrap();
    let msg = denied(f.kms.update_alias(&alice, "alias/prod-db", &b.arn));
    assert!(msg.ends_with("with an explicit deny in an identity-based policy"), "{msg}");
    // The account root may manage every alias of its account.
    f.kms.update_alias(&f.caller, "alias/prod-db", &b.arn).unwrap();
}

#[test]
fn alias_cannot_point_at_another_accounts_key() {
    let (f, dir) = with_directory();
    let other = Caller::root(AccountId::parse("444455556666").unwrap());
    let shared = r#"{"Statement":[
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"},
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;
    let theirs =
        f.kms.create_key(&other, CreateKeyRequest { policy: Some(shared.into()), ..Default::default() }).unwrap();
    drop(dir);
    assert!(matches!(f.kms.create_alias(&f.caller, "alias/x", &theirs.arn), Err(KmsError::NotFound(_))));
}

// Finding 2: a grant allowing CreateGrant let its grantee create grants with any operations.

fn grant(ops: &[Op], grantee: &str) -> CreateGrantRequest {
    CreateGrantRequest {
        grantee_principal: grantee.into(),
        retiring_principal: None,
        operations: ops.to_vec(),
        context_subset: None,
        context_equals: None,
        name: None,
    }
}

fn pairs(p: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

#[test]
fn grant_escalation_through_a_create_grant_grant_is_refused() {
    let (f, _dir) = with_directory();
    let key = f.create();
    let k = key_ref(&key.arn);
    let secret = encrypt(&f, &f.caller, &key.arn, ctx(&[])).unwrap().ciphertext;
    f.kms.create_grant(&f.caller, &k, grant(&[Op::CreateGrant, Op::Encrypt], ALICE)).unwrap();
    let alice = user(ALICE);
    denied(decrypt(&f, &alice, &secret, ctx(&[])));
    // The review's reproduction: a Decrypt grant for herself.
    let msg = denied(f.kms.create_grant(&alice, &k, grant(&[Op::Decrypt, Op::ReEncryptFrom, Op::CreateGrant], ALICE)));
    assert!(msg.contains("kms:CreateGrant"), "{msg}");
    denied(f.kms.create_grant(&alice, &k, grant(&[Op::Decrypt], BOB)));
    denied(decrypt(&f, &alice, &secret, ctx(&[])));
    // Within the parent grant she may pass on what she has.
    f.kms.create_grant(&alice, &k, grant(&[Op::Encrypt], BOB)).unwrap();
    f.kms.create_grant(&alice, &k, grant(&[Op::Encrypt, Op::CreateGrant], BOB)).unwrap();
    // Bob's derived grant limits him in turn.
    denied(f.kms.create_grant(&user(BOB), &k, grant(&[Op::Decrypt], BOB)));
}

#[test]
fn grants_created_from_a_grant_keep_its_constraints() {
    let (f, _dir) = with_directory();
    let key = f.create();
    let k = key_ref(&key.arn);
    let alice = user(ALICE);
    let mut parent = grant(&[Op::CreateGrant, Op::Decrypt], ALICE);
    parent.context_subset = pairs(&[("tenant", "acme")]);
    f.kms.create_grant(&f.caller, &k, parent).unwrap();

    let with = |subset: Option<BTreeMap<String, String>>, equals: Option<BTreeMap<String, String>>| {
        let mut g = grant(&[Op::Decrypt], BOB);
        g.context_subset = subset;
        g.context_equals = equals;
        f.kms.create_grant(&alice, &k, g)
    };
    denied(with(None, None));
    denied(with(pairs(&[("tenant", "other")]), None));
    denied(with(pairs(&[("region", "eu")]), None));
    denied(with(None, pairs(&[("tenant", "other")])));
    with(pairs(&[("tenant", "acme")]), None).unwrap();
    with(pairs(&[("tenant", "acme"), ("region", "eu")]), None).unwrap();
    with(None, pairs(&[("tenant", "acme"), ("region", "eu")])).unwrap();

    // An EncryptionContextEquals parent admits only the same constraint.
    let mut strict = grant(&[Op::CreateGrant, Op::Decrypt], BOB);
    strict.context_equals = pairs(&[("tenant", "acme")]);
    f.kms.create_grant(&f.caller, &k, strict).unwrap();
    let bob = user(BOB);
    let mut g = grant(&[Op::Decrypt], ALICE);
    g.context_subset = pairs(&[("tenant", "acme")]);
    denied(f.kms.create_grant(&bob, &k, g.clone()));
    g.context_subset = None;
    g.context_equals = pairs(&[("tenant", "acme")]);
    f.kms.create_grant(&bob, &k, g).unwrap();
}

#[test]
fn create_grant_allowed_by_policy_is_not_limited_by_grants() {
    let (f, dir) = with_directory();
    let key = f.create();
    let k = key_ref(&key.arn);
    f.kms.create_grant(&f.caller, &k, grant(&[Op::CreateGrant], ALICE)).unwrap();
    dir.allow(ALICE, r#"{"Statement":{"Effect":"Allow","Action":"kms:CreateGrant","Resource":"*"}}"#);
    f.kms.create_grant(&user(ALICE), &k, grant(&[Op::Decrypt, Op::Encrypt], BOB)).unwrap();
}

// Finding 4: negated operators under ForAnyValue/ForAllValues.

#[test]
fn deny_unapproved_context_keys_guard_holds() {
    let (f, dir) = with_directory();
    let key = f.create();
    dir.allow(
        ALICE,
        r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
             "Condition":{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":["Department","Project"]}}}]}"#,
    );
    let alice = user(ALICE);
    denied(encrypt(&f, &alice, &key.arn, ctx(&[("Evil", "1")])));
    // The review's bypass: one approved key beside the unapproved one.
    denied(encrypt(&f, &alice, &key.arn, ctx(&[("Department", "IT"), ("Evil", "1")])));
    encrypt(&f, &alice, &key.arn, ctx(&[("Department", "IT"), ("Project", "x")])).unwrap();
    encrypt(&f, &alice, &key.arn, ctx(&[])).unwrap();
}

#[test]
fn for_all_values_string_not_like_deny_needs_every_value() {
    let (f, dir) = with_directory();
    let key = f.create();
    dir.allow(
        ALICE,
        r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Action":"kms:Encrypt","Resource":"*",
             "Condition":{"ForAllValues:StringNotLike":{"kms:EncryptionContextKeys":"tenant*"}}}]}"#,
    );
    let alice = user(ALICE);
    encrypt(&f, &alice, &key.arn, ctx(&[("tenantA", "1"), ("other", "2")])).unwrap();
    denied(encrypt(&f, &alice, &key.arn, ctx(&[("other", "2")])));
    // No context: ForAllValues over no values is true, so the Deny applies.
    denied(encrypt(&f, &alice, &key.arn, ctx(&[])));
}

// Finding 5: encryption-context keys equal but for case.

#[test]
fn case_variant_context_key_does_not_bypass_a_deny() {
    let (f, dir) = with_directory();
    let key = f.create();
    dir.allow(
        ALICE,
        r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*",
             "Condition":{"StringEquals":{"kms:EncryptionContext:Classification":"TopSecret"}}}]}"#,
    );
    let alice = user(ALICE);
    denied(encrypt(&f, &alice, &key.arn, ctx(&[("Classification", "TopSecret")])));
    // The review's bypass, both orders of insertion and spellings.
    let bypass = ctx(&[("Classification", "TopSecret"), ("classification", "x")]);
    denied(encrypt(&f, &alice, &key.arn, bypass.clone()));
    denied(encrypt(&f, &alice, &key.arn, ctx(&[("CLASSIFICATION", "x"), ("classification", "TopSecret")])));
    // And a blob made with that context by someone else cannot be opened past the Deny either.
    let blob = encrypt(&f, &f.caller, &key.arn, bypass.clone()).unwrap().ciphertext;
    denied(decrypt(&f, &alice, &blob, bypass));
    encrypt(&f, &alice, &key.arn, ctx(&[("Classification", "Public"), ("classification", "x")])).unwrap();
}

#[test]
fn case_variant_context_key_must_satisfy_an_allow_with_every_value() {
    let (f, dir) = with_directory();
    let key = f.create();
    dir.allow(
        ALICE,
        r#"{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*",
            "Condition":{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}}}"#,
    );
    let alice = user(ALICE);
    encrypt(&f, &alice, &key.arn, ctx(&[("Department", "IT")])).unwrap();
    denied(encrypt(&f, &alice, &key.arn, ctx(&[("Department", "IT"), ("department", "HR")])));
    encrypt(&f, &alice, &key.arn, ctx(&[("Department", "IT"), ("department", "IT")])).unwrap();
}

// Finding 9: ListRetirableGrants across accounts.

#[test]
fn list_retirable_grants_only_for_a_principal_of_the_callers_account() {
    let (f, dir) = with_directory();
    let key = f.create();
    let mut g = grant(&[Op::Decrypt], ALICE);
    g.retiring_principal = Some(ALICE.into());
    g.name = Some("secret-grant-name".into());
    f.kms.create_grant(&f.caller, &key_ref(&key.arn), g).unwrap();
    let page = PageRequest::default();
    assert_eq!(f.kms.list_retirable_grants(&f.caller, ALICE, &page).unwrap().items.len(), 1);
    // The review's reproduction: another account's root asks for account A's principal.
    let other = Caller::root(AccountId::parse("444455556666").unwrap());
    let msg = denied(f.kms.list_retirable_grants(&other, ALICE, &page));
    assert!(msg.contains(&format!("kms:ListRetirableGrants on resource: {ALICE}")), "{msg}");
    denied(f.kms.list_retirable_grants(&other, "111122223333", &page));
    denied(f.kms.list_retirable_grants(&other, "not-an-arn", &page));
    // An IAM user needs kms:ListRetirableGrants, with the retiring principal as the resource.
    let bob = user(BOB);
    denied(f.kms.list_retirable_grants(&bob, ALICE, &page));
    dir.allow(
        BOB,
        r#"{"Statement":{"Effect":"Allow","Action":"kms:ListRetirableGrants","Resource":"arn:aws:iam::111122223333:user/alice"}}"#,
    );
    assert_eq!(f.kms.list_retirable_grants(&bob, ALICE, &page).unwrap().items.len(), 1);
}
