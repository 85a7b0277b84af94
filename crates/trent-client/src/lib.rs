//! A small, synchronous AWS KMS client for Trent's own tools (the Encryption SDK's KMS keyring, the
//! `trent encrypt`/`trent decrypt` CLI). It speaks to any KMS endpoint, Trent or AWS: JSON 1.1 over
//! HTTP/1.1 with SigV4, found and authenticated the standard way (see [`Config::from_env`]).
//!
//! Why not the AWS SDK: it is large, async-only and a dev-dependency of the server tests by rule; the
//! three operations the ESDK needs fit in a few hundred lines on crates already in the tree.
//!
//! Calls are blocking: each runs on the client's own single-threaded tokio runtime, driven from a
//! short-lived thread so that callers inside another tokio runtime do not panic (async callers should
//! still prefer `spawn_blocking`: the call blocks its thread).
//!
//! Secrets (plaintexts, data keys) come back as [`SecretBytes`]; our own copies of their base64 are
//! zeroized. Buffers inside hyper and rustls are not under our control.

mod config;
pub mod sigv4;
mod transport;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use trent_crypto::SecretBytes;
use zeroize::Zeroizing;

pub use config::Endpoint;
pub use sigv4::Credentials;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Every failure of the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("KMS client configuration: {0}")]
    Config(String),
    #[error("cannot reach KMS at {endpoint}: {message}")]
    Transport { endpoint: String, message: String },
    /// An error response: `code` is the AWS error type (`__type` without its namespace).
    #[error("KMS {operation} failed: {code}: {message}")]
    Service { operation: &'static str, status: u16, code: String, message: String },
    #[error("unexpected KMS response to {operation}: {detail}")]
    Protocol { operation: &'static str, detail: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Endpoint, region and credentials, plus the trust store for HTTPS.
#[derive(Debug, Clone)]
pub struct Config {
    /// `None`: the regional AWS endpoint for each request's region.
    pub endpoint: Option<Endpoint>,
    /// For key ids that are not ARNs (the region of an ARN wins, as in the AWS Encryption SDKs).
    pub region: Option<String>,
    pub credentials: Credentials,
    /// PEM bundle to trust instead of the system roots.
    pub ca_bundle: Option<PathBuf>,
    pub timeout: Duration,
}

impl Config {
    /// From the process environment: `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` (else the
    /// shared credentials file), `AWS_CA_BUNDLE`.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Like [`Config::from_env`] with an explicit environment (tests, or a server's `trent env`).
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        Ok(Self {
            endpoint: config::configured_endpoint(env)?,
            region: config::region(env),
            credentials: config::credentials(env)?,
            ca_bundle: env("AWS_CA_BUNDLE").filter(|v| !v.is_empty()).map(PathBuf::from),
            timeout: Duration::from_secs(30),
        })
    }
}

/// Result of GenerateDataKey.
pub struct GenerateDataKeyOutput {
    /// The key ARN KMS used.
    pub key_id: String,
    pub ciphertext_blob: Vec<u8>,
    pub plaintext: SecretBytes,
}

/// Result of Encrypt.
#[derive(Debug)]
pub struct EncryptOutput {
    pub key_id: String,
    pub ciphertext_blob: Vec<u8>,
}

/// Result of Decrypt.
pub struct DecryptOutput {
    pub key_id: String,
    pub plaintext: SecretBytes,
}

/// The client. Cheap to share (`Send + Sync`); requests from several threads are serialized on its
/// runtime only while they wait on the network.
pub struct KmsClient {
    config: Config,
    transport: transport::Transport,
}

impl std::fmt::Debug for KmsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsClient").field("config", &self.config).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Request<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plaintext: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ciphertext_blob: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_of_bytes: Option<usize>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    encryption_context: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    grant_tokens: &'a [String],
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    key_id: Option<String>,
    ciphertext_blob: Option<String>,
    plaintext: Option<Zeroizing<String>>,
}

impl KmsClient {
    /// [`Config::from_env`] and [`KmsClient::new`].
    pub fn from_env() -> Result<Self> {
        Self::new(Config::from_env()?)
    }

