//! Every implemented operation through the SDK, on the shared server: the success paths and the state
//! changes they make.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::operation::describe_key::DescribeKeyError;
use aws_sdk_kms::operation::encrypt::EncryptError;
use aws_sdk_kms::types::{
    DataKeySpec, EncryptionAlgorithmSpec, KeyManagerType, KeySpec, KeyState, KeyUsageType, OriginType,
};

use crate::{ACCOUNT, alias_arn, blob, client, key_arn, new_alias, new_key, new_key_id, server, tag};
use crate::{expect_err, ok};

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn trent_env_points_at_the_server() {
    let s = server::shared();
    assert_eq!(s.env.region, "us-east-1");
    assert_eq!(s.env.default_region, "us-east-1");
    assert!(s.env.endpoint_url.starts_with("https://127.0.0.1:"), "{}", s.env.endpoint_url);
    assert!(s.env.ca_bundle.is_absolute(), "AWS_CA_BUNDLE is canonical: {}", s.env.ca_bundle.display());
    assert_eq!(s.env.ca_bundle, std::fs::canonicalize(s.data_dir.join("tls/ca.pem")).unwrap());
    assert!(String::from_utf8_lossy(s.ca_pem()).contains("-----BEGIN CERTIFICATE-----"));
    assert!(!s.env.access_key_id.is_empty() && !s.env.secret_access_key.is_empty());
    assert_ne!(s.env.access_key_id, s.env.secret_access_key);
}

#[tokio::test]
async fn create_and_describe_key_in_every_key_id_form() {
    let c = client();
    let before = now_secs();
    let created = new_key(&c, "first description").await;
    let id = created.key_id().to_owned();
    assert_eq!(id.len(), 36, "a bare UUID: {id}");
    assert_eq!(created.arn(), Some(key_arn(&id).as_str()));
    assert_eq!(created.aws_account_id(), Some(ACCOUNT));
    assert_eq!(created.description(), Some("first description"));
    assert!(created.enabled());
    assert_eq!(created.key_state(), Some(&KeyState::Enabled));
    assert_eq!(created.key_usage(), Some(&KeyUsageType::EncryptDecrypt));
    assert_eq!(created.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(created.origin(), Some(&OriginType::AwsKms));
    assert_eq!(created.key_manager(), Some(&KeyManagerType::Customer));
    assert_eq!(created.encryption_algorithms(), &[EncryptionAlgorithmSpec::SymmetricDefault]);
    assert_eq!(created.multi_region(), Some(false));
    assert!(created.deletion_date().is_none());
    assert!(created.current_key_material_id().is_some());
    let created_at = created.creation_date().expect("CreationDate").secs();
    assert!((before - 5..=now_secs() + 5).contains(&created_at), "CreationDate {created_at} is now");

    let alias = new_alias();
    ok!(c.create_alias().alias_name(&alias).target_key_id(&id).send());
    for form in [id.clone(), key_arn(&id), alias.clone(), alias_arn(&alias)] {
        let d = ok!(c.describe_key().key_id(&form).send());
        let m = d.key_metadata().unwrap();
        assert_eq!(m.key_id(), id, "DescribeKey by {form}");
        assert_eq!(m.arn(), created.arn());
        assert_eq!(m.creation_date(), created.creation_date());
    }

    ok!(c.update_key_description().key_id(&id).description("second description").send());
    let d = ok!(c.describe_key().key_id(&id).send());
    assert_eq!(d.key_metadata().unwrap().description(), Some("second description"));
    // An empty description is allowed (0..=8192).
    ok!(c.update_key_description().key_id(key_arn(&id)).description("").send());
    let d = ok!(c.describe_key().key_id(&id).send());
    assert_eq!(d.key_metadata().unwrap().description(), Some(""));
}

#[tokio::test]
async fn create_key_with_tags_and_explicit_defaults() {
    let c = client();
    let out = ok!(c
        .create_key()
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .origin(OriginType::AwsKms)
        .tags(tag("team", "crypto"))
        .tags(tag("env", "test"))
        .send());
    let m = out.key_metadata().unwrap();
    assert_eq!(m.description(), Some(""), "Description is always present");
    let tags = ok!(c.list_resource_tags().key_id(m.key_id()).send());
    let got: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.tag_key(), t.tag_value())).collect();
    assert_eq!(got, [("env", "test"), ("team", "crypto")]);
    assert!(!tags.truncated());
}

