#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use trent_crypto::{RootKey, SecretBytes};

use super::*;
use crate::clock::{Clock, OffsetClock};
use crate::identity::{Identities, root_arn};
use crate::service::Caller;
use crate::store::MemoryStore;

const ACCT: &str = "111122223333";

fn setup() -> (Arc<Identities>, Iam, Arc<OffsetClock>, Caller) {
    let root = RootKey::from_secret(&SecretBytes::new(vec![7; 32])).unwrap();
    let clock = Arc::new(OffsetClock::default());
    let ids = Arc::new(Identities::new(Arc::new(MemoryStore::new()), Arc::new(root), clock.clone()));
    let account = AccountId::parse(ACCT).unwrap();
    let caller = Caller::new(account.clone(), root_arn(&account));
    (ids.clone(), Iam::new(ids), clock, caller)
}

fn as_caller(ids: &Identities, akid: &str) -> Caller {
    ids.access_key(akid).unwrap().unwrap().caller.clone()
}

#[test]
fn users_keys_and_policies() {
    let (ids, iam, _, root) = setup();
    let u = iam.create_user(&root, "alice", Some("/eng/"), vec![("team".into(), "a".into())]).unwrap();
    assert_eq!(u.arn, "arn:aws:iam::111122223333:user/eng/alice");
    // IAM's unique id shape: AIDA and 17 characters of the uppercase base32 alphabet.
    assert!(u.id.starts_with("AIDA") && u.id.len() == 21, "{}", u.id);
    assert!(u.id.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "{}", u.id);
    assert!(matches!(iam.create_user(&root, "ALICE", None, vec![]), Err(IamError::EntityAlreadyExists(_))));
    assert!(matches!(iam.get_user(&root, Some("bob")), Err(IamError::NoSuchEntity(_))));
    assert!(matches!(iam.create_user(&root, "bad name", None, vec![]), Err(IamError::Validation(_))));

    let (_, k1, secret) = iam.create_access_key(&root, Some("alice")).unwrap();
    assert!(k1.access_key_id.starts_with("AKIA"));
    let found = ids.access_key(&k1.access_key_id).unwrap().unwrap();
    assert_eq!(found.caller.principal_arn, u.arn);
    assert_eq!(found.secret.expose_secret(), secret.expose_secret());
    iam.create_access_key(&root, Some("alice")).unwrap();
    assert!(matches!(iam.create_access_key(&root, Some("alice")), Err(IamError::LimitExceeded(_))));

    iam.update_access_key(&root, Some("alice"), &k1.access_key_id, false).unwrap();
    assert!(ids.access_key(&k1.access_key_id).unwrap().is_none(), "inactive keys are not found");
    iam.update_access_key(&root, Some("alice"), &k1.access_key_id, true).unwrap();
    assert!(ids.access_key(&k1.access_key_id).unwrap().is_some());

    assert!(matches!(
        iam.put_user_policy(
            &root,
            "alice",
            "p",
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}"#
        ),
        Err(IamError::MalformedPolicyDocument(_))
    ));
    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}}"#;
    assert!(ids.identity_policies(&u.arn).unwrap().is_empty());
    iam.put_user_policy(&root, "alice", "read", doc).unwrap();
    assert_eq!(ids.identity_policies(&u.arn).unwrap().len(), 1, "cache invalidated on put");
    assert_eq!(iam.get_user_policy(&root, "alice", "read").unwrap().1, doc);
    assert_eq!(iam.list_user_policies(&root, "alice").unwrap(), vec!["read".to_owned()]);
    assert_eq!(ids.principal_tags(&u.arn).unwrap().get("team").map(String::as_str), Some("a"));

    // The user may GetUser (policy) but not CreateUser.
    let alice = as_caller(&ids, &k1.access_key_id);
    assert_eq!(iam.get_user(&alice, None).unwrap().name, "alice");
    assert!(matches!(iam.create_user(&alice, "mallory", None, vec![]), Err(IamError::AccessDenied(_))));

    assert!(matches!(iam.delete_user(&root, "alice"), Err(IamError::DeleteConflict(_))));
    for k in iam.list_access_keys(&root, Some("alice")).unwrap().1 {
        iam.delete_access_key(&root, Some("alice"), &k.access_key_id).unwrap();
    }
    assert!(ids.access_key(&k1.access_key_id).unwrap().is_none(), "deleted keys are forgotten");
    assert!(matches!(iam.delete_user(&root, "alice"), Err(IamError::DeleteConflict(_))));
    iam.delete_user_policy(&root, "alice", "read").unwrap();
    assert!(ids.identity_policies(&u.arn).unwrap().is_empty());
    iam.delete_user(&root, "alice").unwrap();
    assert!(iam.list_users(&root, None).unwrap().is_empty());
}

