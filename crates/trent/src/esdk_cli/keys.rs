//! Wrapping keys from the command line: AWS KMS keys (`-w`), a raw AES key file, a raw RSA key file
//! (PEM), parsed into one keyring.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trent_crypto::SecretBytes;
use trent_esdk::trent_client::KmsClient;
use trent_esdk::{
    AwsKmsDiscoveryKeyring, AwsKmsKeyring, DiscoveryFilter, Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring,
    RsaPadding,
};
use zeroize::Zeroizing;

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("raw_key").multiple(false).requires_all(["key_namespace", "key_name"]))]
pub(crate) struct KeyArgs {
    /// AWS KMS wrapping keys: `key=<id>` (repeatable), `provider=aws-kms`; on decrypt also
    /// `discovery=true`, `discovery-account=<id>`, `discovery-partition=<p>`. Encrypt takes a key ARN, key
    /// id, alias name or alias ARN; decrypt needs key ARNs (the message records key ARNs, which an alias or
    /// a key id never matches), or `--discovery`.
    #[arg(short = 'w', long = "wrapping-keys", num_args = 1.., action = clap::ArgAction::Append)]
    pub(super) wrapping_keys: Vec<String>,
    /// File holding a raw AES wrapping key (16, 24 or 32 bytes).
    #[arg(long, group = "raw_key")]
    raw_aes_key_file: Option<PathBuf>,
    /// PEM file with a raw RSA public key (`PUBLIC KEY`, SubjectPublicKeyInfo): encrypts only.
    #[arg(long, group = "raw_key")]
    raw_rsa_public_key_file: Option<PathBuf>,
    /// PEM file with a raw RSA private key (`PRIVATE KEY`, unencrypted PKCS#8): decrypts, and encrypts
    /// with its public half.
    #[arg(long, group = "raw_key")]
    raw_rsa_private_key_file: Option<PathBuf>,
    /// Padding of the raw RSA key: pkcs1, oaep-sha1, oaep-sha256, oaep-sha384 or oaep-sha512 (OAEP with
    /// MGF1 of the same hash). Must be the padding the message was written with.
    #[arg(long, default_value = "oaep-sha256", value_parser = parse_padding, requires = "raw_key")]
    rsa_padding: RsaPadding,
    /// Key namespace (provider id) of the raw key.
    #[arg(long, requires = "raw_key")]
    key_namespace: Option<String>,
    /// Key name of the raw key.
    #[arg(long, requires = "raw_key")]
    key_name: Option<String>,
}

/// The decryption error, with what to do when no encrypted data key matched and a `-w key=` was given as
/// an alias or a key id: those never match on decrypt, as the message records key ARNs (as in the AWS
/// Encryption SDK's strict KMS keyring).
pub(super) fn explain(k: &KeyArgs, e: trent_esdk::Error) -> String {
    let text = e.to_string();
    if !matches!(e, trent_esdk::Error::NoDecryptableKey(_)) {
        return text;
    }
    let not_arns: Vec<&str> = k
        .wrapping_keys
        .iter()
        .filter_map(|w| w.strip_prefix("key="))
        .filter(|id| trent_esdk::keyring::KmsArn::parse(id).is_none_or(|a| a.resource_type != "key"))
        .collect();
    let Some(first) = not_arns.first() else { return text };
    let what = if first.starts_with("alias/") || first.contains(":alias/") { "an alias" } else { "not a key ARN" };
    format!(
        "{text}. key={first} is {what}: decryption matches the key ARNs the message records, never aliases or \
         key ids. Pass the key ARN (aws kms describe-key --key-id {first} --query KeyMetadata.Arn --output text) \
         or use --discovery"
    )
}

fn parse_padding(s: &str) -> Result<RsaPadding, String> {
    Ok(match s {
        "pkcs1" => RsaPadding::Pkcs1V15,
        "oaep-sha1" => RsaPadding::OaepSha1,
        "oaep-sha256" => RsaPadding::OaepSha256,
        "oaep-sha384" => RsaPadding::OaepSha384,
        "oaep-sha512" => RsaPadding::OaepSha512,
        other => {
            return Err(format!(
                "unknown RSA padding {other:?} (pkcs1, oaep-sha1, oaep-sha256, oaep-sha384, oaep-sha512)"
            ));
        }
    })
}

