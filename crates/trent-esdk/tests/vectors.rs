//! The official ESDK decrypt vectors (`../shared/esdk-vectors/` next to the workspace). Skips with a
//! message when the folder is absent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use serde_json::Value;
use trent_crypto::SecretBytes;
use trent_esdk::{
    Client, CommitmentPolicy, DecryptOptions, DefaultMaterialsManager, EncryptionContext, Keyring, MaterialsManager,
    MultiKeyring, RawAesKeyring, RawRsaKeyring, RequiredEncryptionContextManager, RsaPadding,
};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/esdk-vectors")
}

struct Zip(BTreeMap<String, Vec<u8>>);

impl Zip {
    /// None (and a printed SKIP) when the zip is absent.
    fn open(name: &str) -> Option<Self> {
        let path = vectors_dir().join(name);
        let Ok(file) = std::fs::File::open(&path) else {
            println!("SKIP: {} not found; ESDK vectors not run", path.display());
            return None;
        };
        let mut archive = zip::ZipArchive::new(file).unwrap();
        let mut files = BTreeMap::new();
        for i in 0..archive.len() {
            let mut f = archive.by_index(i).unwrap();
            if f.is_file() {
                let mut buf = Vec::new();
                f.read_to_end(&mut buf).unwrap();
                files.insert(f.name().unwrap().to_string(), buf);
            }
        }
        Some(Self(files))
    }

    fn get(&self, uri: &str) -> &[u8] {
        let name = uri.strip_prefix("file://").unwrap_or(uri);
        self.0.get(name).unwrap_or_else(|| panic!("{name} missing from zip"))
    }

    fn json(&self, uri: &str) -> Value {
        serde_json::from_slice(self.get(uri)).unwrap()
    }
}

/// A keyring for one `master-keys` entry, or None when it needs KMS.
fn keyring(keys: &Value, mk: &Value) -> Option<Arc<dyn Keyring>> {
    if mk["type"] != "raw" {
        return None;
    }
    let name = mk["key"].as_str().unwrap();
    let key = &keys["keys"][name];
    // The name on the wire is the key's `key-id` when present.
    let wire_name = key["key-id"].as_str().unwrap_or(name);
    let provider = mk["provider-id"].as_str().unwrap();
    let material = key["material"].as_str().unwrap();
    match mk["encryption-algorithm"].as_str().unwrap() {
        "aes" => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(material).unwrap();
            Some(Arc::new(RawAesKeyring::new(provider, wire_name, SecretBytes::new(bytes)).unwrap()))
        }
        "rsa" => {
            let padding = match (mk["padding-algorithm"].as_str().unwrap(), mk["padding-hash"].as_str()) {
                ("pkcs1", _) => RsaPadding::Pkcs1V15,
                ("oaep-mgf1", Some("sha1")) => RsaPadding::OaepSha1,
                ("oaep-mgf1", Some("sha256")) => RsaPadding::OaepSha256,
                ("oaep-mgf1", Some("sha384")) => RsaPadding::OaepSha384,
                ("oaep-mgf1", Some("sha512")) => RsaPadding::OaepSha512,
                other => panic!("unknown padding {other:?}"),
            };
            Some(Arc::new(RawRsaKeyring::from_pem(provider, wire_name, padding, material).unwrap()))
        }
        other => panic!("unknown algorithm {other}"),
    }
}

struct Case {
    id: String,
    cmm: Box<dyn MaterialsManager>,
    ciphertext: Vec<u8>,
    plaintext: Vec<u8>,
    reproduced: EncryptionContext,
}

/// The offline-decryptable cases of a manifest, and the number skipped (KMS).
fn cases(zip: &Zip) -> (Vec<Case>, usize) {
    let manifest = zip.json("manifest.json");
    assert_eq!(manifest["manifest"]["type"], "awses-decrypt");
    let keys = zip.json(manifest["keys"].as_str().unwrap());
    let mut out = Vec::new();
    let mut skipped = 0;
    for (id, t) in manifest["tests"].as_object().unwrap() {
        let rings: Option<Vec<_>> = t["master-keys"].as_array().unwrap().iter().map(|mk| keyring(&keys, mk)).collect();
        let Some(mut rings) = rings else {
            skipped += 1;
            continue;
        };
        let ring: Arc<dyn Keyring> =
            if rings.len() == 1 { rings.remove(0) } else { Arc::new(MultiKeyring::new(None, rings).unwrap()) };
        let reproduced: EncryptionContext = t["encryption-context"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect())
            .unwrap_or_default();
        let default: Box<dyn MaterialsManager> = Box::new(DefaultMaterialsManager::new(ring));
        let cmm: Box<dyn MaterialsManager> = match t["cmm"].as_str() {
            Some("RequiredEncryptionContext") => {
                let required: BTreeSet<String> = reproduced.keys().cloned().collect();
                Box::new(RequiredEncryptionContextManager::new(Arc::from(default), required))
            }
            _ => default,
        };
        let plaintext = zip.get(t["result"]["output"]["plaintext"].as_str().unwrap()).to_vec();
        out.push(Case {
            id: id.clone(),
            cmm,
            ciphertext: zip.get(t["ciphertext"].as_str().unwrap()).to_vec(),
            plaintext,
            reproduced,
        });
    }
    (out, skipped)
}

fn options(c: &Case) -> DecryptOptions {
    DecryptOptions { reproduced_encryption_context: Some(c.reproduced.clone()), ..Default::default() }
}

fn allow_v1() -> Client {
    Client::new().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
}