#[test]
fn assume_role_needs_trust_and_identity_policy_and_expires() {
    let (ids, iam, clock, root) = setup();
    iam.create_user(&root, "alice", None, vec![]).unwrap();
    let (_, key, _) = iam.create_access_key(&root, Some("alice")).unwrap();
    let alice = as_caller(&ids, &key.access_key_id);
    let trust = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}}"#;
    let role = iam.create_role(&root, "App", None, trust, None, None, vec![]).unwrap();
    assert!(matches!(
        iam.create_role(
            &root,
            "Bad",
            None,
            r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
            None,
            None,
            vec![]
        ),
        Err(IamError::MalformedPolicyDocument(_))
    ));

    assert!(matches!(iam.assume_role(&alice, &role.arn, "s1", None), Err(IamError::AccessDenied(_))));
    iam.put_user_policy(
        &root,
        "alice",
        "assume",
        r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/App"}}"#,
    )
    .unwrap();
    assert!(matches!(iam.assume_role(&alice, &role.arn, "s1", Some(899)), Err(IamError::Validation(_))));
    assert!(matches!(iam.assume_role(&alice, &role.arn, "s1", Some(7200)), Err(IamError::Validation(_))));
    let other = "arn:aws:iam::111122223333:role/Nope";
    assert!(matches!(iam.assume_role(&alice, other, "s1", None), Err(IamError::AccessDenied(_))));

    let s = iam.assume_role(&alice, &role.arn, "s1", Some(900)).unwrap();
    assert_eq!(s.arn, "arn:aws:sts::111122223333:assumed-role/App/s1");
    assert!(s.credentials.access_key_id.starts_with("ASIA"));
    let c = &s.credentials;
    let active = ids.session(&c.access_key_id, &c.session_token).unwrap();
    assert_eq!(active.caller.principal_arn, s.arn);
    assert_eq!(active.secret.expose_secret(), c.secret.expose_secret());
    let who = iam.get_caller_identity(&active.caller).unwrap();
    assert_eq!(who.user_id, s.assumed_role_id);
    assert!(matches!(ids.session(&c.access_key_id, "00ff"), Err(IamError::InvalidClientTokenId)));
    assert!(matches!(ids.session("ASIAAAAAAAAAAAAAAAAA", &c.session_token), Err(IamError::InvalidClientTokenId)));

    // Role tags and policies reach the session.
    iam.tag_role(&root, "App", vec![("env".into(), "prod".into())]).unwrap();
    assert_eq!(ids.principal_tags(&s.arn).unwrap().get("env").map(String::as_str), Some("prod"));
    assert!(matches!(iam.tag_role(&root, "App", vec![("aws:x".into(), "y".into())]), Err(IamError::Validation(_))));
    iam.put_role_policy(&root, "App", "kms", r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#)
        .unwrap();
    assert_eq!(ids.identity_policies(&s.arn).unwrap().len(), 1);
    assert!(matches!(iam.delete_role(&root, "App"), Err(IamError::DeleteConflict(_))));

    clock.set_offset_ms(901_000);
    assert!(clock.now().0 >= c.expires.0);
    assert!(matches!(ids.session(&c.access_key_id, &c.session_token), Err(IamError::ExpiredToken)));

    // Root skips the identity check.
    let root_trust = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#;
    let r2 = iam.create_role(&root, "Admin", None, root_trust, None, Some(7200), vec![]).unwrap();
    assert!(iam.assume_role(&root, &r2.arn, "root-session", Some(7200)).is_ok());
}

