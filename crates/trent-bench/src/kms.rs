//! The KMS side of the load generator: signed JSON 1.1 calls, the operations under test and their request
//! bodies, and the set-up calls (ListKeys, CreateKey, one Encrypt per key for Decrypt/ReEncrypt inputs).

use std::time::SystemTime;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use serde_json::{Value, json};

use crate::client::Endpoint;
use trent_client::sigv4::{Canonical, Credentials, Signer, amz_date};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The encryption context every benchmark call carries, as the moto baseline in ecosystem.md §4b did.
fn context() -> Value {
    json!({"purpose": "bench"})
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub(crate) enum Op {
    Encrypt,
    Decrypt,
    GenerateDataKey,
    ReEncrypt,
    /// ECDSA P-256 (ECDSA_SHA_256) over the plaintext, with a signing key the run creates.
    Sign,
    /// HMAC-SHA-256 over the plaintext, with an HMAC key the run creates.
    GenerateMac,
}

impl Op {
    pub(crate) fn target(self) -> &'static str {
        match self {
            Op::Encrypt => "TrentService.Encrypt",
            Op::Decrypt => "TrentService.Decrypt",
            Op::GenerateDataKey => "TrentService.GenerateDataKey",
            Op::ReEncrypt => "TrentService.ReEncrypt",
            Op::Sign => "TrentService.Sign",
            Op::GenerateMac => "TrentService.GenerateMac",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Encrypt => "Encrypt",
            Op::Decrypt => "Decrypt",
            Op::GenerateDataKey => "GenerateDataKey",
            Op::ReEncrypt => "ReEncrypt",
            Op::Sign => "Sign",
            Op::GenerateMac => "GenerateMac",
        }
    }

    fn needs_ciphertext(self) -> bool {
        matches!(self, Op::Decrypt | Op::ReEncrypt)
    }
}

/// Why a call produced no response.
#[derive(Debug)]
pub(crate) struct ConnectionError(pub(crate) String);

/// A signing client on one connection, reconnecting after a failure.
pub(crate) struct Session {
    endpoint: Endpoint,
    signer: Signer,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// A response: status, AWS error type (for non-2xx), body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) error_type: Option<String>,
    pub(crate) body: Bytes,
}

impl Session {
    pub(crate) fn new(endpoint: Endpoint, creds: Credentials, region: &str) -> Self {
        Self { endpoint, signer: Signer::new(creds, region, "kms"), sender: None }
    }

    /// Opens the connection now, so the measured run does not pay for it.
    pub(crate) async fn connect(&mut self) -> Result<(), String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.endpoint.connect().await?);
        }
        Ok(())
    }

    /// Signs and sends one request on this session's connection (opening it first if needed).
    pub(crate) async fn call(&mut self, target: &str, body: Bytes) -> Result<Reply, ConnectionError> {
        let mut sender = match self.sender.take() {
            Some(mut s) if !s.is_closed() => {
                // A server that closes idle or used connections (moto does) may have closed this one after
                // the last reply without us having noticed yet: reconnect once, as SDK connection pools do.
                if s.ready().await.is_ok() { s } else { self.endpoint.connect().await.map_err(ConnectionError)? }
            }
            _ => self.endpoint.connect().await.map_err(ConnectionError)?,
        };
        sender.ready().await.map_err(|e| ConnectionError(format!("connection not ready: {e}")))?;

        // Per request, as an SDK does: a new date, a hash of this body, a fresh signature.
        let date = amz_date(SystemTime::now());
        let token = self.signer.session_token().map(str::to_owned);
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(5);
        headers.push(("content-type", CONTENT_TYPE));
        headers.push(("host", &self.endpoint.authority));
        headers.push(("x-amz-date", &date));
        if let Some(t) = &token {
            headers.push(("x-amz-security-token", t));
        }
        headers.push(("x-amz-target", target));
        let auth = self.signer.authorization(
            &Canonical { method: "POST", path: "/", query: "", headers: &headers, payload: &body },
            &date,
        );
        let mut req = http::Request::post("/")
            .header(http::header::HOST, &self.endpoint.authority)
            .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
            .header("x-amz-date", &date)
            .header("x-amz-target", target)
            .header(http::header::AUTHORIZATION, auth);
        if let Some(t) = &token {
            req = req.header("x-amz-security-token", t);
        }
        let req = req.body(Full::new(body)).map_err(|e| ConnectionError(format!("building request: {e}")))?;

        let resp = sender.send_request(req).await.map_err(|e| ConnectionError(format!("send: {e}")))?;
        let status = resp.status().as_u16();
        let header_type = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_owned());
        let body =
            resp.into_body().collect().await.map_err(|e| ConnectionError(format!("reading body: {e}")))?.to_bytes();
        self.sender = Some(sender);
        let error_type = if (200..300).contains(&status) {
            None
        } else {
            Some(header_type.or_else(|| body_error_type(&body)).unwrap_or_else(|| format!("HTTP {status}")))
        };
        Ok(Reply { status, error_type, body })
    }

    /// A call whose JSON reply the caller needs; any failure becomes a message.
    async fn json_call(&mut self, target: &str, body: &Value) -> Result<Value, String> {
        let reply = self.call(target, Bytes::from(body.to_string())).await.map_err(|e| e.0)?;
        if let Some(t) = reply.error_type {
            return Err(format!("{target} failed: {t}: {}", String::from_utf8_lossy(&reply.body)));
        }
        serde_json::from_slice(&reply.body).map_err(|e| format!("{target}: reply is not JSON: {e}"))
    }
}

