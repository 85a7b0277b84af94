//! Error responses as the SDK sees them: the typed variants the KMS model names, their messages, and the
//! codes of errors the model does not name.

use aws_sdk_kms::operation::create_alias::CreateAliasError;
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::operation::describe_key::DescribeKeyError;
use aws_sdk_kms::operation::encrypt::EncryptError;
use aws_sdk_kms::operation::generate_random::GenerateRandomError;
use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyError;
use aws_sdk_kms::operation::list_aliases::ListAliasesError;
use aws_sdk_kms::operation::list_keys::ListKeysError;
use aws_sdk_kms::operation::put_key_policy::PutKeyPolicyError;
use aws_sdk_kms::operation::schedule_key_deletion::ScheduleKeyDeletionError;
use aws_sdk_kms::operation::tag_resource::TagResourceError;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyUsageType};

use crate::{ACCOUNT, alias_arn, blob, client, key_arn, new_alias, new_key_id, tag};
use crate::{expect_code, expect_err, ok};

const UNKNOWN_KEY: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";

#[tokio::test]
async fn unknown_and_malformed_key_ids() {
    let c = client();
    let missing = format!("Key '{}' does not exist", key_arn(UNKNOWN_KEY));
    expect_err!(
        c.describe_key().key_id(UNKNOWN_KEY).send(),
        DescribeKeyError::NotFoundException(e) => assert_eq!(e.message(), Some(missing.as_str()))
    );
    expect_err!(
        c.describe_key().key_id(key_arn(UNKNOWN_KEY)).send(),
        DescribeKeyError::NotFoundException(e) => assert_eq!(e.message(), Some(missing.as_str()))
    );
    expect_err!(
        c.encrypt().key_id(UNKNOWN_KEY).plaintext(blob("x")).send(),
        EncryptError::NotFoundException(e) => assert_eq!(e.message(), Some(missing.as_str()))
    );
    expect_err!(
        c.describe_key().key_id("foo").send(),
        DescribeKeyError::NotFoundException(e) => assert_eq!(e.message(), Some("Invalid keyId 'foo'"))
    );
    let other_region = format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/{UNKNOWN_KEY}");
    expect_err!(
        c.describe_key().key_id(&other_region).send(),
        DescribeKeyError::NotFoundException(e) => assert_eq!(e.message(), Some("Invalid arn eu-west-1"))
    );
    let alias = new_alias();
    expect_err!(
        c.encrypt().key_id(&alias).plaintext(blob("x")).send(),
        EncryptError::NotFoundException(e) =>
            assert_eq!(e.message(), Some(format!("Alias {} is not found.", alias_arn(&alias)).as_str()))
    );
    expect_err!(
        c.enable_key().key_id(UNKNOWN_KEY).send(),
        aws_sdk_kms::operation::enable_key::EnableKeyError::NotFoundException(e) =>
            assert_eq!(e.message(), Some(missing.as_str()))
    );
    expect_err!(
        c.list_resource_tags().key_id(UNKNOWN_KEY).send(),
        aws_sdk_kms::operation::list_resource_tags::ListResourceTagsError::NotFoundException(_) => ()
    );
}

#[tokio::test]
async fn key_only_operations_refuse_aliases() {
    let c = client();
    let id = new_key_id(&c).await;
    let alias = new_alias();
    ok!(c.create_alias().alias_name(&alias).target_key_id(&id).send());
    let invalid = format!("Invalid keyId '{alias}'");
    expect_err!(
        c.schedule_key_deletion().key_id(&alias).send(),
        ScheduleKeyDeletionError::NotFoundException(e) => assert_eq!(e.message(), Some(invalid.as_str()))
    );
    expect_err!(
        c.tag_resource().key_id(&alias).tags(tag("a", "b")).send(),
        TagResourceError::NotFoundException(e) => assert_eq!(e.message(), Some(invalid.as_str()))
    );
    expect_err!(
        c.get_key_policy().key_id(&alias).send(),
        GetKeyPolicyError::NotFoundException(e) => assert_eq!(e.message(), Some(invalid.as_str()))
    );
    // Aliases must point at keys.
    expect_code!(c.create_alias().alias_name(new_alias()).target_key_id(&alias).send(), "ValidationException")
        .map(|m| assert_eq!(m, "Aliases must refer to keys. Not aliases"))
        .expect("a message");
}