#[tokio::test]
async fn list_keys_pages_with_limit_and_marker() {
    let c = client();
    let mut mine = HashSet::new();
    for _ in 0..3 {
        mine.insert(new_key_id(&c).await);
    }
    // By hand: limit 1, following NextMarker.
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = ok!(c.list_keys().limit(1).set_marker(marker.clone()).send());
        pages += 1;
        assert!(out.keys().len() <= 1, "limit 1 gives at most one key");
        for k in out.keys() {
            let id = k.key_id().unwrap().to_owned();
            assert_eq!(k.key_arn(), Some(key_arn(&id).as_str()));
            seen.push(id);
        }
        assert_eq!(out.truncated(), out.next_marker().is_some(), "Truncated iff NextMarker");
        match out.next_marker() {
            Some(m) => marker = Some(m.to_owned()),
            None => break,
        }
        assert!(pages < 10_000, "pagination does not end");
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no key is listed twice");
    assert!(mine.is_subset(&unique), "every new key is listed");
    assert!(pages >= 3);

    // The SDK's own paginator agrees with one big page.
    let all: Vec<_> =
        c.list_keys().limit(2).into_paginator().items().send().collect::<Result<Vec<_>, _>>().await.unwrap();
    let big = ok!(c.list_keys().limit(1000).send());
    assert!(all.len() >= mine.len());
    let from_paginator: HashSet<_> = all.iter().map(|k| k.key_id().unwrap().to_owned()).collect();
    assert!(mine.is_subset(&from_paginator));
    if !big.truncated() {
        let from_big: HashSet<_> = big.keys().iter().map(|k| k.key_id().unwrap().to_owned()).collect();
        assert!(mine.is_subset(&from_big));
    }
}

#[tokio::test]
async fn encrypt_and_decrypt_with_and_without_context() {
    let c = client();
    let id = new_key_id(&c).await;
    let alias = new_alias();
    ok!(c.create_alias().alias_name(&alias).target_key_id(&id).send());

    for plaintext in [vec![0u8], b"hello trent".to_vec(), vec![0xa5; 4096]] {
        // Without context, by alias.
        let enc = ok!(c.encrypt().key_id(&alias).plaintext(blob(plaintext.clone())).send());
        assert_eq!(enc.key_id(), Some(key_arn(&id).as_str()));
        assert_eq!(enc.encryption_algorithm(), Some(&EncryptionAlgorithmSpec::SymmetricDefault));
        let ct = enc.ciphertext_blob().unwrap().clone();
        assert_ne!(ct.as_ref(), plaintext.as_slice());
        let dec = ok!(c.decrypt().ciphertext_blob(ct.clone()).send());
        assert_eq!(dec.plaintext().unwrap().as_ref(), plaintext.as_slice());
        assert_eq!(dec.key_id(), Some(key_arn(&id).as_str()));
        assert_eq!(dec.encryption_algorithm(), Some(&EncryptionAlgorithmSpec::SymmetricDefault));
        assert!(dec.key_material_id().is_some());
        // Decrypt naming the key, in each form.
        for form in [id.clone(), key_arn(&id), alias.clone(), alias_arn(&alias)] {
            let dec = ok!(c
                .decrypt()
                .key_id(&form)
                .encryption_algorithm(EncryptionAlgorithmSpec::SymmetricDefault)
                .ciphertext_blob(ct.clone())
                .send());
            assert_eq!(dec.plaintext().unwrap().as_ref(), plaintext.as_slice(), "Decrypt with KeyId {form}");
        }
    }

    // With context: the same context (in any order) decrypts; a different one does not.
    let enc = ok!(c
        .encrypt()
        .key_id(&id)
        .plaintext(blob("secret"))
        .encryption_context("purpose", "test")
        .encryption_context("tenant", "42")
        .send());
    let ct = enc.ciphertext_blob().unwrap().clone();
    let dec = ok!(c
        .decrypt()
        .ciphertext_blob(ct.clone())
        .encryption_context("tenant", "42")
        .encryption_context("purpose", "test")
        .send());
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"secret");
    expect_err!(c.decrypt().ciphertext_blob(ct.clone()).send(), DecryptError::InvalidCiphertextException(_) => ());

    // Two encryptions of the same plaintext differ (random IV).
    let a = ok!(c.encrypt().key_id(&id).plaintext(blob("same")).send());
    let b = ok!(c.encrypt().key_id(&id).plaintext(blob("same")).send());
    assert_ne!(a.ciphertext_blob(), b.ciphertext_blob());
}