/// The error type from a JSON error body: `__type` without its namespace (`com.amazonaws.kms#NotFoundException`).
fn body_error_type(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let t = v.get("__type")?.as_str()?;
    Some(t.rsplit('#').next().unwrap_or(t).to_owned())
}

/// Up to `n` key ids of the account, by ListKeys; creates the missing ones with CreateKey when `create`.
pub(crate) async fn keys(session: &mut Session, n: usize, create: bool) -> Result<Vec<String>, String> {
    let mut ids = Vec::with_capacity(n);
    let mut marker: Option<String> = None;
    while ids.len() < n {
        let mut req = json!({"Limit": 1000});
        if let Some(m) = &marker {
            req["Marker"] = json!(m);
        }
        let page = session.json_call("TrentService.ListKeys", &req).await?;
        for k in page.get("Keys").and_then(Value::as_array).into_iter().flatten() {
            if let Some(id) = k.get("KeyId").and_then(Value::as_str)
                && ids.len() < n
            {
                ids.push(id.to_owned());
            }
        }
        marker = match (page.get("Truncated").and_then(Value::as_bool), page.get("NextMarker").and_then(Value::as_str))
        {
            (Some(true), Some(m)) => Some(m.to_owned()),
            _ => break,
        };
    }
    if ids.len() < n {
        if !create {
            return Err(format!("the endpoint has {} keys, {n} were asked for", ids.len()));
        }
        while ids.len() < n {
            let r = session.json_call("TrentService.CreateKey", &json!({"Description": "trent-bench"})).await?;
            let id = r
                .pointer("/KeyMetadata/KeyId")
                .and_then(Value::as_str)
                .ok_or("CreateKey reply has no KeyMetadata.KeyId")?;
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// Prepared request bodies: for each key, one body per operation under test. Built once so the measured
/// loop does what a client does per request (sign, send, read) and not JSON encoding of constant input.
pub(crate) struct Bodies {
    /// `per_op[op_index][key_index]`.
    pub(crate) per_op: Vec<(Op, Vec<Bytes>)>,
}

impl Bodies {
    pub(crate) async fn prepare(
        session: &mut Session,
        ops: &[Op],
        key_ids: &[String],
        plaintext_bytes: usize,
    ) -> Result<Self, String> {
        // Content does not matter to AES-GCM's speed; a fixed pattern keeps runs reproducible.
        let plaintext: Vec<u8> = (0..plaintext_bytes).map(|i| (i * 31 % 251) as u8).collect();
        let pt_b64 = B64.encode(&plaintext);
        let mut ciphertexts = Vec::new();
        if ops.iter().any(|o| o.needs_ciphertext()) {
            for k in key_ids {
                let r = session
                    .json_call(
                        Op::Encrypt.target(),
                        &json!({"KeyId": k, "Plaintext": pt_b64, "EncryptionContext": context()}),
                    )
                    .await?;
                let ct =
                    r.get("CiphertextBlob").and_then(Value::as_str).ok_or("Encrypt reply has no CiphertextBlob")?;
                ciphertexts.push(ct.to_owned());
            }
        }
        // Sign and GenerateMac need keys of their own kind; one each serves every worker.
        let mut special = std::collections::HashMap::new();
        for (op, spec, usage) in
            [(Op::Sign, "ECC_NIST_P256", "SIGN_VERIFY"), (Op::GenerateMac, "HMAC_256", "GENERATE_VERIFY_MAC")]
        {
            if ops.contains(&op) {
                let r = session
                    .json_call(
                        "TrentService.CreateKey",
                        &json!({"Description": "trent-bench", "KeySpec": spec, "KeyUsage": usage}),
                    )
                    .await?;
                let id =
                    r.pointer("/KeyMetadata/KeyId").and_then(Value::as_str).ok_or("CreateKey reply has no KeyId")?;
                special.insert(op, id.to_owned());
            }
        }
        let mut per_op = Vec::new();
        for &op in ops {
            let mut bodies = Vec::with_capacity(key_ids.len());
            for (i, k) in key_ids.iter().enumerate() {
                let v = match op {
                    Op::Encrypt => json!({"KeyId": k, "Plaintext": pt_b64, "EncryptionContext": context()}),
                    Op::GenerateDataKey => json!({"KeyId": k, "KeySpec": "AES_256", "EncryptionContext": context()}),
                    Op::Decrypt => json!({"CiphertextBlob": ciphertexts[i], "EncryptionContext": context()}),
                    Op::ReEncrypt => json!({
                        "CiphertextBlob": ciphertexts[i],
                        "SourceEncryptionContext": context(),
                        "DestinationKeyId": key_ids[(i + 1) % key_ids.len()],
                        "DestinationEncryptionContext": context(),
                    }),
                    Op::Sign => json!({
                        "KeyId": special.get(&op).ok_or("no signing key")?,
                        "Message": pt_b64,
                        "MessageType": "RAW",
                        "SigningAlgorithm": "ECDSA_SHA_256",
                    }),
                    Op::GenerateMac => json!({
                        "KeyId": special.get(&op).ok_or("no HMAC key")?,
                        "Message": pt_b64,
                        "MacAlgorithm": "HMAC_SHA_256",
                    }),
                };
                bodies.push(Bytes::from(v.to_string()));
            }
            per_op.push((op, bodies));
        }
        // One probe per operation: a misconfigured run should fail here with the server's words, not
        // report a table of errors.
        for (op, bodies) in &per_op {
            if let Some(b) = bodies.first() {
                let reply = session.call(op.target(), b.clone()).await.map_err(|e| e.0)?;
                if let Some(t) = reply.error_type {
                    return Err(format!("probe {} failed: {t}: {}", op.name(), String::from_utf8_lossy(&reply.body)));
                }
            }
        }
        Ok(Self { per_op })
    }
}