#[tokio::test]
async fn ciphertext_errors() {
    let c = client();
    let id = new_key_id(&c).await;
    let other = new_key_id(&c).await;
    let ct = ok!(c.encrypt().key_id(&id).plaintext(blob("p")).encryption_context("a", "b").send())
        .ciphertext_blob()
        .unwrap()
        .as_ref()
        .to_vec();

    // Wrong context, missing context, extra context: InvalidCiphertextException with no message (as AWS).
    for ctx in [Some(("a", "c")), None, Some(("x", "b"))] {
        let mut req = c.decrypt().ciphertext_blob(blob(ct.clone()));
        if let Some((k, v)) = ctx {
            req = req.encryption_context(k, v);
        }
        expect_err!(req.send(), DecryptError::InvalidCiphertextException(e) => assert_eq!(e.message(), None));
    }
    // Tampering with any single byte of the blob, or truncating it.
    for i in [0, ct.len() / 2, ct.len() - 1] {
        let mut bad = ct.clone();
        bad[i] ^= 0x01;
        expect_err!(
            c.decrypt().ciphertext_blob(blob(bad)).encryption_context("a", "b").send(),
            DecryptError::InvalidCiphertextException(e) => assert_eq!(e.message(), None)
        );
    }
    expect_err!(
        c.decrypt().ciphertext_blob(blob(&ct[..ct.len() - 1])).encryption_context("a", "b").send(),
        DecryptError::InvalidCiphertextException(_) => ()
    );
    expect_err!(
        c.decrypt().ciphertext_blob(blob(b"not a kms blob at all".to_vec())).send(),
        DecryptError::InvalidCiphertextException(_) => ()
    );
    // Naming the wrong key.
    expect_err!(
        c.decrypt().ciphertext_blob(blob(ct.clone())).key_id(&other).encryption_context("a", "b").send(),
        DecryptError::IncorrectKeyException(e) => assert_eq!(
            e.message(),
            Some("The key ID in the request does not identify a CMK that can perform this operation.")
        )
    );
    expect_err!(
        c.re_encrypt()
            .ciphertext_blob(blob(ct.clone()))
            .source_key_id(&other)
            .source_encryption_context("a", "b")
            .destination_key_id(&id)
            .send(),
        aws_sdk_kms::operation::re_encrypt::ReEncryptError::IncorrectKeyException(_) => ()
    );
    // Naming a key that does not exist.
    expect_err!(
        c.decrypt().ciphertext_blob(blob(ct)).key_id(UNKNOWN_KEY).encryption_context("a", "b").send(),
        DecryptError::NotFoundException(_) => ()
    );
}

