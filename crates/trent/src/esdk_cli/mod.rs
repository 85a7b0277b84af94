//! `trent encrypt` / `trent decrypt`: envelope encryption of files in the AWS Encryption SDK message
//! format, with the flags people know from aws-encryption-cli.
//!
//! - Keys: `-w key=<ARN|alias> [key=...]` (AWS KMS keyring against the endpoint the environment names,
//!   e.g. after `eval "$(trent env)"`), `--raw-aes-key-file` with `--key-namespace`/`--key-name`, or
//!   both (the KMS key generates the data key). Decrypt: `-w key=<key ARN>`, `--discovery`, raw AES.
//! - Streaming with memory bounded by the frame length; `--buffer` holds a signed message's plaintext
//!   until the signature verifies.
//! - Output goes to a temporary file next to the destination (mode 0600), renamed into place only
//!   after the whole message was processed and verified, so a failure never leaves a partial file.
//!   With `-o -` nothing can be taken back: use `--buffer` when that matters.
//!
//! No progress bar: `indicatif` is not in the dependency tree, and the brief says none rather than a
//! new dependency.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use trent_crypto::SecretBytes;
use zeroize::Zeroizing;
use trent_esdk::trent_client::KmsClient;
use trent_esdk::{
    AlgorithmSuite, AwsKmsDiscoveryKeyring, AwsKmsKeyring, Client, CommitmentPolicy, DecryptMode,
    DecryptOptions, DefaultMaterialsManager, DiscoveryFilter, EncryptOptions, Keyring,
    MultiKeyring, RawAesKeyring,
};

/// I/O chunk: large enough that syscalls and frame bookkeeping do not dominate AES-GCM.
const CHUNK: usize = 1 << 20;

#[derive(clap::Args)]
pub(crate) struct CommonArgs {
    /// Input file, or `-` for standard input.
    #[arg(short = 'i', long)]
    input: String,
    /// Output file, or `-` for standard output.
    #[arg(short = 'o', long)]
    output: String,
    /// AWS KMS wrapping keys: `key=<id>` (repeatable), `provider=aws-kms`; on decrypt also
    /// `discovery=true`, `discovery-account=<id>`, `discovery-partition=<p>`.
    #[arg(short = 'w', long = "wrapping-keys", num_args = 1.., action = clap::ArgAction::Append)]
    wrapping_keys: Vec<String>,
    /// File holding a raw AES wrapping key (16, 24 or 32 bytes).
    #[arg(long, requires_all = ["key_namespace", "key_name"])]
    raw_aes_key_file: Option<PathBuf>,
    /// Key namespace (provider id) of the raw AES key.
    #[arg(long, requires = "raw_aes_key_file")]
    key_namespace: Option<String>,
    /// Key name of the raw AES key.
    #[arg(long, requires = "raw_aes_key_file")]
    key_name: Option<String>,
    /// Encryption context `key=value` pairs. On decrypt: pairs the message must carry (a bare `key`
    /// only requires the key).
    #[arg(short = 'c', long = "encryption-context", num_args = 1.., action = clap::ArgAction::Append)]
    encryption_context: Vec<String>,
    /// forbid-encrypt-allow-decrypt, require-encrypt-allow-decrypt or require-encrypt-require-decrypt.
    #[arg(long, default_value = "require-encrypt-require-decrypt")]
    commitment_policy: String,
    /// Fail when a message has more encrypted data keys than this.
    #[arg(long)]
    max_encrypted_data_keys: Option<usize>,
    /// Accepted for aws-encryption-cli compatibility: trent writes no metadata.
    #[arg(short = 'S', long = "suppress-metadata")]
    suppress_metadata: bool,
    /// Base64-encode the output (standard alphabet, padded, no line breaks).
    #[arg(long)]
    encode: bool,
    /// Base64-decode the input before processing (standard alphabet, padded, no line breaks).
    #[arg(long)]
    decode: bool,
}

#[derive(clap::Args)]
pub(crate) struct EncryptArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Algorithm suite name, e.g. AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 (the default).
    #[arg(long)]
    algorithm: Option<String>,
    /// Plaintext bytes per frame.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    frame_length: u32,
}

