//! `trent encrypt` / `trent decrypt`: envelope encryption of files in the AWS Encryption SDK message
//! format, with the flags people know from aws-encryption-cli.
//!
//! - Keys (`keys.rs`): `-w key=<ARN|alias> [key=...]` (AWS KMS keyring against the endpoint the
//!   environment names, e.g. after `eval "$(trent env)"`), a raw AES key file or a raw RSA PEM key file
//!   with `--key-namespace`/`--key-name`, or KMS plus a raw key (the KMS key generates the data key).
//!   Decrypt: `-w key=<key ARN>`, `--discovery`, raw AES, raw RSA private key.
//! - Inputs and outputs (`paths.rs`): files, `-`, directories with `-r` (structure mirrored, names get
//!   `--suffix`), globs; every pair is planned before anything is written.
//! - Streaming with memory bounded by the frame length plus 1 MiB I/O buffers (`input.rs`); `--buffer`
//!   holds a signed message's plaintext until the signature verifies.
//! - Output goes to a temporary file next to the destination (mode 0600), renamed into place only
//!   after the whole message was processed and verified, so a failure never leaves a partial file
//!   (`output.rs`). With `-o -` nothing can be taken back: use `--buffer` when that matters.
//! - `--interactive` / `--no-overwrite` protect existing output files as in aws-encryption-cli
//!   (`overwrite.rs`).
//! - Exactly one of `-S` and `--metadata-output` (as aws-encryption-cli requires): one JSON line per
//!   file in aws-encryption-cli's layout (`metadata.rs`).
//! - A progress bar on standard error for large files when it is a terminal, none when piped
//!   (`progress.rs`).

mod input;
mod keys;
mod metadata;
mod output;
mod overwrite;
mod paths;
mod progress;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufRead;
use std::path::Path;

use trent_esdk::{
    AlgorithmSuite, Client, CommitmentPolicy, DecryptMode, DecryptOptions, DefaultMaterialsManager, EncryptOptions,
    EncryptionContext,
};

use input::SecretBufReader;
use metadata::Metadata;
use output::{Output, copy, encoded, pump};
use paths::{Endpoint, Job};
use progress::Progress;

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("metadata").required(true).multiple(false))]
pub(crate) struct CommonArgs {
    /// Input file, directory (with -r), glob pattern, or `-` for standard input.
    #[arg(short = 'i', long)]
    input: String,
    /// Output file, existing directory, or `-` for standard output.
    #[arg(short = 'o', long)]
    output: String,
    /// Process the files of directory inputs, mirroring their structure under the output directory.
    #[arg(short = 'r', short_alias = 'R', long)]
    recursive: bool,
    /// Appended to the name of each file written into an output directory (default `.encrypted` on
    /// encrypt, `.decrypted` on decrypt; `--suffix` alone: nothing).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    suffix: Option<String>,
    #[command(flatten)]
    keys: keys::KeyArgs,
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
    /// Write no metadata (this or --metadata-output is required, as in aws-encryption-cli).
    #[arg(short = 'S', long = "suppress-metadata", group = "metadata")]
    suppress_metadata: bool,
    /// Append one JSON line per processed file to this file (`-`: standard output).
    #[arg(long, group = "metadata", value_name = "FILE|-")]
    metadata_output: Option<String>,
    /// Truncate the metadata file instead of appending to it.
    #[arg(long, requires = "metadata_output")]
    overwrite_metadata: bool,
    /// Base64-encode the output (standard alphabet, padded, no line breaks).
    #[arg(long)]
    encode: bool,
    /// Base64-decode the input before processing (standard alphabet, padded, no line breaks).
    #[arg(long)]
    decode: bool,
    /// Ask before overwriting an existing output file; only an answer starting with y overwrites it.
    #[arg(long)]
    interactive: bool,
    /// Never overwrite an existing output file: skip it with a message (wins over --interactive).
    #[arg(long)]
    no_overwrite: bool,
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
    let cmm = DefaultMaterialsManager::new(keys::keyring(&c.keys, false, false).map_err(ctx)?);
    let (jobs, mut metadata) = prepare(c, ".encrypted").map_err(ctx)?;
    for job in &jobs {
        let ctx = |e: String| format!("encrypt {}: {e}", job.source.shown());
        let Some(no_replace) = overwrite_check(c, job).map_err(ctx)? else { continue };
        let (mut input, length, _progress) = open_source(&job.source, c.decode, "encrypt").map_err(ctx)?;
        let options = EncryptOptions { suite, frame_length: args.frame_length, plaintext_length: length };
        let mut output = create_output(&job.dest, no_replace).map_err(ctx)?;
        let mut header = None;
        encoded(&mut output, c.encode, |out| {
            let mut enc = client.encryptor(&cmm, &context, &options, out).map_err(|e| e.to_string())?;
            header = Some(enc.header().clone());
            pump(&mut *input, &mut enc)?;
            enc.finish().map_err(|e| e.to_string())?;
            Ok(())
        })
        .map_err(ctx)?;
        output.commit().map_err(ctx)?;
        if let Some(h) = &header {
            metadata.write(&metadata::record("encrypt", &job.source, &job.dest, h, None)).map_err(ctx)?;
        }
    }
    Ok(())
}