#[tokio::test]
async fn plaintext_size_limits() {
    let c = client();
    let id = new_key_id(&c).await;
    let msg = expect_code!(c.encrypt().key_id(&id).plaintext(blob(vec![7u8; 4097])).send(), "ValidationException");
    assert_eq!(
        msg.as_deref(),
        Some(
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"
        )
    );
    let msg = expect_code!(c.encrypt().key_id(&id).plaintext(blob(Vec::new())).send(), "ValidationException");
    assert_eq!(
        msg.as_deref(),
        Some(
            "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )
    );
}

#[tokio::test]
async fn numeric_range_validation() {
    let c = client();
    let id = new_key_id(&c).await;
    let msg = expect_code!(c.generate_random().number_of_bytes(1025).send(), "ValidationException");
    assert_eq!(
        msg.as_deref(),
        Some(
            "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"
        )
    );
    let msg = expect_code!(c.generate_random().number_of_bytes(0).send(), "ValidationException");
    assert_eq!(
        msg.as_deref(),
        Some(
            "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )
    );
    let msg = expect_code!(c.generate_random().send(), "ValidationException");
    assert_eq!(msg.as_deref(), Some("NumberOfBytes is required."));

    let both = "Please specify either number of bytes or key spec.";
    let msg = expect_code!(
        c.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).number_of_bytes(32).send(),
        "ValidationException"
    );
    assert_eq!(msg.as_deref(), Some(both));
    let msg = expect_code!(c.generate_data_key().key_id(&id).send(), "ValidationException");
    assert_eq!(msg.as_deref(), Some(both));
    let msg = expect_code!(c.generate_data_key().key_id(&id).number_of_bytes(1025).send(), "ValidationException");
    assert!(msg.unwrap().contains("Value '1025' at 'numberOfBytes'"));

    let msg = expect_code!(c.list_keys().limit(1001).send(), "ValidationException");
    assert_eq!(
        msg.as_deref(),
        Some(
            "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
        )
    );
    let msg = expect_code!(c.list_keys().limit(0).send(), "ValidationException");
    assert!(msg.unwrap().contains("Member must have value greater than or equal to 1"));

    let msg =
        expect_code!(c.schedule_key_deletion().key_id(&id).pending_window_in_days(1).send(), "ValidationException");
    assert_eq!(msg.as_deref(), Some("PendingWindowInDays must be between 7 and 30"));
    let msg =
        expect_code!(c.schedule_key_deletion().key_id(&id).pending_window_in_days(400).send(), "ValidationException");
    assert_eq!(
        msg.as_deref(),
        Some(
            "1 validation error detected: Value '400' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 365"
        )
    );
    // None of these changed the key.
    let m = ok!(c.describe_key().key_id(&id).send());
    assert!(m.key_metadata().unwrap().enabled());
}

#[tokio::test]
async fn invalid_markers() {
    let c = client();
    expect_err!(c.list_keys().marker("bogus").send(), ListKeysError::InvalidMarkerException(_) => ());
    expect_err!(c.list_aliases().marker("bogus").send(), ListAliasesError::InvalidMarkerException(_) => ());
}

#[tokio::test]
async fn alias_name_errors() {
    let c = client();
    let id = new_key_id(&c).await;
    let msg = expect_code!(c.create_alias().alias_name("no-prefix").target_key_id(&id).send(), "ValidationException");
    assert_eq!(
        msg.as_deref(),
        Some(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    );
    let msg = expect_code!(
        c.create_alias().alias_name("alias/Service:Test").target_key_id(&id).send(),
        "ValidationException"
    );
    assert_eq!(msg.as_deref(), Some("alias/Service:Test contains invalid characters for an alias"));
    let msg =
        expect_code!(c.create_alias().alias_name("alias/bad name!").target_key_id(&id).send(), "ValidationException");
    assert!(
        msg.unwrap()
            .contains("at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern")
    );
    // The reserved namespace: AWS answers with an empty NotAuthorizedException (not in the model).
    let msg =
        expect_code!(c.create_alias().alias_name("alias/aws/mine").target_key_id(&id).send(), "NotAuthorizedException");
    assert_eq!(msg, None);
    expect_err!(
        c.create_alias().alias_name(new_alias()).target_key_id(UNKNOWN_KEY).send(),
        CreateAliasError::NotFoundException(_) => ()
    );
}

#[tokio::test]
async fn tag_errors() {
    let c = client();
    let id = new_key_id(&c).await;
    expect_err!(
        c.tag_resource().key_id(&id).tags(tag("aws:reserved", "x")).send(),
        TagResourceError::TagException(e) => assert_eq!(e.message(), Some("Tags beginning with aws: are reserved"))
    );
    expect_err!(
        c.tag_resource().key_id(&id).tags(tag("AWS:Reserved", "x")).send(),
        TagResourceError::TagException(_) => ()
    );
    expect_err!(
        c.tag_resource().key_id(&id).tags(tag("dup", "1")).tags(tag("dup", "2")).send(),
        TagResourceError::TagException(e) => assert_eq!(e.message(), Some("Duplicate tag keys"))
    );
    let mut req = c.tag_resource().key_id(&id);
    for i in 0..51 {
        req = req.tags(tag(&format!("k{i}"), "v"));
    }
    expect_err!(req.send(), TagResourceError::TagException(e) => assert_eq!(e.message(), Some("Too many tags")));
    let long = "k".repeat(129);
    let msg = expect_code!(c.tag_resource().key_id(&id).tags(tag(&long, "v")).send(), "ValidationException");
    assert_eq!(
        msg,
        Some(format!(
            "1 validation error detected: Value '{long}' at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"
        ))
    );
    // Nothing was stored by the failed calls.
    assert!(ok!(c.list_resource_tags().key_id(&id).send()).tags().is_empty());
}

#[tokio::test]
async fn key_policy_errors() {
    let c = client();
    let id = new_key_id(&c).await;
    expect_err!(
        c.put_key_policy().key_id(&id).policy("not json").send(),
        PutKeyPolicyError::MalformedPolicyDocumentException(e) => assert_eq!(e.message(), None)
    );
    expect_err!(
        c.put_key_policy().key_id(&id).policy(r#"{"Version":"2012-10-17"}"#).send(),
        PutKeyPolicyError::MalformedPolicyDocumentException(_) => ()
    );
    expect_err!(
        c.get_key_policy().key_id(&id).policy_name("other").send(),
        GetKeyPolicyError::NotFoundException(e) => assert_eq!(e.message(), Some("No such policy exists"))
    );
}

#[tokio::test]
async fn unsupported_key_types_and_operations() {
    use aws_sdk_kms::operation::create_key::CreateKeyError;
    use aws_sdk_kms::operation::replicate_key::ReplicateKeyError;

    let c = client();
    let id = new_key_id(&c).await;
    expect_err!(
        c.create_key().key_spec(KeySpec::Sm2).key_usage(KeyUsageType::SignVerify).send(),
        CreateKeyError::UnsupportedOperationException(_) => ()
    );
    let msg = expect_code!(
        c.create_key().key_spec(KeySpec::SymmetricDefault).key_usage(KeyUsageType::SignVerify).send(),
        "ValidationException"
    );
    assert!(msg.is_some());
    // An operation the model has but Trent does not implement.
    let msg = expect_code!(
        c.update_primary_region().key_id(&id).primary_region("eu-west-1").send(),
        "UnsupportedOperationException"
    );
    assert!(msg.unwrap().contains("UpdatePrimaryRegion"));
    // One whose errors do model it (multi-Region keys are out of scope; key rotation and import are not).
    expect_err!(
        c.replicate_key().key_id(&id).replica_region("eu-west-1").send(),
        ReplicateKeyError::UnsupportedOperationException(e) =>
            assert!(e.message().unwrap().contains("ReplicateKey"), "{e:?}")
    );
    expect_err!(
        c.generate_random().number_of_bytes(8).custom_key_store_id("cks-1234567890abcdef0").send(),
        GenerateRandomError::UnsupportedOperationException(_) => ()
    );
}

#[tokio::test]
async fn dry_run_succeeds_without_effect() {
    let c = client();
    let id = new_key_id(&c).await;
    expect_err!(
        c.encrypt().key_id(&id).plaintext(blob("x")).dry_run(true).send(),
        EncryptError::DryRunOperationException(e) => assert_eq!(
            e.message(),
            Some("The request would have succeeded, but the DryRun option is set.")
        )
    );
    // A dry run of a request that would fail reports the failure instead.
    expect_err!(
        c.encrypt().key_id(UNKNOWN_KEY).plaintext(blob("x")).dry_run(true).send(),
        EncryptError::NotFoundException(_) => ()
    );
}

#[tokio::test]
async fn pending_deletion_refuses_management_and_use() {
    use aws_sdk_kms::operation::disable_key::DisableKeyError;
    use aws_sdk_kms::operation::generate_data_key::GenerateDataKeyError;
    use aws_sdk_kms::operation::re_encrypt::ReEncryptError;
    use aws_sdk_kms::operation::untag_resource::UntagResourceError;
    use aws_sdk_kms::operation::update_alias::UpdateAliasError;
    use aws_sdk_kms::operation::update_key_description::UpdateKeyDescriptionError;

    let c = client();
    let live = new_key_id(&c).await;
    let doomed = new_key_id(&c).await;
    let alias = new_alias();
    ok!(c.create_alias().alias_name(&alias).target_key_id(&live).send());
    let ct = ok!(c.encrypt().key_id(&live).plaintext(blob("x")).send()).ciphertext_blob().unwrap().clone();
    ok!(c.schedule_key_deletion().key_id(&doomed).pending_window_in_days(7).send());
    let pending = format!("{} is pending deletion.", key_arn(&doomed));
    let pending = Some(pending.as_str());

    expect_err!(c.disable_key().key_id(&doomed).send(), DisableKeyError::KmsInvalidStateException(e) => assert_eq!(e.message(), pending));
    expect_err!(
        c.update_key_description().key_id(&doomed).description("d").send(),
        UpdateKeyDescriptionError::KmsInvalidStateException(e) => assert_eq!(e.message(), pending)
    );
    expect_err!(
        c.untag_resource().key_id(&doomed).tag_keys("a").send(),
        UntagResourceError::KmsInvalidStateException(e) => assert_eq!(e.message(), pending)
    );
    expect_err!(
        c.update_alias().alias_name(&alias).target_key_id(&doomed).send(),
        UpdateAliasError::KmsInvalidStateException(e) => assert_eq!(e.message(), pending)
    );
    expect_err!(
        c.generate_data_key().key_id(&doomed).key_spec(DataKeySpec::Aes256).send(),
        GenerateDataKeyError::KmsInvalidStateException(e) => assert_eq!(e.message(), pending)
    );
    expect_err!(
        c.re_encrypt().ciphertext_blob(ct.clone()).destination_key_id(&doomed).send(),
        ReEncryptError::KmsInvalidStateException(e) => assert_eq!(e.message(), pending)
    );
    // Read-only operations and the key policy still work.
    ok!(c.list_resource_tags().key_id(&doomed).send());
    ok!(c.list_key_policies().key_id(&doomed).send());
    let policy = ok!(c.get_key_policy().key_id(&doomed).send()).policy().unwrap().to_owned();
    ok!(c.put_key_policy().key_id(&doomed).policy(policy).send());
    // The alias still points at the live key.
    assert_eq!(ok!(c.describe_key().key_id(&alias).send()).key_metadata().unwrap().key_id(), live);

    // ReEncrypt into a disabled key.
    let disabled = new_key_id(&c).await;
    ok!(c.disable_key().key_id(&disabled).send());
    expect_err!(
        c.re_encrypt().ciphertext_blob(ct).destination_key_id(&disabled).send(),
        ReEncryptError::DisabledException(e) =>
            assert_eq!(e.message(), Some(format!("{} is disabled.", key_arn(&disabled)).as_str()))
    );
}

#[tokio::test]
#[allow(deprecated, reason = "CustomerMasterKeySpec is the deprecated spelling under test")]
async fn more_request_validation() {
    use aws_sdk_kms::operation::create_key::CreateKeyError;
    use aws_sdk_kms::types::{CustomerMasterKeySpec, EncryptionAlgorithmSpec};

    let c = client();
    let id = new_key_id(&c).await;
    let msg = expect_code!(
        c.create_key()
            .key_spec(KeySpec::SymmetricDefault)
            .customer_master_key_spec(CustomerMasterKeySpec::SymmetricDefault)
            .send(),
        "ValidationException"
    );
    assert_eq!(
        msg.as_deref(),
        Some(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated."
        )
    );
    let long = "d".repeat(8193);
    let msg = expect_code!(c.update_key_description().key_id(&id).description(&long).send(), "ValidationException");
    assert_eq!(
        msg,
        Some(format!(
            "1 validation error detected: Value '{long}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192"
        ))
    );
    expect_err!(c.create_key().multi_region(true).send(), CreateKeyError::UnsupportedOperationException(_) => ());
    expect_err!(
        c.encrypt()
            .key_id(&id)
            .plaintext(blob("x"))
            .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
            .send(),
        EncryptError::InvalidKeyUsageException(_) => ()
    );
    // A key ARN of another account is invisible.
    let foreign = format!("arn:aws:kms:{}:444455556666:key/{id}", crate::REGION);
    expect_err!(
        c.describe_key().key_id(&foreign).send(),
        DescribeKeyError::NotFoundException(e) =>
            assert_eq!(e.message(), Some(format!("Key '{foreign}' does not exist").as_str()))
    );
    // A large (28 KiB) key policy round-trips.
    let filler = "x".repeat(28 * 1024);
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{filler}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    ok!(c.put_key_policy().key_id(&id).policy(&policy).send());
    assert_eq!(ok!(c.get_key_policy().key_id(&id).send()).policy(), Some(policy.as_str()));
}

#[tokio::test]
async fn alias_quota_per_key() {
    use aws_sdk_kms::operation::create_alias::CreateAliasError;
    let c = client();
    let id = new_key_id(&c).await;
    let prefix = new_alias();
    for i in 0..50 {
        ok!(c.create_alias().alias_name(format!("{prefix}-{i:02}")).target_key_id(&id).send());
    }
    expect_err!(
        c.create_alias().alias_name(format!("{prefix}-50")).target_key_id(&id).send(),
        CreateAliasError::LimitExceededException(_) => ()
    );
    let all = ok!(c.list_aliases().key_id(&id).send());
    assert_eq!(all.aliases().len(), 50);
    assert!(!all.truncated());
}