#[tokio::test]
async fn re_encrypt_to_another_key_and_context() {
    let c = client();
    let src = new_key_id(&c).await;
    let dst = new_key_id(&c).await;
    let enc = ok!(c.encrypt().key_id(&src).plaintext(blob("move me")).encryption_context("stage", "one").send());
    let ct = enc.ciphertext_blob().unwrap().clone();

    let re = ok!(c
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .source_encryption_context("stage", "one")
        .source_key_id(&src)
        .destination_key_id(&dst)
        .destination_encryption_context("stage", "two")
        .send());
    assert_eq!(re.source_key_id(), Some(key_arn(&src).as_str()));
    assert_eq!(re.key_id(), Some(key_arn(&dst).as_str()));
    assert_eq!(re.source_encryption_algorithm(), Some(&EncryptionAlgorithmSpec::SymmetricDefault));
    assert_eq!(re.destination_encryption_algorithm(), Some(&EncryptionAlgorithmSpec::SymmetricDefault));
    let new_ct = re.ciphertext_blob().unwrap().clone();
    assert_ne!(new_ct, ct);

    let dec = ok!(c.decrypt().ciphertext_blob(new_ct.clone()).encryption_context("stage", "two").send());
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"move me");
    assert_eq!(dec.key_id(), Some(key_arn(&dst).as_str()));
    expect_err!(
        c.decrypt().ciphertext_blob(new_ct.clone()).encryption_context("stage", "one").send(),
        DecryptError::InvalidCiphertextException(_) => ()
    );
    expect_err!(
        c.decrypt().ciphertext_blob(new_ct).key_id(&src).encryption_context("stage", "two").send(),
        DecryptError::IncorrectKeyException(_) => ()
    );

    // Without the source context ReEncrypt cannot open the blob.
    expect_err!(
        c.re_encrypt().ciphertext_blob(ct.clone()).destination_key_id(&dst).send(),
        aws_sdk_kms::operation::re_encrypt::ReEncryptError::InvalidCiphertextException(_) => ()
    );
    // Re-encrypting under the same key (no context on the destination) also works.
    let same = ok!(c
        .re_encrypt()
        .ciphertext_blob(ct)
        .source_encryption_context("stage", "one")
        .destination_key_id(key_arn(&src))
        .send());
    assert_eq!(same.key_id(), Some(key_arn(&src).as_str()));
    let dec = ok!(c.decrypt().ciphertext_blob(same.ciphertext_blob().unwrap().clone()).send());
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"move me");
}

