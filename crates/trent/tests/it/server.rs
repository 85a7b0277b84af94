//! The harness: a real `trent serve` child process on a free port in a private temporary directory, its
//! credentials read back through `trent env`, and SDK clients that trust only the CA it generated.
//!
//! The child runs under a small `sh` watchdog whose stdin is a pipe from this test process. Statics are
//! never dropped, so the shared server cannot be stopped by `Drop`; instead, when the test binary exits (or
//! dies) the pipe closes, the watchdog sends SIGTERM to `trent` and removes the temporary directory. This
//! also keeps a stray server from holding cargo's output pipes open.

use std::fs;
use std::io::{BufRead, BufReader, Read as _, Seek as _, SeekFrom};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{LazyLock, Mutex, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sdk_kms::Client;
use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{BehaviorVersion, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

pub const TRENT: &str = env!("CARGO_BIN_EXE_trent");
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Keeps `trent` running until stdin closes, then stops it and (optionally) removes the temporary directory.
/// Prints trent's pid first so the harness can signal it directly. `$0` is the base directory.
const WATCHDOG: &str = r#"
base="$0"; trent="$1"; dir="$2"; listen="$3"; log="$4"; cleanup="$5"
shift 5
exec 3<&0
"$trent" serve --data-dir "$dir" --listen "$listen" "$@" </dev/null >>"$log" 2>&1 &
pid=$!
echo "$pid"
( read -r _ <&3; kill -TERM "$pid" 2>/dev/null ) </dev/null >/dev/null 2>&1 &
exec 3<&-
wait "$pid"; st=$?
if [ "$cleanup" = 1 ]; then rm -rf "$base"; fi
exit "$st"
"#;

/// What `trent env` printed.
#[derive(Debug, Clone)]
pub struct EnvVars {
    pub endpoint_url: String,
    pub ca_bundle: PathBuf,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub default_region: String,
    pub region: String,
}

/// A running `trent serve`.
pub struct Server {
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub env: EnvVars,
    ca_pem: Vec<u8>,
    watchdog: Child,
    watchdog_stdin: Option<ChildStdin>,
    trent_pid: u32,
    stopped: bool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, unique temporary directory for one server (or a restart sequence of servers).
pub fn unique_base_dir() -> PathBuf {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let p = std::env::temp_dir().join(format!("trent-it-{}-{nanos:x}-{n}", std::process::id()));
    fs::create_dir_all(&p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
    p
}

/// A name no other test (or earlier run against the same server) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}

/// The server shared by every test of the binary; started on first use, stopped when the binary exits.
pub fn shared() -> &'static Server {
    static SHARED: LazyLock<Server> = LazyLock::new(|| Server::start(&unique_base_dir(), true));
    &SHARED
}

/// Logs of live servers, printed when a test panics.
static LOGS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            default(info);
            let logs = match LOGS.try_lock() {
                Ok(l) => l.clone(),
                Err(_) => Vec::new(),
            };
            for log in logs {
                eprintln!("---- tail of {} ----\n{}", log.display(), tail(&log, 60));
            }
        }));
    });
}

