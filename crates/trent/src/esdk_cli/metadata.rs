//! `--metadata-output`: one JSON line per processed file, in aws-encryption-cli's layout (its
//! `json_ready_header`): `mode`, `input`, `output`, `header` (algorithm name, message id, encryption
//! context, encrypted data keys with base64 provider id / key info / ciphertext, ...), and on decrypt
//! `header_auth`. Keys are sorted, as Python's `json.dumps(sort_keys=True)` writes them.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use base64::Engine;
use serde_json::{Value, json};
use trent_esdk::{ContentType, HeaderAuth, HeaderBody};

use super::paths::Endpoint;

/// Where metadata lines go, or nowhere (`-S`).
pub(super) enum Metadata {
    Suppressed,
    Stdout,
    File(File),
}

impl Metadata {
    /// Opens the file for appending (aws-encryption-cli's default) or, with `overwrite`, truncates it.
    pub(super) fn open(target: Option<&str>, overwrite: bool) -> Result<Self, String> {
        let Some(target) = target else { return Ok(Self::Suppressed) };
        if target == "-" {
            return Ok(Self::Stdout);
        }
        let path = PathBuf::from(target);
        if path.is_dir() {
            return Err(format!("metadata output {target} is a directory"));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(!overwrite)
            .write(true)
            .truncate(overwrite)
            .open(&path)
            .map_err(|e| format!("cannot open metadata output {target}: {e}"))?;
        Ok(Self::File(file))
    }

    pub(super) fn write(&mut self, record: &Value) -> Result<(), String> {
        let mut line = record.to_string();
        line.push('\n');
        let result = match self {
            Self::Suppressed => return Ok(()),
            Self::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes()).and_then(|()| out.flush())
            }
            Self::File(f) => f.write_all(line.as_bytes()),
        };
        result.map_err(|e| format!("writing metadata: {e}"))
    }
}

/// The record of one operation. `mode` is `encrypt`, `decrypt` or `decrypt-unsigned`.
pub(super) fn record(
    mode: &str,
    input: &Endpoint,
    output: &Endpoint,
    header: &HeaderBody,
    auth: Option<&HeaderAuth>,
) -> Value {
    let mut r = json!({
        "mode": mode,
        "input": name(input, "<stdin>"),
        "output": name(output, "<stdout>"),
        "header": header_json(header),
    });
    if let Some(auth) = auth {
        r["header_auth"] = json!({
            // v2 headers store no IV; aws-encryption-sdk reports its fixed all-zero one.
            "iv": b64(&auth.iv.unwrap_or_default()),
            "tag": b64(&auth.tag),
        });
    }
    r
}

/// Python names file objects by the absolute path it opened, and standard streams `<stdin>`/`<stdout>`.
fn name(e: &Endpoint, std: &str) -> String {
    match e {
        Endpoint::Std => std.into(),
        Endpoint::File(p) => std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string(),
    }
}

fn header_json(h: &HeaderBody) -> Value {
    let v2 = h.version() == 2;
    let mut edks: Vec<_> = h.encrypted_data_keys.iter().collect();
    // aws-encryption-cli sorts by the concatenation provider id ‖ key info (not by the pair).
    edks.sort_by_cached_key(|e| [e.provider_id.as_bytes(), &e.provider_info].concat());
    json!({
        "algorithm": h.suite.name(),
        "commitment_key": h.commit_key.map(|k| b64(&k)),
        "content_type": match h.content_type { ContentType::NonFramed => 1, ContentType::Framed => 2 },
        "encrypted_data_keys": edks.iter().map(|e| json!({
            "encrypted_data_key": b64(&e.ciphertext),
            "key_provider": { "key_info": b64(&e.provider_info), "provider_id": b64(e.provider_id.as_bytes()) },
        })).collect::<Vec<_>>(),
        "encryption_context": h.encryption_context,
        "frame_length": h.frame_length,
        "header_iv_length": if v2 { Value::Null } else { json!(12) },
        "message_id": b64(&h.message_id),
        "type": if v2 { Value::Null } else { json!(128) },
        "version": if v2 { "2.0" } else { "1.0" },
    })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