#[tokio::test]
async fn generate_data_keys_of_every_size() {
    let c = client();
    let id = new_key_id(&c).await;
    let cases: [(Option<DataKeySpec>, Option<i32>, usize); 6] = [
        (Some(DataKeySpec::Aes256), None, 32),
        (Some(DataKeySpec::Aes128), None, 16),
        (None, Some(1), 1),
        (None, Some(64), 64),
        (None, Some(512), 512),
        (None, Some(1024), 1024),
    ];
    for (spec, n, len) in cases {
        let out = ok!(c
            .generate_data_key()
            .key_id(&id)
            .set_key_spec(spec.clone())
            .set_number_of_bytes(n)
            .encryption_context("file", "a.txt")
            .send());
        let pt = out.plaintext().unwrap().as_ref().to_vec();
        assert_eq!(pt.len(), len, "{spec:?} {n:?}");
        assert_eq!(out.key_id(), Some(key_arn(&id).as_str()));
        assert!(out.key_material_id().is_some());
        let dec = ok!(c
            .decrypt()
            .ciphertext_blob(out.ciphertext_blob().unwrap().clone())
            .encryption_context("file", "a.txt")
            .send());
        assert_eq!(dec.plaintext().unwrap().as_ref(), pt.as_slice(), "the blob holds the data key");

        let without = ok!(c
            .generate_data_key_without_plaintext()
            .key_id(&id)
            .set_key_spec(spec.clone())
            .set_number_of_bytes(n)
            .send());
        assert!(without.ciphertext_blob().is_some());
        assert_eq!(without.key_id(), Some(key_arn(&id).as_str()));
        let dec = ok!(c.decrypt().ciphertext_blob(without.ciphertext_blob().unwrap().clone()).send());
        assert_eq!(dec.plaintext().unwrap().as_ref().len(), len);
    }
    let a = ok!(c.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).send());
    let b = ok!(c.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).send());
    assert_ne!(a.plaintext(), b.plaintext(), "data keys are random");
}

#[tokio::test]
async fn generate_random_sizes() {
    let c = client();
    for n in [1, 16, 32, 255, 1024] {
        let out = ok!(c.generate_random().number_of_bytes(n).send());
        assert_eq!(out.plaintext().unwrap().as_ref().len(), n as usize);
        assert!(out.ciphertext_for_recipient().is_none());
    }
    let a = ok!(c.generate_random().number_of_bytes(32).send());
    let b = ok!(c.generate_random().number_of_bytes(32).send());
    assert_ne!(a.plaintext(), b.plaintext());
}

#[tokio::test]
async fn disable_and_enable_key() {
    let c = client();
    let id = new_key_id(&c).await;
    let arn = key_arn(&id);
    let ct = ok!(c.encrypt().key_id(&id).plaintext(blob("x")).send()).ciphertext_blob().unwrap().clone();

    ok!(c.disable_key().key_id(&id).send());
    let m = ok!(c.describe_key().key_id(&id).send()).key_metadata().unwrap().clone();
    assert_eq!(m.key_state(), Some(&KeyState::Disabled));
    assert!(!m.enabled());
    let msg = format!("{arn} is disabled.");
    expect_err!(
        c.encrypt().key_id(&id).plaintext(blob("x")).send(),
        EncryptError::DisabledException(e) => assert_eq!(e.message(), Some(msg.as_str()))
    );
    expect_err!(
        c.decrypt().ciphertext_blob(ct.clone()).send(),
        DecryptError::DisabledException(e) => assert_eq!(e.message(), Some(msg.as_str()))
    );
    expect_err!(
        c.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).send(),
        aws_sdk_kms::operation::generate_data_key::GenerateDataKeyError::DisabledException(e) =>
            assert_eq!(e.message(), Some(msg.as_str()))
    );
    // Disabling twice is fine; management operations still work on a disabled key.
    ok!(c.disable_key().key_id(&arn).send());
    ok!(c.update_key_description().key_id(&id).description("still manageable").send());
    ok!(c.tag_resource().key_id(&id).tags(tag("k", "v")).send());

    ok!(c.enable_key().key_id(&arn).send());
    let m = ok!(c.describe_key().key_id(&id).send()).key_metadata().unwrap().clone();
    assert_eq!(m.key_state(), Some(&KeyState::Enabled));
    assert!(m.enabled());
    let dec = ok!(c.decrypt().ciphertext_blob(ct).send());
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"x");
    ok!(c.enable_key().key_id(&id).send());
}