#[derive(clap::Args)]
pub(crate) struct DecryptArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Decrypt with any AWS KMS key the message names (credentials permitting).
    #[arg(long)]
    discovery: bool,
    /// Release no plaintext of a signed message until its signature verifies. File outputs always
    /// behave so (temporary file, renamed on success); with `-o -` this holds the plaintext in memory.
    #[arg(short = 'b', long)]
    buffer: bool,
    /// Refuse signed messages.
    #[arg(long)]
    decrypt_unsigned: bool,
    /// Refuse a message whose frame length (framed) or body length (non-framed) exceeds this many bytes,
    /// before any data key is decrypted.
    #[arg(long)]
    max_length: Option<u64>,
}

pub(crate) fn encrypt(args: EncryptArgs) -> Result<(), String> {
    let c = &args.common;
    let ctx = |e: String| format!("encrypt {}: {e}", c.input);
    let client = esdk_client(c).map_err(ctx)?;
    let context = parse_context(&c.encryption_context, false).map_err(ctx)?;
    let suite = args
        .algorithm
        .as_deref()
        .map(|n| AlgorithmSuite::from_name(n).ok_or_else(|| format!("unknown algorithm {n:?}")))
        .transpose()
        .map_err(ctx)?;
    let keyring = keyring(c, false).map_err(ctx)?;
    let cmm = DefaultMaterialsManager::new(keyring);
    let (input, length) = open_source(c).map_err(ctx)?;
    let options = EncryptOptions { suite, frame_length: args.frame_length, plaintext_length: length };
    let mut output = Output::create(&c.output).map_err(ctx)?;
    let result = encoded(&mut output, c.encode, |out| {
        let mut enc = client.encryptor(&cmm, &context, &options, out).map_err(|e| e.to_string())?;
        copy(input, &mut enc)?;
        enc.finish().map_err(|e| e.to_string())?;
        Ok(())
    });
    result.map_err(ctx)?;
    output.commit().map_err(ctx)
}

pub(crate) fn decrypt(args: DecryptArgs) -> Result<(), String> {
    let c = &args.common;
    let ctx = |e: String| format!("decrypt {}: {e}", c.input);
    let client = esdk_client(c).map_err(ctx)?;
    let expected = parse_context(&c.encryption_context, true).map_err(ctx)?;
    let mut discovery = args.discovery;
    if c.wrapping_keys.iter().any(|w| w == "discovery=true") {
        discovery = true;
    }
    let keyring = keyring(c, discovery).map_err(ctx)?;
    let cmm = DefaultMaterialsManager::new(keyring);
    // A file output is already all-or-nothing (temporary file, renamed after the signature verified),
    // so `--buffer` only changes standard output; buffering a file would hold it all in memory.
    let mode = match (args.buffer && c.output == "-", args.decrypt_unsigned) {
        (_, true) => DecryptMode::UnsignedOnly,
        (true, false) => DecryptMode::BufferUntilVerified,
        (false, false) => DecryptMode::Streaming,
    };
    let options = DecryptOptions { mode, max_length: args.max_length, ..DecryptOptions::default() };
    let (input, _) = open_source(c).map_err(ctx)?;
    let mut dec = client.decryptor(&cmm, input, &options).map_err(|e| ctx(e.to_string()))?;
    // aws-encryption-cli semantics: the given pairs must be in the message's (authenticated) context.
    for (k, v) in &expected {
        match dec.encryption_context().get(k) {
            Some(have) if v.is_empty() || have == v => {}
            Some(_) => return Err(ctx(format!("encryption context mismatch for key {k:?}"))),
            None => return Err(ctx(format!("encryption context has no key {k:?}"))),
        }
    }
    let mut output = Output::create(&c.output).map_err(ctx)?;
    encoded(&mut output, c.encode, |out| copy(&mut dec, out)).map_err(ctx)?;
    output.commit().map_err(ctx)
}

fn esdk_client(c: &CommonArgs) -> Result<Client, String> {
    let policy = match c.commitment_policy.as_str() {
        "forbid-encrypt-allow-decrypt" => CommitmentPolicy::ForbidEncryptAllowDecrypt,
        "require-encrypt-allow-decrypt" => CommitmentPolicy::RequireEncryptAllowDecrypt,
        "require-encrypt-require-decrypt" => CommitmentPolicy::RequireEncryptRequireDecrypt,
        other => return Err(format!("unknown commitment policy {other:?}")),
    };
    let mut client = Client::new().with_commitment_policy(policy);
    if let Some(max) = c.max_encrypted_data_keys {
        client = client.with_max_encrypted_data_keys(max);
    }
    Ok(client)
}

