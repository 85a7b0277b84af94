//! Round trips across suites, frame sizes, contexts and streaming chunkings; rejection of tampered,
//! truncated and random input; policies and limits.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test, with its backtrace"
)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::Arc;

use proptest::prelude::*;
use trent_crypto::SecretBytes;
use trent_esdk::{
    AlgorithmSuite, Client, CommitmentPolicy, DecryptMode, DecryptOptions, DefaultMaterialsManager, EncryptOptions,
    EncryptionContext, Error, Keyring, MultiKeyring, RawAesKeyring, RequiredEncryptionContextManager,
};

fn aes_cmm(name: &str, byte: u8) -> DefaultMaterialsManager {
    let ring = RawAesKeyring::new("trent-test", name, SecretBytes::new(vec![byte; 32])).unwrap();
    DefaultMaterialsManager::new(Arc::new(ring))
}

fn any_policy() -> Client {
    Client::new().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
}

/// Encrypts with `suite` (any policy that allows it).
fn encrypt(suite: AlgorithmSuite, frame: u32, ec: &EncryptionContext, pt: &[u8]) -> Vec<u8> {
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    let client = Client::new().with_commitment_policy(policy);
    let opts = EncryptOptions { suite: Some(suite), frame_length: frame, plaintext_length: None };
    client.encrypt(&aes_cmm("k", 1), ec, pt, &opts).unwrap()
}