#[tokio::test]
async fn schedule_and_cancel_key_deletion() {
    use aws_sdk_kms::operation::cancel_key_deletion::CancelKeyDeletionError;
    use aws_sdk_kms::operation::enable_key::EnableKeyError;
    use aws_sdk_kms::operation::schedule_key_deletion::ScheduleKeyDeletionError;

    let c = client();
    let id = new_key_id(&c).await;
    let arn = key_arn(&id);
    let ct = ok!(c.encrypt().key_id(&id).plaintext(blob("x")).send()).ciphertext_blob().unwrap().clone();

    let before = now_secs();
    let out = ok!(c.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send());
    assert_eq!(out.key_id(), Some(arn.as_str()));
    assert_eq!(out.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(out.pending_window_in_days(), Some(7));
    let when = out.deletion_date().expect("DeletionDate").secs();
    let week = 7 * 86_400;
    assert!((before + week - 5..=now_secs() + week + 5).contains(&when), "deletion in 7 days: {when}");

    let m = ok!(c.describe_key().key_id(&id).send()).key_metadata().unwrap().clone();
    assert_eq!(m.key_state(), Some(&KeyState::PendingDeletion));
    assert!(!m.enabled());
    assert_eq!(m.deletion_date().map(|d| d.secs()), Some(when));

    let pending = format!("{arn} is pending deletion.");
    expect_err!(
        c.encrypt().key_id(&id).plaintext(blob("x")).send(),
        EncryptError::KmsInvalidStateException(e) => assert_eq!(e.message(), Some(pending.as_str()))
    );
    expect_err!(
        c.decrypt().ciphertext_blob(ct.clone()).send(),
        DecryptError::KmsInvalidStateException(e) => assert_eq!(e.message(), Some(pending.as_str()))
    );
    expect_err!(
        c.schedule_key_deletion().key_id(&id).send(),
        ScheduleKeyDeletionError::KmsInvalidStateException(e) => assert_eq!(e.message(), Some(pending.as_str()))
    );
    expect_err!(
        c.enable_key().key_id(&id).send(),
        EnableKeyError::KmsInvalidStateException(e) => assert_eq!(e.message(), Some(pending.as_str()))
    );
    expect_err!(
        c.create_alias().alias_name(new_alias()).target_key_id(&id).send(),
        aws_sdk_kms::operation::create_alias::CreateAliasError::KmsInvalidStateException(e) =>
            assert_eq!(e.message(), Some(pending.as_str()))
    );
    expect_err!(
        c.tag_resource().key_id(&id).tags(tag("a", "b")).send(),
        aws_sdk_kms::operation::tag_resource::TagResourceError::KmsInvalidStateException(e) =>
            assert_eq!(e.message(), Some(pending.as_str()))
    );
    // The key policy may still be read and replaced while pending deletion.
    ok!(c.get_key_policy().key_id(&id).send());

    let cancelled = ok!(c.cancel_key_deletion().key_id(&arn).send());
    assert_eq!(cancelled.key_id(), Some(arn.as_str()));
    let m = ok!(c.describe_key().key_id(&id).send()).key_metadata().unwrap().clone();
    assert_eq!(m.key_state(), Some(&KeyState::Disabled), "a cancelled key comes back disabled");
    assert!(!m.enabled());
    assert!(m.deletion_date().is_none());
    expect_err!(
        c.cancel_key_deletion().key_id(&id).send(),
        CancelKeyDeletionError::KmsInvalidStateException(e) =>
            assert_eq!(e.message(), Some(format!("{arn} is not pending deletion.").as_str()))
    );
    ok!(c.enable_key().key_id(&id).send());
    let dec = ok!(c.decrypt().ciphertext_blob(ct).send());
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"x");

    // The default window is 30 days.
    let out = ok!(c.schedule_key_deletion().key_id(&id).send());
    assert_eq!(out.pending_window_in_days(), Some(30));
    ok!(c.cancel_key_deletion().key_id(&id).send());
}

