//! The HTTP(S) serving loop: accepts TCP connections, does TLS where asked, and hands each
//! connection to hyper's HTTP/1.1 server with the axum `Router` as the service.
//!
//! A hand-written loop rather than `axum::serve` because we need TLS, per-connection timeouts and
//! a bounded graceful shutdown, none of which `axum::serve` offers together.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// A client that connects and stalls must not hold a task and a socket for long.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds slow-header (slowloris) clients. hyper also applies it while a keep-alive connection
/// waits for its next request, so it doubles as the idle timeout; 30 s is well under the ~60 s
/// idle limits SDK connection pools assume of AWS endpoints.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// hyper's per-connection read buffer cap, which also bounds a request's header block.
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// How long in-flight requests get to finish after shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause after an accept error such as EMFILE, which would otherwise repeat in a hot loop.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(250);

/// Caps on connections, applied at accept: past them a connection is closed at once, before any TLS work, so
/// that a flood of idle or slow connections cannot exhaust file descriptors or memory (security review
/// finding 3). Requests in flight and bodies are capped in `trent_api` (`RequestLimits`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_ip: usize,
}

/// Open connections, in total and per peer address.
struct ConnectionCounter {
    limits: ConnectionLimits,
    total: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in the counts, given back on drop.
struct ConnectionSlot {
    _total: OwnedSemaphorePermit,
    counter: Arc<ConnectionCounter>,
    ip: IpAddr,
}

impl ConnectionCounter {
    fn new(limits: ConnectionLimits) -> Arc<Self> {
        let total = Arc::new(Semaphore::new(limits.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
        Arc::new(Self { limits, total, per_ip: Mutex::new(HashMap::new()) })
    }

    /// A slot for a connection from `ip`, or why there is none.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, &'static str> {
        let total = Arc::clone(&self.total).try_acquire_owned().map_err(|_| "too many connections")?;
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= self.limits.max_connections_per_ip {
            return Err("too many connections from this address");
        }
        *n += 1;
        Ok(ConnectionSlot { _total: total, counter: Arc::clone(self), ip })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut per_ip = self.counter.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

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
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let counter = ConnectionCounter::new(limits);
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
        accept_loops.spawn(accept_loop(
            listener,
            acceptor,
            router.clone(),
            phase_rx.clone(),
            Arc::clone(&graceful),
            Arc::clone(&counter),
        ));
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
    counter: Arc<ConnectionCounter>,
) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = phase.wait_for(|p| *p != Phase::Running) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let slot = match counter.admit(peer.ip()) {
                    Ok(slot) => slot,
                    Err(why) => {
                        // Dropping the stream closes it: the cheapest answer there is.
                        tracing::debug!(%peer, why, "connection refused");
                        continue;
                    }
                };
                // Small request/response exchanges; Nagle would add latency for no gain.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
                }
                // Registered here, before the spawn, so a shutdown that starts right now still
                // waits for this connection.
                let watcher = graceful.watcher();
                let conn = connection(stream, peer, tls.clone(), router.clone(), phase.clone(), watcher);
                tokio::spawn(async move {
                    conn.await;
                    drop(slot);
                });
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
    // A TLS connection opens with a handshake record (0x16). Plain HTTP opens with a method name: answer it in
    // HTTP, saying what the port speaks, rather than fail a handshake the client never meant to make.
    // One deadline for the first byte and the handshake together.
    let deadline = tokio::time::Instant::now() + TLS_HANDSHAKE_TIMEOUT;
    let mut first = [0u8; 1];
    let peeked = tokio::select! {
        peeked = tokio::time::timeout_at(deadline, stream.peek(&mut first)) => peeked,
        _ = phase.wait_for(|p| *p != Phase::Running) => return,
    };
    match peeked {
        Ok(Ok(1..)) if first[0].is_ascii_uppercase() => return plain_http_on_tls_port(stream, peer).await,
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "connection failed before the TLS handshake");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    }
    let handshake = tokio::time::timeout_at(deadline, acceptor.accept(stream));
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

/// The body of the 400 sent to plain HTTP on the HTTPS port.
pub(crate) const PLAIN_HTTP_MESSAGE: &str = "This port speaks HTTPS, not plain HTTP: use an https:// endpoint URL \
     (eval \"$(trent env)\" sets AWS_ENDPOINT_URL and AWS_CA_BUNDLE).\n";

/// Answers a plain-HTTP request on the HTTPS port with a 400 that says so, and logs it.
async fn plain_http_on_tls_port(mut stream: TcpStream, peer: SocketAddr) {
    tracing::warn!(%peer, "plain HTTP received on the HTTPS port; answered 400 (clients must use https://)");
    // Read what the client sent (its headers, most often all of the request) before answering: closing a
    // socket with unread data resets the connection, and the client would see the reset, not the answer.
    let mut buf = vec![0u8; 16 * 1024];
    let mut seen = 0;
    let read_request = async {
        while seen < buf.len() {
            match stream.read(&mut buf[seen..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen += n,
            }
            if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read_request).await;
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{PLAIN_HTTP_MESSAGE}",
        PLAIN_HTTP_MESSAGE.len()
    );
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    if let Err(e) = tokio::time::timeout(Duration::from_secs(2), write).await.unwrap_or(Ok(())) {
        tracing::debug!(%peer, error = %e, "could not answer plain HTTP");
    }
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
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(HEADER_READ_TIMEOUT)
        // hyper's read buffer grows to ~400 KiB by default, per connection, whatever the handler buffers: a
        // stalled body held that much each. 64 KiB still takes any header block AWS clients send.
        .max_buf_size(READ_BUFFER_BYTES);
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

    const LIMITS: ConnectionLimits = ConnectionLimits { max_connections: 64, max_connections_per_ip: 64 };

    /// Starts `serve` on one listener; returns its address, the shutdown trigger and the task.
    async fn start(
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<io::Result<()>>) {
        start_limited(tls, LIMITS).await
    }

    async fn start_limited(
        tls: Option<Arc<rustls::ServerConfig>>,
        limits: ConnectionLimits,
    ) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<io::Result<()>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = match tls {
            Some(tls) => Listener::Https { listener, tls },
            None => Listener::Http { listener },
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(app(), vec![listener], limits, async move {
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

    #[tokio::test]
    async fn plain_http_on_the_https_port_gets_a_400_that_says_so() {
        let dir = crate::tls::tests::scratch_dir("server-plain-on-tls");
        let paths = crate::tls::ensure_tls_material(&dir).unwrap();
        let tls = crate::tls::server_config(&paths.cert, &paths.key).unwrap();
        let (addr, stop_tx, task) = start(Some(tls)).await;
        let response = get_raw(TcpStream::connect(addr).await.unwrap(), "/healthz").await;
        assert!(response.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{response}");
        assert!(response.ends_with(PLAIN_HTTP_MESSAGE), "{response}");
        assert!(response.contains("This port speaks HTTPS"), "{response}");
        // TLS clients are still served.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let stream = connector(&paths.ca_cert).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
        assert!(get_raw(stream, "/healthz").await.ends_with("ok"));
        stop(stop_tx, task).await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Connections past the caps are closed at once; a slot freed by a closed connection is reused.
    #[tokio::test]
    async fn connections_are_capped_per_address_and_in_total() {
        let limits = ConnectionLimits { max_connections: 3, max_connections_per_ip: 2 };
        let (addr, stop_tx, task) = start_limited(None, limits).await;
        let held: Vec<TcpStream> =
            vec![TcpStream::connect(addr).await.unwrap(), TcpStream::connect(addr).await.unwrap()];
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A third connection from 127.0.0.1 is accepted by the kernel, then closed by the server unanswered.
        let mut third = TcpStream::connect(addr).await.unwrap();
        let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut buf)).await.unwrap();
        assert!(read.is_err() || buf.is_empty(), "{:?}", String::from_utf8_lossy(&buf));
        // Another address (127.0.0.2 is loopback too) still gets in, up to the total.
        let other = tokio::net::TcpSocket::new_v4().unwrap();
        other.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let other = other.connect(addr).await.unwrap();
        assert!(get_raw(other, "/healthz").await.ends_with("ok"));
        drop(held);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(get_raw(TcpStream::connect(addr).await.unwrap(), "/healthz").await.ends_with("ok"));
        stop(stop_tx, task).await;
    }
}