#[test]
fn v4_net_4_0_1_decrypts_offline_vectors() {
    let Some(zip) = Zip::open("v4-Net-4.0.1.zip") else {
        return;
    };
    let (cases, skipped) = cases(&zip);
    let client = allow_v1();
    let mut failures = Vec::new();
    for c in &cases {
        match client.decrypt(c.cmm.as_ref(), &c.ciphertext, &options(c)) {
            Ok(d) if d.plaintext == c.plaintext => {}
            Ok(_) => failures.push(format!("{}: wrong plaintext", c.id)),
            Err(e) => failures.push(format!("{}: {e}", c.id)),
        }
    }
    println!(
        "v4-Net-4.0.1: {} passed, {} failed, {skipped} skipped (need KMS)",
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(cases.len(), 99);
}

#[test]
fn v4_net_vectors_obey_the_default_commitment_policy() {
    let Some(zip) = Zip::open("v4-Net-4.0.1.zip") else {
        return;
    };
    let (cases, _) = cases(&zip);
    let strict = Client::new();
    for c in &cases {
        let v1 = c.ciphertext[0] == 1;
        let r = strict.decrypt(c.cmm.as_ref(), &c.ciphertext, &options(c));
        assert_eq!(r.is_ok(), !v1, "{}", c.id);
        if v1 {
            assert!(matches!(r, Err(trent_esdk::Error::CommitmentPolicy { .. })), "{}", c.id);
        }
    }
}

#[test]
fn v4_net_vectors_need_the_reproduced_context_when_not_stored() {
    let Some(zip) = Zip::open("v4-Net-4.0.1.zip") else {
        return;
    };
    let (cases, _) = cases(&zip);
    let client = allow_v1();
    let mut checked = 0;
    for c in cases.iter().filter(|c| c.id.contains("RequiredEncryptionContext")) {
        assert!(client.decrypt(c.cmm.as_ref(), &c.ciphertext, &DecryptOptions::default()).is_err(), "{}", c.id);
        let mut wrong = c.reproduced.clone();
        wrong.insert("key1".into(), "other".into());
        let o = DecryptOptions { reproduced_encryption_context: Some(wrong), ..Default::default() };
        assert!(client.decrypt(c.cmm.as_ref(), &c.ciphertext, &o).is_err(), "{}", c.id);
        checked += 1;
    }
    assert_eq!(checked, 33);
}

#[test]
fn v4_net_streaming_with_tiny_reads() {
    let Some(zip) = Zip::open("v4-Net-4.0.1.zip") else {
        return;
    };
    let (cases, _) = cases(&zip);
    let client = allow_v1();
    for c in cases.iter().step_by(5) {
        let mut d = client.decryptor(c.cmm.as_ref(), c.ciphertext.as_slice(), &options(c)).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = d.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, c.plaintext, "{}", c.id);
    }
}

/// The second EDK of the multi-RSA vectors is wrapped for `rsa-4096-public` with OAEP-SHA256; the
/// private key of the pair opens it too.
#[test]
fn v4_net_oaep_sha256_edks_decrypt_with_the_private_key() {
    let Some(zip) = Zip::open("v4-Net-4.0.1.zip") else {
        return;
    };
    let manifest = zip.json("manifest.json");
    let keys = zip.json("keys.json");
    let pem = keys["keys"]["rsa-4096-private"]["material"].as_str().unwrap();
    let ring =
        RawRsaKeyring::from_pem("aws-raw-vectors-persistant", "rsa-4096-public", RsaPadding::OaepSha256, pem).unwrap();
    let cmm = DefaultMaterialsManager::new(Arc::new(ring));
    let client = allow_v1();
    let mut n = 0;
    for t in manifest["tests"].as_object().unwrap().values() {
        if t["master-keys"].as_array().unwrap().len() != 2 {
            continue;
        }
        let ct = zip.get(t["ciphertext"].as_str().unwrap());
        let ec: EncryptionContext = t["encryption-context"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let o = DecryptOptions { reproduced_encryption_context: Some(ec), ..Default::default() };
        let d = client.decrypt(&cmm, ct, &o).unwrap();
        assert_eq!(d.plaintext, zip.get(t["result"]["output"]["plaintext"].as_str().unwrap()));
        n += 1;
    }
    assert_eq!(n, 33);
}

#[test]
fn valid_net_4_0_0_decrypts() {
    let Some(zip) = Zip::open("valid-Net-4.0.0.zip") else {
        return;
    };
    let (cases, skipped) = cases(&zip);
    assert_eq!((cases.len(), skipped), (5, 0));
    let client = allow_v1();
    for c in &cases {
        let d = client.decrypt(c.cmm.as_ref(), &c.ciphertext, &options(c)).unwrap_or_else(|e| panic!("{}: {e}", c.id));
        assert_eq!(d.plaintext, c.plaintext, "{}", c.id);
    }
    println!("valid-Net-4.0.0: {} passed", cases.len());
}

#[test]
fn invalid_net_4_0_0_is_rejected_unless_the_retry_is_on() {
    let Some(zip) = Zip::open("invalid-Net-4.0.0.zip") else {
        return;
    };
    let (cases, skipped) = cases(&zip);
    assert_eq!((cases.len(), skipped), (28, 0));
    let strict = allow_v1();
    let retry = allow_v1().with_net_v4_0_0_retry(true);
    for c in &cases {
        let r = strict.decrypt(c.cmm.as_ref(), &c.ciphertext, &options(c));
        assert!(matches!(r, Err(trent_esdk::Error::HeaderAuthentication)), "{}: {:?}", c.id, r.map(|_| ()));
        let d = retry.decrypt(c.cmm.as_ref(), &c.ciphertext, &options(c)).unwrap_or_else(|e| panic!("{}: {e}", c.id));
        assert_eq!(d.plaintext, c.plaintext, "{}", c.id);
    }
    println!(
        "invalid-Net-4.0.0: {} rejected (strict), {} accepted with the .NET 4.0.0 retry",
        cases.len(),
        cases.len()
    );
}