pub(crate) fn decrypt(args: DecryptArgs) -> Result<(), String> {
    let c = &args.common;
    let ctx = |e: String| format!("decrypt {}: {e}", c.input);
    let client = esdk_client(c).map_err(ctx)?;
    let expected = parse_context(&c.encryption_context, true).map_err(ctx)?;
    let discovery = args.discovery || c.keys.wrapping_keys.iter().any(|w| w == "discovery=true");
    let cmm = DefaultMaterialsManager::new(keys::keyring(&c.keys, discovery, true).map_err(ctx)?);
    let mode_name = if args.decrypt_unsigned { "decrypt-unsigned" } else { "decrypt" };
    let (jobs, mut metadata) = prepare(c, ".decrypted").map_err(ctx)?;
    for job in &jobs {
        let ctx = |e: String| format!("decrypt {}: {e}", job.source.shown());
        // Before the input is read: a skipped file costs no KMS call.
        let Some(no_replace) = overwrite_check(c, job).map_err(ctx)? else { continue };
        // A file output is already all-or-nothing (temporary file, renamed after the signature verified),
        // so `--buffer` only changes standard output; buffering a file would hold it all in memory.
        let mode = match (args.buffer && job.dest == Endpoint::Std, args.decrypt_unsigned) {
            (_, true) => DecryptMode::UnsignedOnly,
            (true, false) => DecryptMode::BufferUntilVerified,
            (false, false) => DecryptMode::Streaming,
        };
        let options = DecryptOptions { mode, max_length: args.max_length, ..DecryptOptions::default() };
        let (input, _, _progress) = open_source(&job.source, c.decode, "decrypt").map_err(ctx)?;
        let mut dec = client.decryptor(&cmm, input, &options).map_err(|e| ctx(keys::explain(&c.keys, e)))?;
        let record = metadata::record(mode_name, &job.source, &job.dest, dec.header(), Some(dec.header_auth()));
        if let Err((e, missing)) = check_context(&expected, dec.encryption_context()) {
            // As aws-encryption-cli: the file is skipped and the metadata says why. Unlike it, the run
            // then fails (non-zero exit), so scripts notice.
            metadata.write(&skipped(record, missing)).map_err(ctx)?;
            return Err(ctx(e));
        }
        let mut output = create_output(&job.dest, no_replace).map_err(ctx)?;
        encoded(&mut output, c.encode, |out| copy(&mut dec, out)).map_err(ctx)?;
        output.commit().map_err(ctx)?;
        metadata.write(&record).map_err(ctx)?;
    }
    Ok(())
}

/// The jobs and the metadata sink, both checked before anything is written.
fn prepare(c: &CommonArgs, default_suffix: &str) -> Result<(Vec<Job>, Metadata), String> {
    let suffix = c.suffix.as_deref().unwrap_or(default_suffix);
    let request = paths::Request { input: &c.input, output: &c.output, recursive: c.recursive, suffix };
    let jobs = paths::plan(&request)?;
    if let Some(target) = c.metadata_output.as_deref() {
        check_metadata_target(target, &jobs)?;
    }
    let metadata = Metadata::open(c.metadata_output.as_deref(), c.overwrite_metadata)?;
    Ok((jobs, metadata))
}

/// aws-encryption-cli's checks: metadata must not go where the data goes, nor overwrite an input.
fn check_metadata_target(target: &str, jobs: &[Job]) -> Result<(), String> {
    let meta = Path::new(target);
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    for job in jobs {
        if target == "-" && job.dest == Endpoint::Std {
            return Err("metadata and output cannot both go to standard output".into());
        }
        for end in [&job.source, &job.dest] {
            if let Endpoint::File(p) = end
                && target != "-"
                && (paths::same_file(p, meta) || abs(p) == abs(meta))
            {
                return Err(format!("metadata output {target} is also an input or output file"));
            }
        }
    }
    Ok(())
}