fn ec(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn context_strategy() -> impl Strategy<Value = EncryptionContext> {
    proptest::collection::btree_map("[a-z\u{e9}\u{1F600}]{1,8}", "[ -~\u{fc}]{0,12}", 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_streaming(
        suite_idx in 0usize..11,
        frame in 1u32..300,
        pt in proptest::collection::vec(any::<u8>(), 0..1500),
        ec in context_strategy(),
        write_chunk in 1usize..200,
        read_chunk in 1usize..200,
    ) {
        let suite = AlgorithmSuite::ALL[suite_idx];
        let cmm = aes_cmm("k", 1);
        let client = any_policy().with_commitment_policy(if suite.is_committing() {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        });
        let opts = EncryptOptions { suite: Some(suite), frame_length: frame, plaintext_length: Some(pt.len() as u64) };
        let mut e = client.encryptor(&cmm, &ec, &opts, Vec::new()).unwrap();
        for chunk in pt.chunks(write_chunk) {
            e.write_all(chunk).unwrap();
        }
        let msg = e.finish().unwrap();
        prop_assert_eq!(msg[0], suite.message_format_version());

        let mut d = any_policy().decryptor(&cmm, msg.as_slice(), &DecryptOptions::default()).unwrap();
        prop_assert_eq!(d.header().suite, suite);
        for (k, v) in &ec {
            prop_assert_eq!(d.encryption_context().get(k), Some(v));
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; read_chunk];
        loop {
            let n = d.read(&mut buf).unwrap();
            if n == 0 { break; }
            out.extend_from_slice(&buf[..n]);
        }
        prop_assert_eq!(out, pt);
    }

    /// Random bytes never panic the parser or the decryptor.
    #[test]
    fn random_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = trent_esdk::header::parse_header(&bytes);
        let _ = any_policy().decrypt(&aes_cmm("k", 1), &bytes, &DecryptOptions::default());
    }

    /// Valid headers with random mutations and truncations never panic and never decrypt wrongly.
    #[test]
    fn mutated_messages_never_panic(
        suite_idx in 0usize..11,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let suite = AlgorithmSuite::ALL[suite_idx];
        let msg = encrypt(suite, 16, &ec(&[("a", "b")]), b"some plaintext over frames");
        let mut bad = msg.clone();
        for (i, b) in &edits {
            let i = i.index(bad.len());
            bad[i] = *b;
        }
        bad.truncate(cut.index(bad.len() + 1).max(1));
        let _ = trent_esdk::header::parse_header(&bad);
        if let Ok(d) = any_policy().decrypt(&aes_cmm("k", 1), &bad, &DecryptOptions::default()) {
            prop_assert_eq!(bad, msg);
            prop_assert_eq!(d.plaintext, b"some plaintext over frames".to_vec());
        }
    }
}

#[test]
fn every_flipped_bit_position_is_rejected() {
    for suite in AlgorithmSuite::ALL {
        let msg = encrypt(suite, 8, &ec(&[("a", "b")]), b"twenty bytes of text");
        let cmm = aes_cmm("k", 1);
        let client = any_policy();
        assert!(client.decrypt(&cmm, &msg, &DecryptOptions::default()).is_ok());
        for i in 0..msg.len() {
            let mut bad = msg.clone();
            bad[i] ^= 0x01;
            assert!(client.decrypt(&cmm, &bad, &DecryptOptions::default()).is_err(), "{suite:?} byte {i}");
        }
        for n in 0..msg.len() {
            assert!(client.decrypt(&cmm, &msg[..n], &DecryptOptions::default()).is_err(), "{suite:?} prefix {n}");
        }
        let mut long = msg.clone();
        long.push(0);
        assert!(matches!(client.decrypt(&cmm, &long, &DecryptOptions::default()), Err(Error::TrailingBytes)));
    }
}

#[test]
fn exact_multiple_and_empty_plaintexts() {
    for (len, frame) in [(0usize, 4096u32), (64, 16), (65, 16), (16, 16), (1, 1)] {
        let pt = vec![0xabu8; len];
        let msg = encrypt(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey, frame, &EncryptionContext::new(), &pt);
        let d = Client::new().decrypt(&aes_cmm("k", 1), &msg, &DecryptOptions::default()).unwrap();
        assert_eq!(d.plaintext, pt);
        // Header 1+2+32+2+2+EDK+1+4+32, tag 16; body: floor(len/frame) regular frames, then a final
        // frame shorter than the frame length (empty for an exact multiple), as the encrypt spec and
        // the Python SDK write it.
        let regular = len / frame as usize;
        let edk = 2 + 10 + 2 + (1 + 8 + 12) + 2 + 48;
        let header = 1 + 2 + 32 + 2 + 2 + edk + 1 + 4 + 32 + 16;
        let body = regular * (4 + 12 + 16) + (4 + 4 + 12 + 4 + 16) + len;
        assert_eq!(msg.len(), header + body, "len {len} frame {frame}");
    }
}

#[test]
fn default_suite_is_0578_and_signed() {
    let msg = Client::new().encrypt(&aes_cmm("k", 1), &ec(&[("a", "b")]), b"x", &EncryptOptions::default()).unwrap();
    let (h, _, _) = trent_esdk::header::parse_header(&msg).unwrap();
    assert_eq!(h.suite.id(), 0x0578);
    let pk = h.encryption_context.get("aws-crypto-public-key").unwrap();
    assert_eq!(pk.len(), 68);
}

#[test]
fn policies_are_enforced() {
    let cmm = aes_cmm("k", 1);
    let v1 = AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256;
    let opts = EncryptOptions { suite: Some(v1), ..Default::default() };
    assert!(matches!(
        Client::new().encrypt(&cmm, &EncryptionContext::new(), b"x", &opts),
        Err(Error::CommitmentPolicy { .. })
    ));
    let forbid = Client::new().with_commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt);
    let msg = forbid.encrypt(&cmm, &EncryptionContext::new(), b"x", &EncryptOptions::default()).unwrap();
    assert_eq!(msg[2..4], [0x03, 0x78]);
    assert!(matches!(
        Client::new().decrypt(&cmm, &msg, &DecryptOptions::default()),
        Err(Error::CommitmentPolicy { .. })
    ));
    assert!(forbid.decrypt(&cmm, &msg, &DecryptOptions::default()).is_ok());
    let v2 = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    assert!(
        forbid
            .encrypt(&cmm, &EncryptionContext::new(), b"x", &EncryptOptions { suite: Some(v2), ..Default::default() })
            .is_err()
    );
}

