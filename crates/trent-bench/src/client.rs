//! One keep-alive HTTP/1.1 connection per worker, over TCP or rustls (aws-lc-rs, trusting a given CA).
//!
//! hyper's low-level `client::conn::http1` rather than a pooled client: the number of connections is then
//! exactly the concurrency, and nothing hides a reconnect.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Where requests go.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) addr: SocketAddr,
    /// The `Host` header (and signed `host`): host, plus the port when it is not the scheme's default.
    pub(crate) authority: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl Endpoint {
    /// Parses `http(s)://host[:port]`. HTTPS trusts `ca_file` if given, else nothing: a benchmark against a
    /// public endpoint would pass the system bundle's file here.
    pub(crate) fn parse(url: &str, ca_file: Option<&Path>) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("endpoint {url:?}: {e}"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(format!("endpoint {url:?} must start with http:// or https://")),
        };
        let host = uri.host().ok_or_else(|| format!("endpoint {url:?} has no host"))?;
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let authority = match uri.port_u16() {
            Some(p) => format!("{}:{p}", bracket(host)),
            None => bracket(host),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(bare, port))
            .map_err(|e| format!("resolving {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} has no address"))?;
        let tls = if https {
            let ca = ca_file.ok_or("an https endpoint needs --ca-file (or --trent-data-dir)")?;
            let name = ServerName::try_from(bare.to_owned()).map_err(|e| format!("server name {bare}: {e}"))?;
            Some((TlsConnector::from(client_config(ca)?), name))
        } else {
            None
        };
        Ok(Self { addr, authority, tls })
    }

    pub(crate) fn is_https(&self) -> bool {
        self.tls.is_some()
    }

    /// A fresh connection, ready to send. The connection's driver runs as its own task.
    pub(crate) async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let tcp = TcpStream::connect(self.addr).await.map_err(|e| format!("connect {}: {e}", self.addr))?;
        // As the SDKs do: a request is one small write, Nagle would only add delay.
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        match &self.tls {
            Some((connector, name)) => {
                let tls = connector.connect(name.clone(), tcp).await.map_err(|e| format!("TLS: {e}"))?;
                handshake(TokioIo::new(tls)).await
            }
            None => handshake(TokioIo::new(tcp)).await,
        }
    }

    /// One unsigned GET on a new connection; the status code. Used to wait for a server to come up.
    pub(crate) async fn probe_get(&self, path: &str, timeout: Duration) -> Result<u16, String> {
        let work = async {
            let mut sender = self.connect().await?;
            let req = http::Request::get(path)
                .header(http::header::HOST, &self.authority)
                .body(Full::new(Bytes::new()))
                .map_err(|e| e.to_string())?;
            let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let _ = resp.into_body().collect().await;
            Ok(status)
        };
        tokio::time::timeout(timeout, work).await.map_err(|_| "timed out".to_owned())?
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<SendRequest<Full<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        // The connection ends when the worker drops its sender or the server closes; either is reported by
        // the next send on this side, so the driver's own result carries nothing new.
        let _ = conn.await;
    });
    Ok(sender)
}

/// rustls on aws-lc-rs, the same provider Trent serves with, trusting exactly the certificates in `ca`.
pub(crate) fn client_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("reading CA file {}: {e}", ca.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", ca.display()));
    }
    for c in certs {
        roots.add(c).map_err(|e| format!("CA certificate in {}: {e}", ca.display()))?;
    }
    let mut config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
