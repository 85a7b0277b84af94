//! The raw RSA keyring against data keys wrapped by an independent implementation (Python
//! `cryptography`), for every padding, including those no official vector covers (PKCS#1 v1.5,
//! OAEP-SHA1, OAEP-SHA384).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test, with its backtrace"
)]

use std::collections::BTreeSet;

use serde_json::Value;
use trent_esdk::{
    AlgorithmSuite, DecryptionMaterials, EncryptedDataKey, EncryptionContext, Keyring, RawRsaKeyring, RsaPadding,
};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn python_wrapped_keys_unwrap_with_each_padding() {
    let kat: Value = serde_json::from_str(include_str!("fixtures/rsa-2048-kat.json")).unwrap();
    let pem = kat["private_key_pem"].as_str().unwrap();
    let want = unhex(kat["data_key_hex"].as_str().unwrap());
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    let materials = DecryptionMaterials::new(suite, EncryptionContext::new(), BTreeSet::new(), None).unwrap();
    for (name, padding) in [
        ("pkcs1", RsaPadding::Pkcs1V15),
        ("oaep-sha1", RsaPadding::OaepSha1),
        ("oaep-sha256", RsaPadding::OaepSha256),
        ("oaep-sha384", RsaPadding::OaepSha384),
        ("oaep-sha512", RsaPadding::OaepSha512),
    ] {
        let ring = RawRsaKeyring::from_pem("ns", "kat", padding, pem).unwrap();
        let edk = EncryptedDataKey {
            provider_id: "ns".into(),
            provider_info: b"kat".to_vec(),
            ciphertext: unhex(kat["wrapped"][name].as_str().unwrap()),
        };
        let key = ring.on_decrypt(&materials, std::slice::from_ref(&edk)).unwrap();
        assert_eq!(key.expose_secret(), want.as_slice(), "{name}");
        // The same EDK under another padding, or another key name, does not decrypt.
        let other = if padding == RsaPadding::OaepSha1 { RsaPadding::OaepSha256 } else { RsaPadding::OaepSha1 };
        let wrong = RawRsaKeyring::from_pem("ns", "kat", other, pem).unwrap();
        assert!(wrong.on_decrypt(&materials, std::slice::from_ref(&edk)).is_err(), "{name}");
        let renamed = RawRsaKeyring::from_pem("ns", "other", padding, pem).unwrap();
        assert!(renamed.on_decrypt(&materials, &[edk]).is_err(), "{name}");
    }
}

#[test]
fn pem_that_is_not_an_rsa_key_is_refused_with_a_reason() {
    let kat: Value = serde_json::from_str(include_str!("fixtures/rsa-2048-kat.json")).unwrap();
    let pem = kat["private_key_pem"].as_str().unwrap();
    let pad = RsaPadding::OaepSha256;
    for (text, want) in [
        ("", "no PEM block"),
        ("junk", "no PEM block"),
        ("-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n", "no PEM block"),
        ("-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n", "not a PEM file"),
        ("-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n", "not an RSA PKCS#8 private key"),
        ("-----BEGIN PUBLIC KEY-----\nAAEC\n-----END PUBLIC KEY-----\n", "not an RSA public key"),
    ] {
        let err = RawRsaKeyring::from_pem("ns", "k", pad, text).err().expect("refused");
        assert!(err.to_string().contains(want), "{text:?}: {err}");
    }
    // Text around the block is ignored, as RFC 7468 allows.
    assert!(RawRsaKeyring::from_pem("ns", "k", pad, &format!("comment\n{pem}\ntrailer")).is_ok());
}