/// The last `lines` lines of a file, for failure reports.
pub fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = fs::File::open(path) else {
        return format!("(cannot open {})", path.display());
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut s = String::new();
    let _ = f.read_to_string(&mut s);
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

impl Server {
    /// Starts `trent serve` with its data directory at `base/data` (created on first start, kept across
    /// restarts). With `cleanup`, `base` is removed once the server has stopped.
    pub fn start(base: &Path, cleanup: bool) -> Server {
        // The suite creates keys by the hundred in parallel, without retries: AWS's request quotas (CreateKey 5
        // per second) would throttle it. The quotas have tests of their own, on servers of their own.
        Self::start_with(base, cleanup, &["--request-quotas", "off"], true)
    }

    /// Like [`Server::start`], with extra `trent serve` arguments; `no_color` sets NO_COLOR for the server.
    pub fn start_with(base: &Path, cleanup: bool, extra_args: &[&str], no_color: bool) -> Server {
        install_panic_hook();
        let data_dir = base.join("data");
        let log = base.join("server.log");
        // A previous run's serving.json must not be mistaken for this one's.
        let _ = fs::remove_file(data_dir.join("serving.json"));
        let listen = format!("127.0.0.1:{}", free_port());
        let mut watchdog = Command::new("sh");
        watchdog
            .arg("-c")
            .arg(WATCHDOG)
            .arg(base)
            .arg(TRENT)
            .arg(&data_dir)
            .arg(&listen)
            .arg(&log)
            .arg(if cleanup { "1" } else { "0" })
            .args(extra_args)
            .env_remove("TRENT_INSECURE_HTTP")
            .env_remove("TRENT_ACCOUNT_ID")
            .env_remove("TRENT_REGION")
            .env_remove("TRENT_DATA_DIR")
            .env_remove("TRENT_LISTEN")
            .env("TRENT_LOG", "info")
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if no_color {
            watchdog.env("NO_COLOR", "1");
        }
        let mut watchdog = watchdog.spawn().expect("spawning the sh watchdog");
        let watchdog_stdin = watchdog.stdin.take();
        let mut line = String::new();
        let stdout = watchdog.stdout.take().expect("watchdog stdout");
        BufReader::new(stdout).read_line(&mut line).expect("reading trent's pid");
        let trent_pid: u32 = line.trim().parse().unwrap_or_else(|_| panic!("watchdog printed {line:?}, not a pid"));
        LOGS.lock().unwrap_or_else(|e| e.into_inner()).push(log.clone());

        let mut server = Server {
            data_dir,
            log,
            env: EnvVars {
                endpoint_url: String::new(),
                ca_bundle: PathBuf::new(),
                access_key_id: String::new(),
                secret_access_key: String::new(),
                default_region: String::new(),
                region: String::new(),
            },
            ca_pem: Vec::new(),
            watchdog,
            watchdog_stdin,
            trent_pid,
            stopped: false,
        };
        let endpoint = server.wait_until_serving(&listen);
        server.env = server.run_env();
        assert_eq!(server.env.endpoint_url, endpoint, "trent env must print the endpoint from serving.json");
        server.ca_pem = fs::read(&server.env.ca_bundle)
            .unwrap_or_else(|e| panic!("reading AWS_CA_BUNDLE {}: {e}", server.env.ca_bundle.display()));
        server
    }

    /// Waits for serving.json and a TCP connection to the address it names. Returns the HTTPS URL.
    fn wait_until_serving(&mut self, listen: &str) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        let serving = self.data_dir.join("serving.json");
        loop {
            if let Ok(Some(status)) = self.watchdog.try_wait() {
                panic!("trent serve exited early ({status}); log:\n{}", tail(&self.log, 60));
            }
            if let Some(url) = fs::read_to_string(&serving)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| {
                    assert!(v["http"].is_null(), "no plain HTTP listener was asked for: {v}");
                    v["https"].as_str().map(str::to_owned)
                })
            {
                assert_eq!(url, format!("https://{listen}"), "serving.json names the --listen address");
                let addr: SocketAddr = listen.parse().expect("listen address");
                if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                    return url;
                }
            }
            assert!(
                Instant::now() < deadline,
                "trent did not start within {START_TIMEOUT:?}; log:\n{}",
                tail(&self.log, 60)
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Runs `trent env --data-dir` and parses its `export K='V'` lines.
    fn run_env(&self) -> EnvVars {
        let out = Command::new(TRENT)
            .arg("env")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env_remove("TRENT_DATA_DIR")
            .stdin(Stdio::null())
            .output()
            .expect("running trent env");
        assert!(out.status.success(), "trent env failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).expect("trent env prints UTF-8");
        parse_env(&text)
    }

    /// Sends SIGTERM and waits for trent to exit; returns its exit status (as relayed by the watchdog).
    pub fn stop(&mut self) -> ExitStatus {
        self.signal_and_wait("-TERM")
    }

    /// Kills trent with SIGKILL (no shutdown of any kind) and waits for it to be gone.
    pub fn kill9(&mut self) -> ExitStatus {
        self.signal_and_wait("-KILL")
    }

    /// trent's process id.
    pub fn pid(&self) -> u32 {
        self.trent_pid
    }

    fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        assert!(!self.stopped, "server already stopped");
        self.stopped = true;
        let _ = Command::new("kill").arg(signal).arg(self.trent_pid.to_string()).status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        let status = loop {
            match self.watchdog.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    eprintln!("trent (pid {}) ignored SIGTERM for {STOP_TIMEOUT:?}; killing it", self.trent_pid);
                    let _ = Command::new("kill").arg("-KILL").arg(self.trent_pid.to_string()).status();
                    let _ = self.watchdog.kill();
                    break self.watchdog.wait().expect("waiting for the watchdog");
                }
            }
        };
        // Releases the watchdog's idle stdin reader.
        self.watchdog_stdin.take();
        LOGS.lock().unwrap_or_else(|e| e.into_inner()).retain(|l| l != &self.log);
        status
    }

    /// The CA certificate `trent env` points `AWS_CA_BUNDLE` at.
    pub fn ca_pem(&self) -> &[u8] {
        &self.ca_pem
    }

    /// An HTTPS client that trusts only `ca_pem` (no platform roots).
    pub fn https_client(ca_pem: Option<&[u8]>) -> SharedHttpClient {
        let mut store = TrustStore::empty().with_native_roots(false);
        if let Some(pem) = ca_pem {
            store = store.with_pem_certificate(pem.to_vec());
        }
        let ctx = TlsContext::builder().with_trust_store(store).build().expect("TLS context");
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(ctx)
            .build_https()
    }

    /// SDK config for this server with the given credentials: endpoint from `trent env`, region
    /// us-east-1, no retries, an operation timeout so a hung server fails the test instead of the run.
    pub fn config_with(&self, access_key_id: &str, secret: &str) -> aws_sdk_kms::config::Builder {
        aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.env.endpoint_url)
            .region(Region::new(self.env.region.clone()))
            .credentials_provider(Credentials::new(access_key_id, secret, None, None, "trent-it"))
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().operation_timeout(Duration::from_secs(30)).build())
            .http_client(Self::https_client(Some(&self.ca_pem)))
    }

    /// A client with the root credentials `trent env` printed. One per test: connection pools are bound
    /// to the Tokio runtime that created them, and every `#[tokio::test]` has its own.
    pub fn client(&self) -> Client {
        Client::from_conf(self.config_with(&self.env.access_key_id, &self.env.secret_access_key).build())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.stopped {
            let status = self.stop();
            if !status.success() && !std::thread::panicking() {
                eprintln!("trent exited with {status}; log:\n{}", tail(&self.log, 60));
            }
        }
    }
}

