//! The HTTP(S) serving loop: accepts TCP connections, does TLS where asked, and hands each
//! connection to hyper's HTTP/1.1 server with the axum `Router` as the service.
//!
//! A hand-written loop rather than `axum::serve` because we need TLS, per-connection timeouts and
//! a bounded graceful shutdown, none of which `axum::serve` offers together.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// A client that connects and stalls must not hold a task and a socket for long.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds slow-header (slowloris) clients. hyper also applies it while a keep-alive connection
/// waits for its next request, so it doubles as the idle timeout; 30 s is well under the ~60 s
/// idle limits SDK connection pools assume of AWS endpoints.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight requests get to finish after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after an accept error such as EMFILE, which would otherwise repeat in a hot loop.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(250);

/// A bound socket to serve, with or without TLS.
pub(crate) enum Listener {
    Https { listener: TcpListener, tls: Arc<rustls::ServerConfig> },
    Http { listener: TcpListener },
}

/// Where the server is in its life; every task watches this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Stop accepting, abandon TLS handshakes, let in-flight requests finish.
    Draining,
    /// Grace period over: drop whatever connections remain.
    Closing,
}

/// Serves `router` on every listener until `shutdown` completes, then drains: stops accepting,
/// lets in-flight requests finish for up to 10 s, closes the rest, and returns.
///
/// Handlers can extract the peer address with `ConnectInfo<SocketAddr>`.
pub(crate) async fn serve(
    router: Router,
    listeners: Vec<Listener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (phase_tx, phase_rx) = watch::channel(Phase::Running);
    // Shared with the accept loops, which register each connection before spawning it.
    let graceful = Arc::new(GracefulShutdown::new());
    let mut accept_loops = JoinSet::new();
    for listener in listeners {
        let (listener, acceptor, scheme) = match listener {
            Listener::Https { listener, tls } => (listener, Some(TlsAcceptor::from(tls)), "https"),
            Listener::Http { listener } => (listener, None, "http"),
        };
        let addr = listener.local_addr()?;
        tracing::info!(%addr, scheme, "listening");
        accept_loops.spawn(accept_loop(listener, acceptor, router.clone(), phase_rx.clone(), Arc::clone(&graceful)));
    }
    drop(phase_rx);

    shutdown.await;
    tracing::info!("shutting down: no longer accepting connections");
    phase_tx.send_replace(Phase::Draining);
    while let Some(joined) = accept_loops.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "accept loop ended abnormally");
        }
    }

    // The accept loops held the only other references and have all ended.
    match Arc::try_unwrap(graceful) {
        Ok(graceful) => {
            tracing::info!(connections = graceful.count(), "waiting for in-flight requests");
            let drained = graceful.shutdown();
            tokio::pin!(drained);
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut drained).await.is_err() {
                tracing::warn!("grace period over; closing remaining connections");
                phase_tx.send_replace(Phase::Closing);
                // Connection tasks now drop their sockets at their next poll.
                let _ = tokio::time::timeout(Duration::from_secs(1), drained).await;
            }
        }
        Err(_) => tracing::warn!("connection registry still shared; not waiting for connections"),
    }
    phase_tx.send_replace(Phase::Closing);
    tracing::info!("server stopped");
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    mut phase: watch::Receiver<Phase>,
    graceful: Arc<GracefulShutdown>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = phase.wait_for(|p| *p != Phase::Running) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                // Small request/response exchanges; Nagle would add latency for no gain.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
                }
                // Registered here, before the spawn, so a shutdown that starts right now still
                // waits for this connection.
                let watcher = graceful.watcher();
                let conn = connection(stream, peer, tls.clone(), router.clone(), phase.clone(), watcher);
                tokio::spawn(conn);
            }
            // The peer gave up between its SYN and our accept: nothing wrong with the listener.
            Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) => {
                tracing::debug!(error = %e, "connection reset before accept");
            }
            // EMFILE, ENFILE, ENOBUFS...: transient resource exhaustion; never fatal.
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; retrying shortly");
                tokio::select! {
                    _ = phase.wait_for(|p| *p != Phase::Running) => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                }
            }
        }
    }
    // Dropping the listener closes the socket, so new connections are refused from here on.
    tracing::info!(addr = ?listener.local_addr().ok(), "listener closed");
}

/// One connection, in its own task: the TLS handshake happens here so that a slow or hostile
/// client never holds up the accept loop.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    router: Router,
    mut phase: watch::Receiver<Phase>,
    watcher: Watcher,
) {
    let Some(acceptor) = tls else {
        let transport = trent_api::Transport { secure: false, tls: None };
        return serve_http(TokioIo::new(stream), peer, transport, router, phase, watcher).await;
    };
    let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        // No request is in flight yet, so there is nothing to wait for.
        _ = phase.wait_for(|p| *p != Phase::Running) => return,
    };
    let transport = trent_api::Transport { secure: true, tls: tls_session(stream.get_ref().1) };
    serve_http(TokioIo::new(stream), peer, transport, router, phase, watcher).await;
}

