//! One HTTP/1.1 request per call over TLS (rustls on aws-lc-rs) or plain TCP, on a private
//! single-threaded tokio runtime.
//!
//! A fresh connection per call keeps the code small and has no idle-connection failure modes; the
//! Encryption SDK calls KMS once or twice per message (and the caching materials manager exists for
//! callers that send many messages).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use zeroize::Zeroizing;

use crate::{Endpoint, Error, Result};

/// KMS replies are small (a 6 KiB ciphertext in base64 at most); anything larger is not KMS.
const MAX_REPLY: usize = 1 << 20;

pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) error_type: Option<String>,
    pub(crate) body: Vec<u8>,
}

pub(crate) struct Transport {
    /// Always `Some` until drop (taken there to shut it down without blocking).
    runtime: Option<tokio::runtime::Runtime>,
    ca_bundle: Option<std::path::PathBuf>,
    /// Built on first HTTPS use: loading the system roots is wasted work for a plain-HTTP endpoint,
    /// and a broken system store must not fail a client that never uses it.
    tls: Mutex<Option<Arc<rustls::ClientConfig>>>,
    timeout: Duration,
}

/// The request body: a cursor over a buffer that is wiped on drop (it may hold a plaintext).
type Body = Full<std::io::Cursor<Zeroizing<Vec<u8>>>>;

impl Transport {
    pub(crate) fn new(ca_bundle: Option<&Path>, timeout: Duration) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start the I/O runtime: {e}")))?;
        Ok(Self { runtime: Some(runtime), ca_bundle: ca_bundle.map(Path::to_owned), tls: Mutex::new(None), timeout })
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        let mut slot = self.tls.lock().map_err(|_| Error::Config("TLS configuration lock poisoned".into()))?;
        if let Some(cfg) = slot.as_ref() {
            return Ok(cfg.clone());
        }
        let mut roots = RootCertStore::empty();
        match &self.ca_bundle {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| Error::Config(format!("cannot read AWS_CA_BUNDLE {}: {e}", path.display())))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(Error::Config(format!("AWS_CA_BUNDLE {} holds no usable certificate", path.display())));
                }
            }
            None => {
                // Certificates the platform store has but webpki cannot parse are skipped, as browsers do.
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(Error::Config(
                        "no trusted root certificates found in the system store; set AWS_CA_BUNDLE".into(),
                    ));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let cfg = Arc::new(cfg);
        *slot = Some(cfg.clone());
        Ok(cfg)
    }

    /// POSTs `body` to `/` with exactly `headers` (lower-case names, as signed).
    pub(crate) fn post(
        &self,
        endpoint: &Endpoint,
        headers: &[(&str, &str)],
        body: Zeroizing<Vec<u8>>,
    ) -> Result<Reply> {
        let where_ = format!("{}://{}", if endpoint.https { "https" } else { "http" }, endpoint.host_header());
        let fail = |message: String| Error::Transport { endpoint: where_.clone(), message };
        let mut builder = http::Request::builder().method(http::Method::POST).uri("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Body::new(std::io::Cursor::new(body)))
            .map_err(|e| fail(format!("cannot build the request: {e}")))?;
        let tls = if endpoint.https { Some(self.tls_config()?) } else { None };
        let fut = async {
            let tcp = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(|e| fail(format!("connect: {e}")))?;
            // Small request/response pairs: do not wait for Nagle.
            let _ = tcp.set_nodelay(true);
            match tls {
                Some(cfg) => {
                    let name = ServerName::try_from(endpoint.host.clone())
                        .map_err(|e| fail(format!("invalid TLS server name: {e}")))?;
                    let stream = tokio_rustls::TlsConnector::from(cfg)
                        .connect(name, tcp)
                        .await
                        .map_err(|e| fail(format!("TLS: {e}")))?;
                    exchange(stream, request).await.map_err(fail)
                }
                None => exchange(tcp, request).await.map_err(fail),
            }
        };
        // On a scoped thread of its own: `block_on` panics on a thread that is already inside a tokio
        // runtime, and callers (an async server, a test) may be. A thread per KMS call costs far less
        // than the round trip.
        let runtime = self.runtime.as_ref().ok_or_else(|| fail("the client is shut down".into()))?;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    runtime.block_on(async {
                        tokio::time::timeout(self.timeout, fut)
                            .await
                            .unwrap_or_else(|_| Err(fail(format!("no reply within {:?}", self.timeout))))
                    })
                })
                .join()
                .unwrap_or_else(|_| Err(fail("the I/O thread panicked".into())))
        })
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        // A plain drop blocks on the runtime's threads and panics if the client is dropped inside an
        // async context; nothing of ours is pending after a call returns, so do not wait.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs one request/response exchange on an established stream.
async fn exchange<S>(stream: S, request: http::Request<Body>) -> Result<Reply, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("HTTP: {e}"))?;
    // The connection future must be polled for the request to make progress; it ends when `sender`
    // is dropped (no keep-alive reuse).
    let driver = tokio::spawn(conn);
    let response = sender.send_request(request).await.map_err(|e| format!("HTTP: {e}"))?;
    let status = response.status().as_u16();
    let error_type = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body: Bytes = Limited::new(response.into_body(), MAX_REPLY)
        .collect()
        .await
        .map_err(|e| format!("reading the reply: {e}"))?
        .to_bytes();
    drop(sender);
    driver.abort();
    Ok(Reply { status, error_type, body: body.to_vec() })
}