/// The keyring the flags describe; several become a multi-keyring (KMS first, so it generates).
pub(super) fn keyring(k: &KeyArgs, discovery: bool, decrypting: bool) -> Result<Arc<dyn Keyring>, String> {
    let mut keyrings: Vec<Arc<dyn Keyring>> = Vec::new();
    if let Some(kms) = kms_keyring(&k.wrapping_keys, discovery)? {
        keyrings.push(kms);
    }
    if let Some(raw) = raw_keyring(k, decrypting)? {
        keyrings.push(raw);
    }
    match keyrings.len() {
        0 => Err("no wrapping key: give -w key=<ARN>, --discovery (decrypt), --raw-aes-key-file, \
                  --raw-rsa-public-key-file or --raw-rsa-private-key-file"
            .into()),
        1 => keyrings.pop().ok_or_else(|| "no keyring".into()),
        _ => {
            let generator = keyrings.remove(0);
            Ok(Arc::new(MultiKeyring::new(Some(generator), keyrings).map_err(|e| e.to_string())?))
        }
    }
}

fn kms_keyring(params: &[String], discovery: bool) -> Result<Option<Arc<dyn Keyring>>, String> {
    let (mut keys, mut accounts, mut partition) = (Vec::new(), Vec::new(), None);
    for param in params {
        let (k, v) =
            param.split_once('=').ok_or_else(|| format!("wrapping key parameter {param:?} is not name=value"))?;
        match k {
            "key" => keys.push(v.to_owned()),
            "provider" if v == "aws-kms" => {}
            "provider" => {
                return Err(format!(
                    "provider {v:?} is not supported (only aws-kms; raw keys use --raw-aes-key-file or \
                     --raw-rsa-*-key-file)"
                ));
            }
            "discovery" if v == "true" || v == "false" => {}
            "discovery-account" => accounts.push(v.to_owned()),
            "discovery-partition" => partition = Some(v.to_owned()),
            other => return Err(format!("unknown wrapping key parameter {other:?}")),
        }
    }
    if !discovery && keys.is_empty() {
        return Ok(None);
    }
    let kms = Arc::new(KmsClient::from_env().map_err(|e| e.to_string())?);
    if !discovery {
        return Ok(Some(Arc::new(AwsKmsKeyring::new(kms, keys).map_err(|e| e.to_string())?)));
    }
    if !keys.is_empty() {
        return Err("use either discovery or key=..., not both".into());
    }
    let filter = match (partition, accounts.is_empty()) {
        (None, true) => None,
        (Some(partition), false) => Some(DiscoveryFilter { partition, accounts }),
        _ => return Err("discovery-account and discovery-partition go together".into()),
    };
    Ok(Some(Arc::new(AwsKmsDiscoveryKeyring::new(kms, filter).map_err(|e| e.to_string())?)))
}

fn raw_keyring(k: &KeyArgs, decrypting: bool) -> Result<Option<Arc<dyn Keyring>>, String> {
    // clap guarantees namespace and name whenever a raw key file is given (group `raw_key`).
    let (Some(ns), Some(name)) = (&k.key_namespace, &k.key_name) else {
        return Ok(None);
    };
    if let Some(path) = &k.raw_aes_key_file {
        let key = read_aes_key_file(path)?;
        return Ok(Some(Arc::new(RawAesKeyring::new(ns, name, key).map_err(|e| e.to_string())?)));
    }
    let (path, private) = match (&k.raw_rsa_public_key_file, &k.raw_rsa_private_key_file) {
        (_, Some(p)) => (p, true),
        (Some(_), None) if decrypting => {
            return Err("an RSA public key cannot decrypt: give --raw-rsa-private-key-file".into());
        }
        (Some(p), None) => (p, false),
        (None, None) => return Ok(None),
    };
    let pem = read_pem(path)?;
    let label = pem_label(&pem);
    let want = if private { "PRIVATE KEY" } else { "PUBLIC KEY" };
    if label.as_deref() != Some(want) {
        return Err(format!("{}: {}", path.display(), pem_hint(label.as_deref(), want)));
    }
    let keyring =
        RawRsaKeyring::from_pem(ns, name, k.rsa_padding, &pem).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Some(Arc::new(keyring)))
}