    pub fn new(config: Config) -> Result<Self> {
        let transport = transport::Transport::new(config.ca_bundle.as_deref(), config.timeout)?;
        Ok(Self { config, transport })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// GenerateDataKey with `NumberOfBytes`; checks the returned plaintext length.
    pub fn generate_data_key(
        &self,
        key_id: &str,
        number_of_bytes: usize,
        encryption_context: &BTreeMap<String, String>,
        grant_tokens: &[String],
    ) -> Result<GenerateDataKeyOutput> {
        const OP: &str = "GenerateDataKey";
        let req = Request {
            key_id: Some(key_id),
            plaintext: None,
            ciphertext_blob: None,
            number_of_bytes: Some(number_of_bytes),
            encryption_context,
            grant_tokens,
        };
        let resp = self.call(OP, key_id, &req)?;
        let plaintext = secret_field(OP, resp.plaintext)?;
        if plaintext.len() != number_of_bytes {
            return Err(protocol(OP, "the data key has the wrong length"));
        }
        Ok(GenerateDataKeyOutput {
            key_id: resp.key_id.ok_or_else(|| protocol(OP, "no KeyId"))?,
            ciphertext_blob: blob_field(OP, resp.ciphertext_blob)?,
            plaintext,
        })
    }

    pub fn encrypt(
        &self,
        key_id: &str,
        plaintext: &SecretBytes,
        encryption_context: &BTreeMap<String, String>,
        grant_tokens: &[String],
    ) -> Result<EncryptOutput> {
        const OP: &str = "Encrypt";
        // Exposed to send it: base64 into a buffer that is wiped after serialization.
        let b64 = Zeroizing::new(B64.encode(plaintext.expose_secret()));
        let req = Request {
            key_id: Some(key_id),
            plaintext: Some(&b64),
            ciphertext_blob: None,
            number_of_bytes: None,
            encryption_context,
            grant_tokens,
        };
        let resp = self.call(OP, key_id, &req)?;
        Ok(EncryptOutput {
            key_id: resp.key_id.ok_or_else(|| protocol(OP, "no KeyId"))?,
            ciphertext_blob: blob_field(OP, resp.ciphertext_blob)?,
        })
    }

    /// Decrypt with `KeyId` set, so KMS refuses a ciphertext of another key (what the ESDK's strict
    /// and discovery keyrings both do: discovery passes the ARN from the message).
    pub fn decrypt(
        &self,
        key_id: &str,
        ciphertext_blob: &[u8],
        encryption_context: &BTreeMap<String, String>,
        grant_tokens: &[String],
    ) -> Result<DecryptOutput> {
        const OP: &str = "Decrypt";
        let blob = B64.encode(ciphertext_blob);
        let req = Request {
            key_id: Some(key_id),
            plaintext: None,
            ciphertext_blob: Some(&blob),
            number_of_bytes: None,
            encryption_context,
            grant_tokens,
        };
        let resp = self.call(OP, key_id, &req)?;
        Ok(DecryptOutput {
            key_id: resp.key_id.ok_or_else(|| protocol(OP, "no KeyId"))?,
            plaintext: secret_field(OP, resp.plaintext)?,
        })
    }

    /// Signs and sends one operation; the region comes from `key_id` when it is an ARN.
    fn call(&self, operation: &'static str, key_id: &str, req: &Request<'_>) -> Result<Response> {
        let region = region_of_arn(key_id)
            .map(str::to_owned)
            .or_else(|| self.config.region.clone())
            .ok_or_else(|| Error::Config(format!("no region for key {key_id:?}: use a key ARN or set AWS_REGION")))?;
        let endpoint = self.config.endpoint.clone().unwrap_or_else(|| config::regional_endpoint(&region));
        // The body may carry a plaintext in base64: serialize into a buffer sized up front (so it is not
        // reallocated, leaving copies) that zeroizes when dropped.
        let mut body = Zeroizing::new(Vec::with_capacity(
            256 + req.plaintext.map_or(0, str::len)
                + req.ciphertext_blob.map_or(0, str::len)
                + req.encryption_context.iter().map(|(k, v)| k.len() + v.len() + 8).sum::<usize>(),
        ));
        serde_json::to_writer(&mut *body, req).map_err(|e| protocol(operation, &e.to_string()))?;

        let host = endpoint.host_header();
        let amz_date = sigv4::amz_date(SystemTime::now());
        let target = format!("TrentService.{operation}");
        let creds = &self.config.credentials;
        let mut headers: Vec<(&str, &str)> =
            vec![("content-type", "application/x-amz-json-1.1"), ("host", &host), ("x-amz-date", &amz_date)];
        if let Some(token) = creds.session_token.as_deref() {
            headers.push(("x-amz-security-token", token));
        }
        headers.push(("x-amz-target", &target));
        // One call, one signature: a fresh signer costs four HMACs, nothing next to a TLS round trip.
        let auth = sigv4::Signer::new(creds.clone(), &region, "kms").authorization(
            &sigv4::Canonical { method: "POST", path: "/", query: "", headers: &headers, payload: &body },
            &amz_date,
        );
        headers.push(("authorization", &auth));
        let reply = self.transport.post(&endpoint, &headers, body)?;
        let body = Zeroizing::new(reply.body);
        if reply.status != 200 {
            return Err(service_error(operation, reply.status, reply.error_type.as_deref(), &body));
        }
        serde_json::from_slice(&body).map_err(|e| protocol(operation, &format!("invalid JSON: {e}")))
    }
}

/// The region of a KMS key or alias ARN (`arn:<partition>:kms:<region>:<account>:...`).
pub fn region_of_arn(id: &str) -> Option<&str> {
    let mut parts = id.splitn(6, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some("kms"), Some(region)) if !region.is_empty() => Some(region),
        _ => None,
    }
}