/// Security review finding 12: a session is bound to the role's unique id. Deleting the role ends it; a role
/// created again under the same name (with more rights and a trust policy that names someone else) gives
/// the old session nothing.
#[test]
fn sessions_die_with_their_role_and_do_not_inherit_a_recreated_one() {
    let (ids, iam, _, root) = setup();
    let trust = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}}"#;
    let role = iam.create_role(&root, "app", Some("/team/"), trust, None, None, vec![]).unwrap();
    assert!(role.id.starts_with("AROA") && role.id.len() == 21, "{}", role.id);
    iam.put_role_policy(
        &root,
        "app",
        "list",
        r#"{"Statement":{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}}"#,
    )
    .unwrap();
    let s1 = iam.assume_role(&root, &role.arn, "s1", None).unwrap();
    assert_eq!(s1.assumed_role_id, format!("{}:s1", role.id));
    let c = &s1.credentials;
    let active = ids.session(&c.access_key_id, &c.session_token).unwrap();
    let who = iam.get_caller_identity(&active.caller).unwrap();
    assert_eq!(who.user_id, format!("{}:s1", role.id));
    assert_eq!(
        active.caller.identity.as_deref(),
        Some(&crate::identity::PrincipalIdentity::Session {
            role_id: role.id.clone(),
            role_arn: "arn:aws:iam::111122223333:role/team/app".into(),
            issued: c.issued,
        })
    );

    iam.delete_role_policy(&root, "app", "list").unwrap();
    iam.delete_role(&root, "app").unwrap();
    assert!(matches!(ids.session(&c.access_key_id, &c.session_token), Err(IamError::InvalidClientTokenId)));

    let nobody = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/nobody"},"Action":"sts:AssumeRole"}}"#;
    let again = iam.create_role(&root, "app", None, nobody, None, None, vec![]).unwrap();
    assert_ne!(again.id, role.id);
    iam.put_role_policy(&root, "app", "all", r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#)
        .unwrap();
    // The cached session and a fresh open of the same token are both refused.
    assert!(matches!(ids.session(&c.access_key_id, &c.session_token), Err(IamError::InvalidClientTokenId)));
    let fresh = Identities::new(
        Arc::new(MemoryStore::new()),
        Arc::new(RootKey::from_secret(&SecretBytes::new(vec![7; 32])).unwrap()),
        Arc::new(OffsetClock::default()),
    )
    .with_iam_store(ids.iam_store().clone());
    assert!(matches!(fresh.session(&c.access_key_id, &c.session_token), Err(IamError::InvalidClientTokenId)));
    // A session of the new role works.
    let root_trust = trust;
    iam.update_assume_role_policy(&root, "app", root_trust).unwrap();
    let s2 = iam.assume_role(&root, &again.arn, "s1", None).unwrap();
    assert!(ids.session(&s2.credentials.access_key_id, &s2.credentials.session_token).is_ok());
}

#[test]
fn principal_refs() {
    let a = AccountId::parse(ACCT).unwrap();
    assert_eq!(
        PrincipalRef::parse("arn:aws:iam::111122223333:user/x/y/bob"),
        Some(PrincipalRef::User(a.clone(), "bob".into()))
    );
    assert_eq!(
        PrincipalRef::parse("arn:aws:sts::111122223333:assumed-role/R/s"),
        Some(PrincipalRef::Session(a.clone(), "R".into(), "s".into()))
    );
    assert_eq!(PrincipalRef::parse("arn:aws:iam::111122223333:root"), Some(PrincipalRef::Root(a)));
    assert_eq!(PrincipalRef::parse("arn:aws:kms:us-east-1:111122223333:key/x"), None);
}