fn read_aes_key_file(path: &Path) -> Result<SecretBytes, String> {
    let bytes = SecretBytes::new(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
    if ![16, 24, 32].contains(&bytes.len()) {
        return Err(format!(
            "{}: a raw AES key file must hold exactly 16, 24 or 32 bytes, not {}",
            path.display(),
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// The whole PEM file: it may be a private key, so it is wiped when dropped.
fn read_pem(path: &Path) -> Result<Zeroizing<String>, String> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?);
    let text = std::str::from_utf8(&bytes).map_err(|_| format!("{}: not a PEM text file", path.display()))?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// The label of the first `-----BEGIN <label>-----` line, if any.
fn pem_label(pem: &str) -> Option<String> {
    let rest = &pem[pem.find("-----BEGIN ")? + 11..];
    Some(rest[..rest.find("-----")?].to_owned())
}

/// Why a PEM block is not the one wanted, with the command that converts the common other forms.
fn pem_hint(label: Option<&str>, want: &str) -> String {
    match label {
        None => format!("no PEM block found; expected -----BEGIN {want}-----"),
        Some("RSA PRIVATE KEY") => "a PKCS#1 RSA private key; convert it to PKCS#8 with \
                                    `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.p8`"
            .into(),
        Some("ENCRYPTED PRIVATE KEY") => "an encrypted private key; decrypt it with \
                                          `openssl pkcs8 -in KEY -out KEY.p8`"
            .into(),
        Some("RSA PUBLIC KEY") => "a PKCS#1 RSA public key; convert it with \
                                   `openssl rsa -RSAPublicKey_in -in KEY -pubout -out KEY.pub`"
            .into(),
        Some("PRIVATE KEY") => "a private key: use --raw-rsa-private-key-file".into(),
        Some("PUBLIC KEY") => "a public key: use --raw-rsa-public-key-file (encrypt only)".into(),
        Some(other) => format!("unsupported PEM block {other:?}; expected {want}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn paddings_and_pem_labels() {
        assert_eq!(parse_padding("pkcs1").unwrap(), RsaPadding::Pkcs1V15);
        assert_eq!(parse_padding("oaep-sha512").unwrap(), RsaPadding::OaepSha512);
        assert!(parse_padding("oaep").is_err());
        assert_eq!(pem_label("x\n-----BEGIN RSA PRIVATE KEY-----\nAA\n").as_deref(), Some("RSA PRIVATE KEY"));
        assert_eq!(pem_label("nothing"), None);
        assert!(pem_hint(Some("RSA PRIVATE KEY"), "PRIVATE KEY").contains("openssl pkcs8"));
    }

    #[derive(clap::Parser)]
    struct Args {
        #[command(flatten)]
        keys: KeyArgs,
    }

    fn keys(args: &[&str]) -> KeyArgs {
        <Args as clap::Parser>::parse_from(std::iter::once("trent").chain(args.iter().copied())).keys
    }

    #[test]
    fn an_alias_on_decrypt_gets_the_way_out() {
        let none = || trent_esdk::Error::NoDecryptableKey("AWS KMS keyring: no encrypted data key matches".into());
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        for alias in ["alias/demo", "arn:aws:kms:us-east-1:111122223333:alias/demo"] {
            let text = explain(&keys(&["-w", &format!("key={alias}")]), none());
            assert!(text.contains(&format!("key={alias} is an alias")), "{text}");
            assert!(text.contains("Pass the key ARN") && text.contains("--discovery"), "{text}");
        }
        let text = explain(&keys(&["-w", "key=1234abcd-12ab-34cd-56ef-1234567890ab"]), none());
        assert!(text.contains("is not a key ARN"), "{text}");
        // A key ARN that did not match, or another error: the error as it is.
        assert_eq!(explain(&keys(&["-w", &format!("key={arn}")]), none()), none().to_string());
        let other = explain(&keys(&["-w", "key=alias/demo"]), trent_esdk::Error::HeaderAuthentication);
        assert_eq!(other, trent_esdk::Error::HeaderAuthentication.to_string());
    }
}