fn protocol(operation: &'static str, detail: &str) -> Error {
    Error::Protocol { operation, detail: detail.to_owned() }
}

fn blob_field(op: &'static str, v: Option<String>) -> Result<Vec<u8>> {
    let v = v.ok_or_else(|| protocol(op, "no CiphertextBlob"))?;
    B64.decode(v.as_bytes()).map_err(|_| protocol(op, "CiphertextBlob is not base64"))
}

fn secret_field(op: &'static str, v: Option<Zeroizing<String>>) -> Result<SecretBytes> {
    let v = v.ok_or_else(|| protocol(op, "no Plaintext"))?;
    // Decoded into a wiping buffer, then moved (not copied) into its owner.
    let mut buf = Zeroizing::new(Vec::with_capacity(v.len() / 4 * 3 + 3));
    B64.decode_vec(v.as_bytes(), &mut buf).map_err(|_| protocol(op, "Plaintext is not base64"))?;
    Ok(SecretBytes::new(std::mem::take(&mut *buf)))
}

/// AWS JSON 1.1 error: `__type` (possibly `namespace#Name`) and `message`/`Message`; the
/// `x-amzn-ErrorType` header when the body has none.
fn service_error(operation: &'static str, status: u16, header_type: Option<&str>, body: &[u8]) -> Error {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let raw = v.get("__type").and_then(|t| t.as_str()).or(header_type).unwrap_or("UnknownError");
    let code = raw.rsplit('#').next().unwrap_or(raw);
    let code = code.split(':').next().unwrap_or(code).to_owned();
    let message = ["message", "Message"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|m| m.as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("HTTP status {status}"));
    Error::Service { operation, status, code, message }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn arn_regions() {
        assert_eq!(region_of_arn("arn:aws:kms:eu-west-1:111122223333:key/abc"), Some("eu-west-1"));
        assert_eq!(region_of_arn("arn:aws:kms:us-east-1:111122223333:alias/x"), Some("us-east-1"));
        assert_eq!(region_of_arn("alias/x"), None);
        assert_eq!(region_of_arn("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn errors_carry_the_aws_type() {
        let e = service_error(
            "Decrypt",
            400,
            None,
            br#"{"__type":"com.amazonaws.kms#NotFoundException","message":"Key 'x' does not exist"}"#,
        );
        match e {
            Error::Service { code, message, status, .. } => {
                assert_eq!(
                    (code.as_str(), message.as_str(), status),
                    ("NotFoundException", "Key 'x' does not exist", 400)
                );
            }
            other => panic!("{other:?}"),
        }
        let e = service_error("Encrypt", 500, Some("InternalFailure:http://x"), b"not json");
        assert!(matches!(e, Error::Service { ref code, .. } if code == "InternalFailure"), "{e:?}");
    }

    #[test]
    fn secrets_decode() {
        let s = secret_field("Decrypt", Some(Zeroizing::new("AAECAw==".into()))).unwrap();
        assert_eq!(s.expose_secret(), &[0, 1, 2, 3]);
        assert!(secret_field("Decrypt", Some(Zeroizing::new("!!".into()))).is_err());
    }
}
