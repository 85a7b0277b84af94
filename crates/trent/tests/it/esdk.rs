//! The Encryption SDK's AWS KMS keyrings and `trent encrypt`/`trent decrypt` against the shared
//! server: data keys generated and wrapped by Trent, messages round-tripped through the keyrings.
//!
//! The ESDK is synchronous (its KMS client blocks on its own runtime), so each test creates keys with
//! the async SDK and then runs the ESDK on a blocking thread.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use trent_esdk::trent_client::{Config, KmsClient};
use trent_esdk::{
    AlgorithmSuite, AwsKmsDiscoveryKeyring, AwsKmsKeyring, Client, DecryptOptions, DefaultMaterialsManager,
    DiscoveryFilter, EncryptOptions, Error, Keyring,
};

use crate::{ACCOUNT, client, key_arn, new_key_id, server};

fn kms_client() -> Arc<KmsClient> {
    let env = &server::shared().env;
    let vars = [
        ("AWS_ENDPOINT_URL", env.endpoint_url.clone()),
        ("AWS_CA_BUNDLE", env.ca_bundle.display().to_string()),
        ("AWS_ACCESS_KEY_ID", env.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", env.secret_access_key.clone()),
        ("AWS_REGION", env.region.clone()),
    ];
    let lookup = move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    Arc::new(KmsClient::new(Config::from_lookup(&lookup).unwrap()).unwrap())
}

fn context() -> BTreeMap<String, String> {
    [("purpose".to_string(), "it".to_string())].into_iter().collect()
}

fn encrypt(keyring: Arc<dyn Keyring>, plaintext: &[u8], suite: Option<AlgorithmSuite>) -> Vec<u8> {
    let cmm = DefaultMaterialsManager::new(keyring);
    let opts = EncryptOptions { suite, frame_length: 1000, ..EncryptOptions::default() };
    Client::new().encrypt(&cmm, &context(), plaintext, &opts).unwrap()
}

fn decrypt(keyring: Arc<dyn Keyring>, message: &[u8]) -> trent_esdk::Result<Vec<u8>> {
    let cmm = DefaultMaterialsManager::new(keyring);
    Client::new().decrypt(&cmm, message, &DecryptOptions::default()).map(|d| d.plaintext)
}

#[tokio::test]
async fn kms_keyring_round_trips_strict_and_discovery() {
    let c = client();
    let (k1, k2, other) = (new_key_id(&c).await, new_key_id(&c).await, new_key_id(&c).await);
    let (a1, a2, a_other) = (key_arn(&k1), key_arn(&k2), key_arn(&other));
    tokio::task::spawn_blocking(move || {
        let kms = kms_client();
        let plaintext: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        for suite in [None, Some(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey)] {
            // Generator by key id (KMS answers with the ARN), second key by ARN: Encrypt.
            let strict = AwsKmsKeyring::new(kms.clone(), vec![k1.clone(), a2.clone()]).unwrap();
            let message = encrypt(Arc::new(strict), &plaintext, suite);
            let (header, _, _) = trent_esdk::header::parse_header(&message).unwrap();
            let infos: Vec<&[u8]> = header.encrypted_data_keys.iter().map(|e| &e.provider_info[..]).collect();
            assert_eq!(infos, [a1.as_bytes(), a2.as_bytes()]);
            assert!(header.encrypted_data_keys.iter().all(|e| e.provider_id == "aws-kms"));

            // Each listed key alone decrypts; discovery does; a filter on another account does not.
            for arn in [&a1, &a2] {
                let only = AwsKmsKeyring::new(kms.clone(), vec![arn.clone()]).unwrap();
                assert_eq!(decrypt(Arc::new(only), &message).unwrap(), plaintext);
            }
            let discovery = AwsKmsDiscoveryKeyring::new(kms.clone(), None).unwrap();
            assert_eq!(decrypt(Arc::new(discovery), &message).unwrap(), plaintext);
            let filter = |account: &str| DiscoveryFilter { partition: "aws".into(), accounts: vec![account.into()] };
            let mine = AwsKmsDiscoveryKeyring::new(kms.clone(), Some(filter(ACCOUNT))).unwrap();
            assert_eq!(decrypt(Arc::new(mine), &message).unwrap(), plaintext);
            let theirs = AwsKmsDiscoveryKeyring::new(kms.clone(), Some(filter("999999999999"))).unwrap();
            assert!(matches!(decrypt(Arc::new(theirs), &message), Err(Error::NoDecryptableKey(_))));

            // A key the message was not encrypted under is not even tried; a key id (not an ARN)
            // never matches an EDK.
            for id in [a_other.clone(), k1.clone()] {
                let wrong = AwsKmsKeyring::new(kms.clone(), vec![id]).unwrap();
                assert!(matches!(decrypt(Arc::new(wrong), &message), Err(Error::NoDecryptableKey(_))));
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn kms_errors_carry_the_aws_error_type() {
    let missing = key_arn("00000000-0000-0000-0000-000000000000");
    tokio::task::spawn_blocking(move || {
        let kms = kms_client();
        let keyring = AwsKmsKeyring::new(kms.clone(), vec![missing]).unwrap();
        let cmm = DefaultMaterialsManager::new(Arc::new(keyring));
        let err = Client::new().encrypt(&cmm, &context(), b"x", &EncryptOptions::default()).unwrap_err();
        assert!(err.to_string().contains("NotFoundException"), "{err}");
    })
    .await
    .unwrap();
    // Even called straight from async code (not recommended: it blocks the worker) the blocking
    // client works instead of panicking, and the error names the AWS error type.
    let kms = kms_client();
    let err = kms.encrypt(
        &key_arn("00000000-0000-0000-0000-000000000001"),
        &trent_crypto::SecretBytes::new(vec![1]),
        &BTreeMap::new(),
        &[],
    );
    assert!(
        matches!(&err, Err(trent_esdk::trent_client::Error::Service { code, status: 400, .. }) if code == "NotFoundException"),
        "{err:?}"
    );
}

fn trent(args: &[&str], dir: &Path) -> std::process::Output {
    let env = &server::shared().env;
    Command::new(env!("CARGO_BIN_EXE_trent"))
        .args(args)
        .arg("-S") // no metadata (trent, like aws-encryption-cli, wants -S or --metadata-output)
        .current_dir(dir)
        .env_clear()
        .env("AWS_ENDPOINT_URL", &env.endpoint_url)
        .env("AWS_CA_BUNDLE", &env.ca_bundle)
        .env("AWS_ACCESS_KEY_ID", &env.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &env.secret_access_key)
        .env("AWS_REGION", &env.region)
        .output()
        .unwrap()
}

#[tokio::test]
async fn cli_round_trips_and_leaves_no_partial_output() {
    let c = client();
    let key = key_arn(&new_key_id(&c).await);
    let other = key_arn(&new_key_id(&c).await);
    let dir = server::unique_base_dir().join(server::unique("esdk-cli"));
    std::fs::create_dir_all(&dir).unwrap();
    let plaintext: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("pt"), &plaintext).unwrap();
    let run = |args: &[&str]| {
        let out = trent(args, &dir);
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) =
        run(&["encrypt", "-i", "pt", "-o", "ct", "-w", &format!("key={key}"), "-c", "a=1", "--frame-length", "65536"]);
    assert!(ok, "{err}");
    let (ok, err) = run(&["decrypt", "-i", "ct", "-o", "out", "-w", &format!("key={key}"), "-c", "a=1", "--buffer"]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(dir.join("out")).unwrap(), plaintext);
    let (ok, err) = run(&["decrypt", "-i", "ct", "-o", "out2", "--discovery"]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(dir.join("out2")).unwrap(), plaintext);

    // Failures exit non-zero, say why, and leave no output file (nor a temporary one).
    let (ok, err) = run(&["decrypt", "-i", "ct", "-o", "bad", "-w", &format!("key={other}")]);
    assert!(!ok && err.contains("decrypt ct"), "{err}");
    let mut ct = std::fs::read(dir.join("ct")).unwrap();
    let last = ct.len() - 1;
    ct[last] ^= 1;
    std::fs::write(dir.join("ct-tampered"), &ct).unwrap();
    let (ok, err) = run(&["decrypt", "-i", "ct-tampered", "-o", "bad", "-w", &format!("key={key}")]);
    assert!(!ok && err.contains("signature"), "{err}");
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["ct", "ct-tampered", "out", "out2", "pt"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