/// Removes a test's base directory when the test passes; keeps it for inspection when it fails.
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            eprintln!("keeping {} for inspection", self.0.display());
        }
    }
}

/// Undoes POSIX single quoting: `'a'\''b'` is `a'b`.
fn shell_unquote(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('\'') {
            let end = r.find('\'').unwrap_or_else(|| panic!("unterminated quote in {s:?}"));
            out.push_str(&r[..end]);
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('\\') {
            let mut chars = r.chars();
            out.extend(chars.next());
            rest = chars.as_str();
        } else {
            panic!("unexpected unquoted text in {s:?}");
        }
    }
    out
}

pub fn parse_env(text: &str) -> EnvVars {
    let mut vars = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some(assign) = line.strip_prefix("export ") {
            let (k, v) = assign.split_once('=').unwrap_or_else(|| panic!("bad export line {line:?}"));
            assert!(v.starts_with('\''), "values are single-quoted: {line:?}");
            vars.insert(k.to_owned(), shell_unquote(v));
        } else {
            assert!(line.is_empty() || line.starts_with("unset "), "unexpected trent env line {line:?}");
        }
    }
    let get = |k: &str| vars.get(k).cloned().unwrap_or_else(|| panic!("trent env did not print {k}:\n{text}"));
    EnvVars {
        endpoint_url: get("AWS_ENDPOINT_URL"),
        ca_bundle: PathBuf::from(get("AWS_CA_BUNDLE")),
        access_key_id: get("AWS_ACCESS_KEY_ID"),
        secret_access_key: get("AWS_SECRET_ACCESS_KEY"),
        default_region: get("AWS_DEFAULT_REGION"),
        region: get("AWS_REGION"),
    }
}

#[test]
fn shell_unquote_handles_embedded_quotes() {
    assert_eq!(shell_unquote("'abc'"), "abc");
    assert_eq!(shell_unquote(r"'a'\''b'"), "a'b");
    assert_eq!(shell_unquote("''"), "");
}
