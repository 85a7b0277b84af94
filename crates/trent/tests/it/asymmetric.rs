//! Asymmetric and HMAC keys, rotation and imported material through the Rust SDK: the SDK's models for
//! these operations (typed errors, enums, blobs) against Trent's wire answers.

use aws_sdk_kms::operation::rotate_key_on_demand::RotateKeyOnDemandError;
use aws_sdk_kms::operation::verify::VerifyError;
use aws_sdk_kms::operation::verify_mac::VerifyMacError;
use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec, KeyAgreementAlgorithmSpec, KeySpec, KeyUsageType, MacAlgorithmSpec, MessageType,
    RotationType, SigningAlgorithmSpec,
};

use crate::{blob, client};
use crate::{expect_err, ok};

#[tokio::test]
async fn sign_verify_with_ecdsa_and_rsa() {
    let c = client();
    for (spec, alg) in [
        (KeySpec::EccNistP256, SigningAlgorithmSpec::EcdsaSha256),
        (KeySpec::EccNistP521, SigningAlgorithmSpec::EcdsaSha512),
        (KeySpec::Rsa2048, SigningAlgorithmSpec::RsassaPssSha384),
        (KeySpec::EccNistEdwards25519, SigningAlgorithmSpec::Ed25519Sha512),
    ] {
        let meta =
            ok!(c.create_key().key_spec(spec.clone()).key_usage(KeyUsageType::SignVerify).send()).key_metadata.unwrap();
        assert!(meta.signing_algorithms().contains(&alg), "{spec:?}");
        let id = meta.key_id;
        let sig = ok!(c
            .sign()
            .key_id(&id)
            .message(blob(b"sdk message".to_vec()))
            .message_type(MessageType::Raw)
            .signing_algorithm(alg.clone())
            .send())
        .signature
        .unwrap();
        let v = ok!(c
            .verify()
            .key_id(&id)
            .message(blob(b"sdk message".to_vec()))
            .signature(sig.clone())
            .signing_algorithm(alg.clone())
            .send());
        assert!(v.signature_valid);
        expect_err!(
            c.verify()
                .key_id(&id)
                .message(blob(b"other message".to_vec()))
                .signature(sig)
                .signing_algorithm(alg)
                .send(),
            VerifyError::KmsInvalidSignatureException(_) => ()
        );
        let public = ok!(c.get_public_key().key_id(&id).send());
        assert_eq!(public.key_usage, Some(KeyUsageType::SignVerify));
        assert!(public.public_key.unwrap().as_ref().len() > 40);
    }
}

#[tokio::test]
async fn rsa_encrypt_decrypt_and_hmac() {
    let c = client();
    let id = ok!(c.create_key().key_spec(KeySpec::Rsa3072).key_usage(KeyUsageType::EncryptDecrypt).send())
        .key_metadata
        .unwrap()
        .key_id;
    let ct = ok!(c
        .encrypt()
        .key_id(&id)
        .plaintext(blob(b"oaep".to_vec()))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
        .send())
    .ciphertext_blob
    .unwrap();
    let pt = ok!(c
        .decrypt()
        .key_id(&id)
        .ciphertext_blob(ct)
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
        .send());
    assert_eq!(pt.plaintext.unwrap().as_ref(), b"oaep");

    let mac_key = ok!(c.create_key().key_spec(KeySpec::Hmac512).key_usage(KeyUsageType::GenerateVerifyMac).send())
        .key_metadata
        .unwrap();
    assert_eq!(mac_key.mac_algorithms(), &[MacAlgorithmSpec::HmacSha512]);
    let mac = ok!(c
        .generate_mac()
        .key_id(&mac_key.key_id)
        .message(blob(b"m".to_vec()))
        .mac_algorithm(MacAlgorithmSpec::HmacSha512)
        .send())
    .mac
    .unwrap();
    assert_eq!(mac.as_ref().len(), 64);
    let ok = ok!(c
        .verify_mac()
        .key_id(&mac_key.key_id)
        .message(blob(b"m".to_vec()))
        .mac(mac.clone())
        .mac_algorithm(MacAlgorithmSpec::HmacSha512)
        .send());
    assert!(ok.mac_valid);
    expect_err!(
        c.verify_mac()
            .key_id(&mac_key.key_id)
            .message(blob(b"n".to_vec()))
            .mac(mac)
            .mac_algorithm(MacAlgorithmSpec::HmacSha512)
            .send(),
        VerifyMacError::KmsInvalidMacException(_) => ()
    );
}

#[tokio::test]
async fn ecdh_between_two_trent_keys() {
    let c = client();
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(
            ok!(c.create_key().key_spec(KeySpec::EccNistP384).key_usage(KeyUsageType::KeyAgreement).send())
                .key_metadata
                .unwrap()
                .key_id,
        );
    }
    let pk = |i: usize| {
        let c = c.clone();
        let id = ids[i].clone();
        async move { c.get_public_key().key_id(id).send().await.unwrap().public_key.unwrap() }
    };
    let (pa, pb) = (pk(0).await, pk(1).await);
    let s1 = ok!(c
        .derive_shared_secret()
        .key_id(&ids[0])
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(pb)
        .send());
    let s2 = ok!(c
        .derive_shared_secret()
        .key_id(&ids[1])
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(pa)
        .send());
    assert_eq!(s1.shared_secret, s2.shared_secret);
}

#[tokio::test]
async fn on_demand_rotation_through_the_sdk() {
    let c = client();
    let id = ok!(c.create_key().send()).key_metadata.unwrap().key_id;
    let old = ok!(c.encrypt().key_id(&id).plaintext(blob(b"v1".to_vec())).send()).ciphertext_blob.unwrap();
    ok!(c.rotate_key_on_demand().key_id(&id).send());
    let rotations = ok!(c.list_key_rotations().key_id(&id).send());
    assert_eq!(rotations.rotations().len(), 1);
    assert_eq!(rotations.rotations()[0].rotation_type(), Some(&RotationType::OnDemand));
    assert_eq!(ok!(c.decrypt().ciphertext_blob(old).send()).plaintext.unwrap().as_ref(), b"v1");
    let hmac = ok!(c.create_key().key_spec(KeySpec::Hmac256).key_usage(KeyUsageType::GenerateVerifyMac).send())
        .key_metadata
        .unwrap()
        .key_id;
    expect_err!(
        c.rotate_key_on_demand().key_id(&hmac).send(),
        RotateKeyOnDemandError::UnsupportedOperationException(_) => ()
    );
}