#[test]
fn reserved_keys_are_refused() {
    let r = Client::new().encrypt(&aes_cmm("k", 1), &ec(&[("aws-crypto-x", "1")]), b"x", &EncryptOptions::default());
    assert!(matches!(r, Err(Error::InvalidEncryptionContext(_))));
}

#[test]
fn wrong_key_and_wrong_context_fail() {
    let msg = encrypt(AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384, 64, &ec(&[("a", "b")]), b"data");
    let c = Client::new();
    assert!(matches!(c.decrypt(&aes_cmm("k", 2), &msg, &DecryptOptions::default()), Err(Error::NoDecryptableKey(_))));
    assert!(matches!(
        c.decrypt(&aes_cmm("other", 1), &msg, &DecryptOptions::default()),
        Err(Error::NoDecryptableKey(_))
    ));
    let o = DecryptOptions { reproduced_encryption_context: Some(ec(&[("a", "c")])), ..Default::default() };
    assert!(matches!(c.decrypt(&aes_cmm("k", 1), &msg, &o), Err(Error::EncryptionContextMismatch(_))));
    let o = DecryptOptions { reproduced_encryption_context: Some(ec(&[("a", "b")])), ..Default::default() };
    assert!(c.decrypt(&aes_cmm("k", 1), &msg, &o).is_ok());
}

#[test]
fn max_encrypted_data_keys() {
    let a: Arc<dyn Keyring> = Arc::new(RawAesKeyring::new("ns", "a", SecretBytes::new(vec![1; 16])).unwrap());
    let b: Arc<dyn Keyring> = Arc::new(RawAesKeyring::new("ns", "b", SecretBytes::new(vec![2; 24])).unwrap());
    let multi = DefaultMaterialsManager::new(Arc::new(MultiKeyring::new(Some(a.clone()), vec![b.clone()]).unwrap()));
    let msg = Client::new().encrypt(&multi, &EncryptionContext::new(), b"x", &EncryptOptions::default()).unwrap();
    let err = Client::new().with_max_encrypted_data_keys(1).encrypt(
        &multi,
        &EncryptionContext::new(),
        b"x",
        &EncryptOptions::default(),
    );
    assert!(matches!(err, Err(Error::TooManyEncryptedDataKeys { count: 2, max: 1 })));
    let only_b = DefaultMaterialsManager::new(b);
    let r = Client::new().with_max_encrypted_data_keys(1).decrypt(&only_b, &msg, &DecryptOptions::default());
    assert!(matches!(r, Err(Error::TooManyEncryptedDataKeys { .. })));
    // Each member of the multi-keyring decrypts alone.
    assert!(Client::new().with_max_encrypted_data_keys(2).decrypt(&only_b, &msg, &DecryptOptions::default()).is_ok());
    assert!(Client::new().decrypt(&DefaultMaterialsManager::new(a), &msg, &DecryptOptions::default()).is_ok());
}

#[test]
fn required_context_is_authenticated_but_not_stored() {
    let inner = Arc::new(aes_cmm("k", 1));
    let keys: BTreeSet<String> = ["secret-tag".to_string()].into_iter().collect();
    let cmm = RequiredEncryptionContextManager::new(inner, keys);
    let context = ec(&[("secret-tag", "v"), ("public", "p")]);
    let msg = Client::new().encrypt(&cmm, &context, b"data", &EncryptOptions::default()).unwrap();
    let (h, _, _) = trent_esdk::header::parse_header(&msg).unwrap();
    assert!(!h.encryption_context.contains_key("secret-tag"));
    assert!(h.encryption_context.contains_key("public"));
    assert!(Client::new().decrypt(&cmm, &msg, &DecryptOptions::default()).is_err());
    let plain = aes_cmm("k", 1);
    let wrong =
        DecryptOptions { reproduced_encryption_context: Some(ec(&[("secret-tag", "w")])), ..Default::default() };
    assert!(matches!(
        Client::new().decrypt(&plain, &msg, &wrong),
        Err(Error::HeaderAuthentication) | Err(Error::NoDecryptableKey(_))
    ));
    let right =
        DecryptOptions { reproduced_encryption_context: Some(ec(&[("secret-tag", "v")])), ..Default::default() };
    assert_eq!(Client::new().decrypt(&plain, &msg, &right).unwrap().plaintext, b"data");
}