/// The negotiated version and suite, spelled as CloudTrail's `tlsDetails` spells them: `TLSv1.2`/`TLSv1.3`,
/// TLS 1.3 suites by their RFC names, TLS 1.2 suites by their OpenSSL names. `None` for anything else.
fn tls_session(conn: &rustls::ServerConnection) -> Option<trent_api::TlsSession> {
    use rustls::{CipherSuite as S, ProtocolVersion as V};
    let version = match conn.protocol_version()? {
        V::TLSv1_3 => "TLSv1.3",
        V::TLSv1_2 => "TLSv1.2",
        _ => return None,
    };
    let cipher_suite = match conn.negotiated_cipher_suite()?.suite() {
        S::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        S::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        S::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => return None,
    };
    Some(trent_api::TlsSession { version, cipher_suite })
}

async fn serve_http<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    transport: trent_api::Transport,
    router: Router,
    mut phase: watch::Receiver<Phase>,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        // What `into_make_service_with_connect_info` would insert, for handlers and middleware.
        request.extensions_mut().insert(ConnectInfo(peer));
        // For `aws:SecureTransport` and the audit event's `tlsDetails`.
        request.extensions_mut().insert(transport);
        // axum's Router is always ready, so calling it without poll_ready is fine.
        tower::Service::call(&mut router.clone(), request)
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).keep_alive(true).header_read_timeout(HEADER_READ_TIMEOUT);
    // On shutdown the watcher lets the current request finish, then closes the connection.
    let conn = watcher.watch(builder.serve_connection(io, service));
    tokio::select! {
        result = conn => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        _ = phase.wait_for(|p| *p == Phase::Closing) => {
            tracing::debug!(%peer, "connection closed at the end of the grace period");
        }
    }
}

/// Resolves on SIGTERM or SIGINT, saying which.
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};

    async fn next(kind: SignalKind, name: &'static str) -> &'static str {
        match signal(kind) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(e) => {
                // The default disposition still applies then, so the signal stops the process.
                tracing::error!(signal = name, error = %e, "cannot install signal handler");
                std::future::pending::<()>().await;
            }
        }
        name
    }

    let name = tokio::select! {
        name = next(SignalKind::terminate(), "SIGTERM") => name,
        name = next(SignalKind::interrupt(), "SIGINT") => name,
    };
    tracing::info!(signal = name, "shutdown requested");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::routing::get;
    use rustls::pki_types::ServerName;
    use rustls::pki_types::pem::PemObject;
    use std::path::Path;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;

    fn app() -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/peer", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "slow ok"
                }),
            )
    }

    /// Starts `serve` on one listener; returns its address, the shutdown trigger and the task.
    async fn start(
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<io::Result<()>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = match tls {
            Some(tls) => Listener::Https { listener, tls },
            None => Listener::Http { listener },
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(app(), vec![listener], async move {
            let _ = stop_rx.await;
        }));
        (addr, stop_tx, task)
    }

    async fn get_raw<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8(response).unwrap()
    }

    async fn stop(stop_tx: oneshot::Sender<()>, task: tokio::task::JoinHandle<io::Result<()>>) {
        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
    }

    fn connector(ca_pem: &Path) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(rustls::pki_types::CertificateDer::from_pem_file(ca_pem).unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        tokio_rustls::TlsConnector::from(Arc::new(config))
    }

    #[tokio::test]
    async fn https_round_trip_trusting_only_the_local_ca() {
        let dir = crate::tls::tests::scratch_dir("server-https");
        let paths = crate::tls::ensure_tls_material(&dir).unwrap();
        let tls = crate::tls::server_config(&paths.cert, &paths.key).unwrap();
        let (addr, stop_tx, task) = start(Some(tls)).await;
        let connector = connector(&paths.ca_cert);

        for name in ["localhost", "127.0.0.1"] {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from(name).unwrap().to_owned();
            let stream = connector.connect(name, tcp).await.unwrap();
            assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
            let response = get_raw(stream, "/healthz").await;
            assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
            assert!(response.ends_with("\r\n\r\nok"), "{response}");
        }

        stop(stop_tx, task).await;
        // The listener is gone once serve has returned.
        assert!(TcpStream::connect(addr).await.is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn http_round_trip_exposes_peer_address() {
        let (addr, stop_tx, task) = start(None).await;
        let response = get_raw(TcpStream::connect(addr).await.unwrap(), "/healthz").await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("ok"), "{response}");

        let tcp = TcpStream::connect(addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let response = get_raw(tcp, "/peer").await;
        assert!(response.ends_with(&format!("\r\n\r\n{local}")), "{response}");
        stop(stop_tx, task).await;
    }

    #[tokio::test]
    async fn shutdown_lets_in_flight_request_finish() {
        let (addr, stop_tx, task) = start(None).await;
        let client = tokio::spawn(async move { get_raw(TcpStream::connect(addr).await.unwrap(), "/slow").await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop(stop_tx, task).await;
        let response = client.await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("slow ok"), "{response}");
    }

    #[tokio::test]
    async fn stalled_tls_client_does_not_block_others_or_shutdown() {
        let dir = crate::tls::tests::scratch_dir("server-stall");
        let paths = crate::tls::ensure_tls_material(&dir).unwrap();
        let tls = crate::tls::server_config(&paths.cert, &paths.key).unwrap();
        let (addr, stop_tx, task) = start(Some(tls)).await;
        // Connects but never sends a ClientHello.
        let _stalled = TcpStream::connect(addr).await.unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let stream = connector(&paths.ca_cert).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
        assert!(get_raw(stream, "/healthz").await.ends_with("ok"));
        stop(stop_tx, task).await;
        std::fs::remove_dir_all(dir).unwrap();
    }
}