#[tokio::test]
async fn aliases_create_update_list_delete() {
    use aws_sdk_kms::operation::create_alias::CreateAliasError;
    use aws_sdk_kms::operation::delete_alias::DeleteAliasError;

    let c = client();
    let k1 = new_key_id(&c).await;
    let k2 = new_key_id(&c).await;
    let alias = new_alias();
    let before = now_secs();
    ok!(c.create_alias().alias_name(&alias).target_key_id(&k1).send());

    let listed = ok!(c.list_aliases().key_id(&k1).send());
    assert!(!listed.truncated());
    assert_eq!(listed.aliases().len(), 1);
    let a = &listed.aliases()[0];
    assert_eq!(a.alias_name(), Some(alias.as_str()));
    assert_eq!(a.alias_arn(), Some(alias_arn(&alias).as_str()));
    assert_eq!(a.target_key_id(), Some(k1.as_str()));
    let created = a.creation_date().unwrap().secs();
    assert!((before - 5..=now_secs() + 5).contains(&created));
    assert!(a.last_updated_date().is_some());

    expect_err!(
        c.create_alias().alias_name(&alias).target_key_id(&k2).send(),
        CreateAliasError::AlreadyExistsException(e) => assert_eq!(
            e.message(),
            Some(format!("An alias with the name {} already exists", alias_arn(&alias)).as_str())
        )
    );

    ok!(c.update_alias().alias_name(&alias).target_key_id(key_arn(&k2)).send());
    let d = ok!(c.describe_key().key_id(&alias).send());
    assert_eq!(d.key_metadata().unwrap().key_id(), k2);
    assert!(ok!(c.list_aliases().key_id(&k1).send()).aliases().is_empty());
    let on_k2 = ok!(c.list_aliases().key_id(key_arn(&k2)).send());
    assert_eq!(on_k2.aliases().len(), 1);
    assert_eq!(on_k2.aliases()[0].target_key_id(), Some(k2.as_str()));

    // Encrypt through the alias now uses k2.
    let enc = ok!(c.encrypt().key_id(&alias).plaintext(blob("x")).send());
    assert_eq!(enc.key_id(), Some(key_arn(&k2).as_str()));

    ok!(c.delete_alias().alias_name(&alias).send());
    let not_found = format!("Alias {} is not found.", alias_arn(&alias));
    expect_err!(
        c.describe_key().key_id(&alias).send(),
        DescribeKeyError::NotFoundException(e) => assert_eq!(e.message(), Some(not_found.as_str()))
    );
    expect_err!(
        c.delete_alias().alias_name(&alias).send(),
        DeleteAliasError::NotFoundException(e) => assert_eq!(e.message(), Some(not_found.as_str()))
    );
    // The name is free again.
    ok!(c.create_alias().alias_name(&alias).target_key_id(&k1).send());
    ok!(c.delete_alias().alias_name(&alias).send());
}