/// `k=v` pairs; on decrypt a bare `k` means "must be present" (value left empty).
fn parse_context(pairs: &[String], allow_bare: bool) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for p in pairs {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k, v),
            None if allow_bare => (p.as_str(), ""),
            None => return Err(format!("encryption context {p:?} is not key=value")),
        };
        if k.is_empty() || out.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(format!("encryption context key {k:?} is empty or repeated"));
        }
    }
    Ok(out)
}

/// The keyring the flags describe; several become a multi-keyring (KMS first, so it generates).
fn keyring(c: &CommonArgs, discovery: bool) -> Result<Arc<dyn Keyring>, String> {
    let mut keyrings: Vec<Arc<dyn Keyring>> = Vec::new();
    let (mut keys, mut accounts, mut partition) = (Vec::new(), Vec::new(), None);
    for param in &c.wrapping_keys {
        let (k, v) = param
            .split_once('=')
            .ok_or_else(|| format!("wrapping key parameter {param:?} is not name=value"))?;
        match k {
            "key" => keys.push(v.to_owned()),
            "provider" if v == "aws-kms" => {}
            "provider" => return Err(format!("provider {v:?} is not supported (only aws-kms; raw AES keys use --raw-aes-key-file)")),
            "discovery" if v == "true" || v == "false" => {}
            "discovery-account" => accounts.push(v.to_owned()),
            "discovery-partition" => partition = Some(v.to_owned()),
            other => return Err(format!("unknown wrapping key parameter {other:?}")),
        }
    }
    if discovery || !keys.is_empty() {
        let kms = Arc::new(KmsClient::from_env().map_err(|e| e.to_string())?);
        if discovery {
            if !keys.is_empty() {
                return Err("use either discovery or key=..., not both".into());
            }
            let filter = match (partition, accounts.is_empty()) {
                (None, true) => None,
                (Some(partition), false) => Some(DiscoveryFilter { partition, accounts }),
                _ => return Err("discovery-account and discovery-partition go together".into()),
            };
            keyrings.push(Arc::new(AwsKmsDiscoveryKeyring::new(kms, filter).map_err(|e| e.to_string())?));
        } else {
            keyrings.push(Arc::new(AwsKmsKeyring::new(kms, keys).map_err(|e| e.to_string())?));
        }
    }
    if let (Some(path), Some(ns), Some(name)) = (&c.raw_aes_key_file, &c.key_namespace, &c.key_name) {
        let key = read_key_file(path)?;
        keyrings.push(Arc::new(RawAesKeyring::new(ns, name, key).map_err(|e| e.to_string())?));
    }
    match keyrings.len() {
        0 => Err("no wrapping key: give -w key=<ARN>, --discovery (decrypt) or --raw-aes-key-file".into()),
        1 => keyrings.pop().ok_or_else(|| "no keyring".into()),
        _ => {
            let generator = keyrings.remove(0);
            Ok(Arc::new(MultiKeyring::new(Some(generator), keyrings).map_err(|e| e.to_string())?))
        }
    }
}

fn read_key_file(path: &Path) -> Result<SecretBytes, String> {
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

/// The input stream and, for a regular file, its length (the encryptor checks it).
fn open_input(path: &str) -> Result<(Box<dyn Read>, Option<u64>), String> {
    if path == "-" {
        return Ok((Box::new(BufReader::with_capacity(CHUNK, std::io::stdin().lock())), None));
    }
    let f = File::open(path).map_err(|e| format!("cannot open input: {e}"))?;
    let meta = f.metadata().map_err(|e| format!("cannot stat input: {e}"))?;
    let len = meta.is_file().then_some(meta.len());
    Ok((Box::new(f), len))
}

/// The input, base64-decoded on the fly with `--decode` (its length is then not the payload's).
fn open_source(c: &CommonArgs) -> Result<(Box<dyn Read>, Option<u64>), String> {
    let (input, length) = open_input(&c.input)?;
    if !c.decode {
        return Ok((input, length));
    }
    Ok((Box::new(base64::read::DecoderReader::new(input, &base64::engine::general_purpose::STANDARD)), None))
}

/// Runs `write` into `output`, through a streaming base64 encoder with `--encode` (finished, so its
/// last partial group and padding are written, before the output is committed).
fn encoded(
    output: &mut Output,
    encode: bool,
    write: impl FnOnce(&mut dyn Write) -> Result<(), String>,
) -> Result<(), String> {
    if !encode {
        return write(output);
    }
    let mut b64 = base64::write::EncoderWriter::new(output, &base64::engine::general_purpose::STANDARD);
    write(&mut b64)?;
    b64.finish().map_err(io_cause)?.flush().map_err(io_cause)
}

fn copy(mut from: impl Read, to: &mut (impl Write + ?Sized)) -> Result<(), String> {
    // Holds plaintext on one side or the other: wiped when done.
    let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_cause(e)),
        };
        to.write_all(&buf[..n]).map_err(io_cause)?;
    }
    to.flush().map_err(io_cause)
}

