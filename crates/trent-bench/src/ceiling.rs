//! The ceiling: the cheapest responder this machine can run on the same stack as Trent (tokio, hyper http1,
//! rustls on aws-lc-rs). It reads each request's body and answers every request with the same small JSON
//! body, checking nothing. Trent's figures are then stated as a share of what the machine can do at all.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// About the size of a small KMS reply, so response writing is not free either.
const BODY: &[u8] =
    br#"{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000","Ceiling":true}"#;

pub(crate) async fn serve(listen: SocketAddr, tls: Option<(&Path, &Path)>) -> Result<(), String> {
    let acceptor = match tls {
        Some((cert, key)) => Some(TlsAcceptor::from(server_config(cert, key)?)),
        None => None,
    };
    let listener = TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("ceiling: serving {} on {local}", if acceptor.is_some() { "HTTPS" } else { "HTTP" });
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning, keep serving.
                eprintln!("ceiling: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        // The same as Trent's listener does, so neither side gets a Nagle advantage.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(a) => {
                    if let Ok(tls) = a.accept(tcp).await {
                        serve_conn(TokioIo::new(tls)).await;
                    }
                }
                None => serve_conn(TokioIo::new(tcp)).await,
            }
        });
    }
}

async fn serve_conn<T>(io: TokioIo<T>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // A connection error (client went away) ends only this connection; the ceiling has nothing to report.
    let _ = http1::Builder::new().serve_connection(io, service_fn(respond)).await;
}

async fn respond(req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    // Reading the whole body is part of any real server's work; dropping it unread would flatter the ceiling.
    let _ = req.into_body().collect().await;
    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(BODY)));
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/x-amz-json-1.1"));
    Ok(resp)
}

/// The same TLS settings as `trent serve` (TLS 1.3 and 1.2, aws-lc-rs, http/1.1 ALPN).
fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("reading {}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("reading {}: {e}", key.display()))?;
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| format!("TLS certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