#[test]
fn decrypt_modes_for_signed_messages() {
    let cmm = aes_cmm("k", 1);
    // 10 regular frames and a 5-byte final frame.
    let pt = vec![7u8; 105];
    let signed = encrypt(AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384, 10, &EncryptionContext::new(), &pt);
    let unsigned = encrypt(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey, 10, &EncryptionContext::new(), &pt);
    let only = DecryptOptions { mode: DecryptMode::UnsignedOnly, ..Default::default() };
    assert!(matches!(Client::new().decryptor(&cmm, signed.as_slice(), &only), Err(Error::SignedMessageRefused)));
    assert_eq!(Client::new().decrypt(&cmm, &unsigned, &only).unwrap().plaintext, pt);

    // A bad signature: streaming releases the regular frames (tags verified) but never the final
    // frame; buffering releases nothing.
    let mut bad = signed.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let mut d = Client::new().decryptor(&cmm, bad.as_slice(), &DecryptOptions::default()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 10];
    let err = loop {
        match d.read(&mut buf) {
            Ok(0) => panic!("reached the end with a bad signature"),
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(e) => break e,
        }
    };
    assert_eq!(out.len(), 100, "only the 10 regular frames");
    assert!(err.to_string().contains("signature"));
    let buffered = DecryptOptions { mode: DecryptMode::BufferUntilVerified, ..Default::default() };
    let mut d = Client::new().decryptor(&cmm, bad.as_slice(), &buffered).unwrap();
    assert!(d.read(&mut buf).is_err());
    let mut d = Client::new().decryptor(&cmm, signed.as_slice(), &buffered).unwrap();
    let mut all = Vec::new();
    d.read_to_end(&mut all).unwrap();
    assert_eq!(all, pt);
}

#[test]
fn frame_length_limits() {
    let cmm = aes_cmm("k", 1);
    for bad in [0u32, 1 << 31] {
        let o = EncryptOptions { frame_length: bad, ..Default::default() };
        assert!(matches!(Client::new().encrypt(&cmm, &EncryptionContext::new(), b"x", &o), Err(Error::Config(_))));
    }
    let o = EncryptOptions { plaintext_length: Some(3), ..Default::default() };
    assert!(Client::new().encrypt(&cmm, &EncryptionContext::new(), b"x", &o).is_err());
    assert!(Client::new().encrypt(&cmm, &EncryptionContext::new(), b"xxxx", &o).is_err());
}

#[test]
fn max_length_refuses_larger_frames_before_unwrapping() {
    let suite = AlgorithmSuite::from_name("AES_256_GCM_HKDF_SHA512_COMMIT_KEY").unwrap();
    let msg = encrypt(suite, 4096, &ec(&[]), &[7u8; 10_000]);
    let c = Client::new();
    let limited = |max| DecryptOptions { max_length: Some(max), ..Default::default() };
    assert!(matches!(c.decrypt(&aes_cmm("k", 1), &msg, &limited(4095)), Err(Error::LimitExceeded(_))));
    // The limit is checked before the keyring runs: a keyring that cannot decrypt is never reached.
    assert!(matches!(c.decrypt(&aes_cmm("other", 1), &msg, &limited(1024)), Err(Error::LimitExceeded(_))));
    let out = c.decrypt(&aes_cmm("k", 1), &msg, &limited(4096)).unwrap();
    assert_eq!(out.plaintext, vec![7u8; 10_000]);
}