/// The library's error when it travelled inside an `io::Error`, else the I/O error.
fn io_cause(e: std::io::Error) -> String {
    match e.get_ref() {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}

/// Standard output, or a temporary file next to the destination that becomes it on commit and is
/// removed otherwise (including on drop after an error).
enum Output {
    Stdout(BufWriter<std::io::Stdout>),
    File { file: Option<BufWriter<File>>, tmp: PathBuf, dest: PathBuf },
}

impl Output {
    fn create(path: &str) -> Result<Self, String> {
        if path == "-" {
            return Ok(Self::Stdout(BufWriter::with_capacity(CHUNK, std::io::stdout())));
        }
        let dest = PathBuf::from(path);
        if dest.is_dir() {
            return Err(format!("output {path} is a directory"));
        }
        let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = dest.file_name().ok_or_else(|| format!("output {path} has no file name"))?;
        let suffix: [u8; 6] = trent_crypto::random_array().map_err(|e| e.to_string())?;
        let tmp = dir.join(format!(
            ".{}.trent-{}.tmp",
            name.to_string_lossy(),
            trent_crypto::digest::hex(&suffix)
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            // Decrypted output is plaintext: readable by the owner only until the owner decides otherwise.
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        Ok(Self::File { file: Some(BufWriter::with_capacity(CHUNK, file)), tmp, dest })
    }

    fn commit(mut self) -> Result<(), String> {
        match &mut self {
            Self::Stdout(w) => w.flush().map_err(|e| format!("writing standard output: {e}")),
            Self::File { file, tmp, dest } => {
                let w = file.take().ok_or("output already committed")?;
                let f = w.into_inner().map_err(|e| format!("writing {}: {}", tmp.display(), e.error()))?;
                f.sync_all().map_err(|e| format!("writing {}: {e}", tmp.display()))?;
                drop(f);
                std::fs::rename(&*tmp, &*dest)
                    .map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), dest.display()))?;
                // Nothing left to clean up on drop.
                *tmp = PathBuf::new();
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Stdout(w) => w.write(buf),
            Self::File { file: Some(w), .. } => w.write(buf),
            Self::File { file: None, .. } => Err(std::io::Error::other("output already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Stdout(w) => w.flush(),
            Self::File { file: Some(w), .. } => w.flush(),
            Self::File { file: None, .. } => Ok(()),
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Self::File { file, tmp, .. } = self
            && !tmp.as_os_str().is_empty()
        {
            drop(file.take());
            // Best effort: the error that got us here is what the user needs to see.
            let _ = std::fs::remove_file(&*tmp);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn contexts_parse() {
        let c = parse_context(&["a=1".into(), "b=x=y".into()], false).unwrap();
        assert_eq!(c.get("b").map(String::as_str), Some("x=y"));
        assert!(parse_context(&["a".into()], false).is_err());
        assert_eq!(parse_context(&["a".into()], true).unwrap().get("a").map(String::as_str), Some(""));
        assert!(parse_context(&["a=1".into(), "a=2".into()], false).is_err());
    }

    #[test]
    fn failed_output_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("trent-esdk-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("out.bin");
        {
            let mut o = Output::create(dest.to_str().unwrap()).unwrap();
            o.write_all(b"partial").unwrap();
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let mut o = Output::create(dest.to_str().unwrap()).unwrap();
        o.write_all(b"whole").unwrap();
        o.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