/// Required context entries a message lacks: a key with the value it must have, or `None` when only
/// the key is required.
type Missing = Vec<(String, Option<String>)>;

/// The required pairs (an empty value: only the key) that `have` lacks, as an error and the list.
fn check_context(expected: &BTreeMap<String, String>, have: &EncryptionContext) -> Result<(), (String, Missing)> {
    let missing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| match have.get(*k) {
            Some(h) => !v.is_empty() && h != *v,
            None => true,
        })
        .map(|(k, v)| (k.clone(), (!v.is_empty()).then(|| v.clone())))
        .collect();
    let Some((k, v)) = missing.first() else { return Ok(()) };
    let e = match (have.contains_key(k), v) {
        (true, _) => format!("encryption context mismatch for key {k:?}"),
        (false, _) => format!("encryption context has no key {k:?}"),
    };
    Err((e, missing))
}

/// aws-encryption-cli's record of a file skipped for its encryption context.
fn skipped(mut record: serde_json::Value, missing: Missing) -> serde_json::Value {
    let keys: Vec<_> = missing.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k.clone()).collect();
    let pairs: Vec<_> = missing.into_iter().filter_map(|(k, v)| v.map(|v| serde_json::json!([k, v]))).collect();
    record["skipped"] = true.into();
    record["reason"] = "Missing encryption context key or value".into();
    record["missing_encryption_context_keys"] = keys.into();
    record["missing_encryption_context_pairs"] = pairs.into();
    record
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

/// An opened input: the stream, its payload length when known, and its progress bar (kept alive
/// while the stream is read).
type Source = (Box<dyn BufRead>, Option<u64>, Progress);

/// The input stream (counted on the progress bar), base64-decoded on the fly with `--decode`, and for
/// a regular file without `--decode` its length (the encryptor checks it).
fn open_source(source: &Endpoint, decode: bool, verb: &str) -> Result<Source, String> {
    let (input, length, progress): (Box<dyn BufRead>, _, _) = match source {
        Endpoint::Std => (Box::new(SecretBufReader::new(std::io::stdin().lock())), None, Progress::new(None, verb)),
        Endpoint::File(path) => {
            let f = File::open(path).map_err(|e| format!("cannot open input: {e}"))?;
            let meta = f.metadata().map_err(|e| format!("cannot stat input: {e}"))?;
            let len = meta.is_file().then_some(meta.len());
            let progress = Progress::new(len, &format!("{verb} {}", path.display()));
            // Buffered: the decryptor reads each frame's small fields separately.
            (Box::new(SecretBufReader::new(progress.wrap(f))), len, progress)
        }
    };
    if !decode {
        return Ok((input, length, progress));
    }
    let b64 = base64::read::DecoderReader::new(input, &base64::engine::general_purpose::STANDARD);
    Ok((Box::new(SecretBufReader::new(b64)), None, progress))
}

/// `--interactive` / `--no-overwrite` for one job: `None` to skip it, else whether its output must not replace
/// a file at commit (one that appears while it is processed, or any file when no overwrite was confirmed).
fn overwrite_check(c: &CommonArgs, job: &Job) -> Result<Option<bool>, String> {
    let policy = overwrite::Policy::from_flags(c.interactive, c.no_overwrite);
    let Endpoint::File(dest) = &job.dest else { return Ok(Some(false)) };
    let existed = dest.is_file();
    if !overwrite::may_write(policy, dest, job.source == Endpoint::Std)? {
        return Ok(None);
    }
    Ok(Some(policy != overwrite::Policy::Overwrite && !existed))
}

fn create_output(dest: &Endpoint, no_replace: bool) -> Result<Output, String> {
    match dest {
        Endpoint::Std => Ok(Output::stdout()),
        Endpoint::File(path) => {
            // Directory runs mirror the input tree: its subdirectories appear as they are needed.
            if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
            }
            let output = Output::file(path)?;
            Ok(if no_replace { output.no_replace() } else { output })
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
    fn required_context_reports_what_is_missing() {
        let have: EncryptionContext = [("a".to_string(), "1".to_string())].into_iter().collect();
        let want = parse_context(&["a".into(), "b".into(), "a=2".into()], true);
        assert!(want.is_err()); // repeated key
        assert!(check_context(&parse_context(&["a".into()], true).unwrap(), &have).is_ok());
        let (e, missing) =
            check_context(&parse_context(&["a=2".into(), "b".into()], true).unwrap(), &have).unwrap_err();
        assert!(e.contains("mismatch for key \"a\""), "{e}");
        assert_eq!(missing, [("a".to_string(), Some("2".to_string())), ("b".to_string(), None)]);
    }
}