#[tokio::test]
async fn list_aliases_pages_with_limit_and_marker() {
    let c = client();
    let id = new_key_id(&c).await;
    let prefix = new_alias();
    let mut names: Vec<String> = (0..5).map(|i| format!("{prefix}-{i}")).collect();
    for n in &names {
        ok!(c.create_alias().alias_name(n).target_key_id(&id).send());
    }
    names.sort();

    let mut got = Vec::new();
    let mut marker: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let out = ok!(c.list_aliases().key_id(&id).limit(2).set_marker(marker.clone()).send());
        sizes.push(out.aliases().len());
        got.extend(out.aliases().iter().map(|a| a.alias_name().unwrap().to_owned()));
        assert_eq!(out.truncated(), out.next_marker().is_some());
        match out.next_marker() {
            Some(m) => marker = Some(m.to_owned()),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(got, names, "every alias once, in name order");

    // Unfiltered, through the SDK paginator: our aliases are all there.
    let all: Vec<_> =
        c.list_aliases().limit(3).into_paginator().items().send().collect::<Result<Vec<_>, _>>().await.unwrap();
    let all: HashSet<_> = all.iter().filter_map(|a| a.alias_name().map(str::to_owned)).collect();
    assert!(names.iter().all(|n| all.contains(n)));
}

#[tokio::test]
async fn tags_add_replace_remove_and_page() {
    let c = client();
    let id = new_key_id(&c).await;
    ok!(c.tag_resource().key_id(&id).tags(tag("b", "2")).tags(tag("a", "1")).tags(tag("c", "3")).send());
    // A tag with an existing key replaces its value.
    ok!(c.tag_resource().key_id(key_arn(&id)).tags(tag("a", "one")).tags(tag("d", "")).send());

    let all = ok!(c.list_resource_tags().key_id(&id).send());
    let got: Vec<(&str, &str)> = all.tags().iter().map(|t| (t.tag_key(), t.tag_value())).collect();
    assert_eq!(got, [("a", "one"), ("b", "2"), ("c", "3"), ("d", "")]);
    assert!(!all.truncated());
    assert!(all.next_marker().is_none());

    // Pages of 3 then 1.
    let p1 = ok!(c.list_resource_tags().key_id(&id).limit(3).send());
    assert_eq!(p1.tags().len(), 3);
    assert!(p1.truncated());
    let m = p1.next_marker().expect("NextMarker when truncated").to_owned();
    let p2 = ok!(c.list_resource_tags().key_id(&id).limit(3).marker(m).send());
    let keys: Vec<_> = p2.tags().iter().map(|t| t.tag_key()).collect();
    assert_eq!(keys, ["d"]);
    assert!(!p2.truncated());
    assert!(p2.next_marker().is_none());
    // The SDK paginator collects the same list.
    let paged: Vec<_> = c
        .list_resource_tags()
        .key_id(&id)
        .limit(1)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(paged.len(), 4, "four pages of one");
    let keys: Vec<String> = paged.iter().flat_map(|p| p.tags().iter().map(|t| t.tag_key().to_owned())).collect();
    assert_eq!(keys, ["a", "b", "c", "d"]);

    ok!(c.untag_resource().key_id(&id).tag_keys("a").tag_keys("c").tag_keys("not-there").send());
    let left = ok!(c.list_resource_tags().key_id(&id).send());
    let keys: Vec<_> = left.tags().iter().map(|t| t.tag_key()).collect();
    assert_eq!(keys, ["b", "d"]);
    ok!(c.untag_resource().key_id(&id).tag_keys("b").tag_keys("d").send());
    assert!(ok!(c.list_resource_tags().key_id(&id).send()).tags().is_empty());
}

#[tokio::test]
async fn key_policy_get_put_list() {
    let c = client();
    let id = new_key_id(&c).await;
    let got = ok!(c.get_key_policy().key_id(&id).send());
    let expected_default = format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{ACCOUNT}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    );
    assert_eq!(got.policy(), Some(expected_default.as_str()));
    assert_eq!(got.policy_name(), Some("default"));
    let named = ok!(c.get_key_policy().key_id(key_arn(&id)).policy_name("default").send());
    assert_eq!(named.policy(), got.policy());

    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"root","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    ok!(c.put_key_policy().key_id(&id).policy_name("default").policy(&policy).send());
    let got = ok!(c.get_key_policy().key_id(&id).send());
    assert_eq!(got.policy(), Some(policy.as_str()), "the policy comes back as stored");
    // PolicyName is optional on PutKeyPolicy in the current model.
    ok!(c.put_key_policy().key_id(&id).policy(&expected_default).send());
    assert_eq!(ok!(c.get_key_policy().key_id(&id).send()).policy(), Some(expected_default.as_str()));

    let names = ok!(c.list_key_policies().key_id(&id).send());
    assert_eq!(names.policy_names(), ["default"]);
    assert!(!names.truncated());
    let names = ok!(c.list_key_policies().key_id(&id).limit(1).send());
    assert_eq!(names.policy_names(), ["default"]);
}
