//! `trent`: the server binary and its operator commands.
//!
//! - `trent serve`: HTTPS on 127.0.0.1:8443 by default, creating the data directory on first start.
//! - `trent env`: `export` lines that point the AWS CLI, boto3 and the SDKs at this Trent.

mod admin;
mod audit_cli;
mod esdk_cli;
#[cfg(test)]
mod help_tests;
mod instance;
mod lock;
mod server;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use trent_api::AppState;
use trent_core::clock::{Clock, OffsetClock, SystemClock};
use trent_core::identity::Identities;
use trent_core::root_key::{FileRootKey, RootKeyProvider};
use trent_core::service::Kms;
use trent_store::SqliteStore;

use instance::{DataDir, Serving, client_url};

#[derive(Parser)]
#[command(
    name = "trent",
    version,
    about = "A self-hosted key management service that speaks the AWS KMS API",
    after_help = "Quick start: `trent serve` (creates ./trent-data on first start), then in another shell\n\
                  `eval \"$(trent env)\"` and use the AWS CLI or an SDK as usual (`aws kms create-key`).\n\
                  Logs go to standard error; TRENT_LOG sets their level (`debug`, `warn,trent=debug`; default info).\n\
                  Health check: GET /healthz answers 200 `ok` without credentials."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: HTTPS (its own CA and certificate, made on first start) with SigV4, the data directory
    /// created on first start. `GET /healthz` answers `ok` without credentials; TRENT_LOG sets the log level.
    Serve(ServeArgs),
    /// Print `export` lines for the AWS CLI and SDKs: eval "$(trent env)". Endpoint, CA bundle
    /// (AWS_CA_BUNDLE, and NODE_EXTRA_CA_CERTS for Node.js), the root credentials, region. Needs a data
    /// directory a server created.
    Env(EnvArgs),
    /// Encrypt a file in the AWS Encryption SDK message format (like aws-encryption-cli --encrypt).
    Encrypt(esdk_cli::EncryptArgs),
    /// Decrypt an AWS Encryption SDK message (like aws-encryption-cli --decrypt).
    Decrypt(esdk_cli::DecryptArgs),
    /// Audit trail commands: `trent audit verify`, `lookup`, `export`.
    Audit(audit_cli::AuditArgs),
    /// Operator commands: `trent admin create-account`, `schedule`.
    Admin(admin::AdminArgs),
}

#[derive(clap::Args)]
struct DataDirArg {
    /// Where keys, the database, TLS material and credentials live: `trent serve` creates it on first start
    /// (mode 0700); the other commands use the one a server created.
    #[arg(long, env = "TRENT_DATA_DIR", default_value = "./trent-data")]
    data_dir: PathBuf,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// HTTPS listen address: an IP address and port, or a host name and port (`localhost:8443`), which is
    /// resolved and served on each of its addresses.
    #[arg(long, env = "TRENT_LISTEN", default_value = "127.0.0.1:8443")]
    listen: String,
    /// Also serve plain, unencrypted HTTP on this address. Only for trusted networks: credentials' signatures
    /// and every plaintext and data key cross it in the clear.
    #[arg(long, env = "TRENT_INSECURE_HTTP")]
    insecure_http: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
    /// AWS account id of the root principal, fixed at first start (default 111122223333).
    #[arg(long, env = "TRENT_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Region this Trent serves, fixed at first start (default us-east-1).
    #[arg(long, env = "TRENT_REGION")]
    region: Option<String>,
    /// Serve this certificate chain (PEM) instead of the generated one; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// How often the scheduler looks for due work: key deletions, automatic rotations, expiring imported
    /// material.
    #[arg(long, env = "TRENT_SCHEDULER_INTERVAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    scheduler_interval_secs: u64,
    /// TESTS ONLY: shift the server's clock by the number of seconds written in this file, re-read at every
    /// scheduler run. Lets end-to-end tests reach rotation and deletion dates without waiting.
    #[arg(long, hide = true)]
    dangerous_test_clock_file: Option<PathBuf>,
    /// Where the audit trail is written (default `<data-dir>/audit`).
    #[arg(long, env = "TRENT_AUDIT_DIR")]
    audit_dir: Option<PathBuf>,
    #[command(flatten)]
    trail: audit_cli::TrailArgs,
    /// BENCHMARKS ONLY: serve without an audit trail, to measure what the trail costs. Requests are then
    /// unaudited.
    #[arg(long, hide = true)]
    dangerous_no_audit: bool,
}

/// Limits on connections and requests (README.md, "Limits"). Past them, connections are closed
/// and requests answered with ThrottlingException at once, instead of queueing.
#[derive(clap::Args)]
struct LimitArgs {
    /// Open connections at once, in total.
    #[arg(long, env = "TRENT_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Open connections at once from one client IP address.
    #[arg(long, env = "TRENT_MAX_CONNECTIONS_PER_IP", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections_per_ip: u64,
    /// Requests being received or handled at once.
    #[arg(long, env = "TRENT_MAX_REQUESTS_IN_FLIGHT", default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_requests_in_flight: u64,
    /// Seconds a client has to send a request body once its headers are in; a slower body is refused and its
    /// connection closed.
    #[arg(long, env = "TRENT_BODY_READ_TIMEOUT_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    body_read_timeout_secs: u64,
    /// MiB of request bodies buffered at once by all requests together, beyond each request's first 16 KiB.
    #[arg(long, env = "TRENT_BODY_BUFFER_MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    body_buffer_mb: u64,
    /// Request quotas per account: `aws` (AWS KMS's default request quotas, ThrottlingException past them) or
    /// `off` (benchmarks).
    #[arg(long, env = "TRENT_REQUEST_QUOTAS", value_enum, default_value_t = QuotaMode::Aws)]
    request_quotas: QuotaMode,
    /// Multiplies every request quota (2 doubles them; 0.01 makes them tiny).
    #[arg(long, env = "TRENT_REQUEST_QUOTA_SCALE", default_value_t = 1.0)]
    request_quota_scale: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum QuotaMode {
    Aws,
    Off,
}

impl LimitArgs {
    fn connections(&self) -> server::ConnectionLimits {
        server::ConnectionLimits {
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_connections_per_ip: usize::try_from(self.max_connections_per_ip).unwrap_or(usize::MAX),
        }
    }

    fn requests(&self) -> trent_api::RequestLimits {
        trent_api::RequestLimits {
            body_read_timeout: Duration::from_secs(self.body_read_timeout_secs),
            body_buffer_budget: usize::try_from(self.body_buffer_mb << 20).unwrap_or(usize::MAX),
            max_in_flight: usize::try_from(self.max_requests_in_flight).unwrap_or(usize::MAX),
        }
    }

    fn quotas(&self) -> Result<trent_api::Quotas, String> {
        match self.request_quotas {
            QuotaMode::Off => Ok(trent_api::Quotas::Off),
            QuotaMode::Aws if self.request_quota_scale.is_finite() && self.request_quota_scale > 0.0 => {
                Ok(trent_api::Quotas::Scaled(self.request_quota_scale))
            }
            QuotaMode::Aws => Err(format!(
                "--request-quota-scale must be a positive number, not {}; to turn quotas off use --request-quotas off",
                self.request_quota_scale
            )),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct EnvArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// Endpoint to print instead of the one the server last listened on.
    #[arg(long)]
    endpoint: Option<String>,
}

/// mimalloc instead of glibc's malloc: the request path allocates and frees many small buffers from several
/// threads, where glibc's arenas spent ~15% of the server's CPU (bench/run's profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Env(args) => env(args),
        Command::Encrypt(args) => esdk_cli::encrypt(args),
        Command::Decrypt(args) => esdk_cli::decrypt(args),
        Command::Audit(args) => audit_cli::run(args),
        Command::Admin(args) => admin::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRENT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal: in a log file they are noise (and NO_COLOR turns them off).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Everything a running Trent is made of, opened from the data directory.
struct Opened {
    kms: Arc<Kms>,
    ssm: Arc<trent_core::ssm::Ssm>,
    identities: Arc<Identities>,
    instance: instance::Instance,
    /// Kept to open the audit trail, whose signing key is stored wrapped under it.
    root: Arc<trent_crypto::RootKey>,
}

fn open(dir: &DataDir, account: Option<&str>, region: Option<&str>, clock: Arc<dyn Clock>) -> Result<Opened, String> {
    dir.create()?;
    let instance = instance::load_or_init(dir, account, region)?;
    let root = Arc::new(FileRootKey::new(dir.root_key()).load().map_err(|e| e.to_string())?);
    let store: Arc<SqliteStore> =
        Arc::new(SqliteStore::open(&dir.database()).map_err(|e| format!("opening {}: {e}", dir.database().display()))?);
    let kms = Arc::new(Kms::new(store.clone(), root.clone(), clock.clone(), instance.region()?));
    let ssm = Arc::new(trent_core::ssm::Ssm::new(kms.clone(), store.clone()));
    // IAM users and roles live in the same database; KMS authorization reads their policies from here.
    let identities = Arc::new(Identities::new(store.clone(), root.clone(), clock).with_iam_store(store));
    kms.set_principal_directory(identities.clone());
    identities.ensure_root_access_key(&instance.account()?).map_err(|e| e.to_string())?;
    Ok(Opened { kms, ssm, identities, instance, root })
}

fn serve(args: ServeArgs) -> Result<(), String> {
    init_logs(args.log_format);
    let dir = DataDir::new(args.data.data_dir.clone());
    let first_start = !dir.exists();
    let test_clock = args.dangerous_test_clock_file.as_ref().map(|_| Arc::new(OffsetClock::default()));
    let clock: Arc<dyn Clock> = match &test_clock {
        Some(c) => {
            eprintln!(
                "trent: WARNING: --dangerous-test-clock-file is set; this server's clock can be moved by a file. Tests only."
            );
            c.clone()
        }
        None => Arc::new(SystemClock),
    };
    // Before anything in the directory is opened: a second server on it would corrupt the trail and serve stale keys.
    dir.create()?;
    let _lock = lock::acquire(&dir.root)?;
    let opened = open(&dir, args.account_id.as_deref(), args.region.as_deref(), clock)?;
    let audit_dir = audit_cli::audit_dir(&dir.root, args.audit_dir.as_ref());
    let audit = if args.dangerous_no_audit {
        eprintln!("trent: WARNING: --dangerous-no-audit is set; requests are NOT audited. Benchmarks only.");
        None
    } else {
        // The outbox sits beside the database: a change that committed there can keep its record there too
        // while the trail (perhaps on another disk, with --audit-dir) cannot take it.
        let config = trent_audit::AuditConfig { outbox: Some(dir.root.join("audit-outbox")), ..args.trail.config() };
        let sink = trent_audit::AuditSink::open(&audit_dir, &opened.root, config)
            .map_err(|e| format!("opening the audit trail in {}: {e}", audit_dir.display()))?;
        Some(Arc::new(sink))
    };
    let tls_config = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => tls::server_config(cert, key),
        _ => tls::ensure_tls_material(&dir.tls_dir()).and_then(|p| tls::server_config(&p.cert, &p.key)),
    }
    .map_err(|e| e.to_string())?;

    let quotas = args.limits.quotas()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let audit_for_server = audit.clone();
    let served = runtime.block_on(async move {
        let mut listeners = Vec::new();
        let https = bind_all(&args.listen, "--listen").await?;
        let https_url = client_url("https", https[0].local_addr().map_err(|e| e.to_string())?);
        for listener in https {
            listeners.push(server::Listener::Https { listener, tls: tls_config.clone() });
        }
        let mut http_url = None;
        if let Some(addr) = &args.insecure_http {
            let http = bind_all(addr, "--insecure-http").await?;
            let url = client_url("http", http[0].local_addr().map_err(|e| e.to_string())?);
            tracing::warn!(
                url,
                "PLAIN HTTP IS ON: requests, plaintexts and data keys cross this listener unencrypted. Use it only on a trusted network."
            );
            http_url = Some(url);
            listeners.extend(http.into_iter().map(|listener| server::Listener::Http { listener }));
        }
        instance::write_serving(&dir, &Serving { https: Some(https_url.clone()), http: http_url.clone() })?;

        let test_clock = test_clock.zip(args.dangerous_test_clock_file.clone());
        spawn_scheduler(
            opened.kms.clone(),
            opened.ssm.clone(),
            audit_for_server.clone(),
            Duration::from_secs(args.scheduler_interval_secs),
            test_clock,
        );
        let state = Arc::new(
            AppState::new(opened.kms.clone(), opened.ssm.clone(), opened.identities.clone())
                .with_audit(audit_for_server)
                .with_limits(args.limits.requests())
                .with_quotas(quotas),
        );
        tracing::info!(
            https = %https_url,
            http = http_url.as_deref().unwrap_or("off"),
            account = %opened.instance.account_id,
            region = %opened.instance.region,
            data_dir = %dir.root.display(),
            first_start,
            "Trent is serving; point clients at it with: eval \"$(trent env --data-dir {})\"",
            dir.root.display()
        );
        server::serve(trent_api::router(state), listeners, args.limits.connections(), server::shutdown_signal())
            .await
            .map_err(|e| format!("server failed: {e}"))?;
        tracing::info!("Trent stopped");
        Ok(())
    });
    // No request is running any more: seal the trail with its shutdown digest (a missing one marks a cut tail).
    if let Some(a) = audit {
        a.close();
    }
    served
}

/// Binds every address `spec` names: `IP:port`, or `host:port`, resolved (`localhost` gives 127.0.0.1 and ::1).
/// An address of a resolved name that cannot be bound (::1 where IPv6 is off) is skipped if another one binds.
async fn bind_all(spec: &str, flag: &str) -> Result<Vec<tokio::net::TcpListener>, String> {
    if let Ok(addr) = spec.parse::<SocketAddr>() {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        return Ok(vec![listener]);
    }
    let hint = "give an IP address and port, e.g. 127.0.0.1:8443, or a host name and port, e.g. localhost:8443";
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host(spec)
        .await
        .map_err(|e| format!("{flag} {spec}: cannot resolve it ({e}); {hint}"))?
        .collect();
    // IPv4 first: its URL is the one recorded for `trent env`, and the one every client reaches.
    addrs.sort_by_key(SocketAddr::is_ipv6);
    addrs.dedup();
    let mut bound = Vec::new();
    let mut errors = Vec::new();
    for addr in addrs {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => bound.push(l),
            Err(e) => errors.push(format!("{addr}: {e}")),
        }
    }
    if bound.is_empty() {
        return Err(format!("cannot listen on {spec} ({}); {hint}", errors.join("; ")));
    }
    for e in errors {
        tracing::warn!(listen = spec, error = e, "skipping an address the name resolves to");
    }
    Ok(bound)
}

/// Runs the time-driven work (deletions at the end of their window, automatic rotations, expiry of imported
/// material, parameters past their Expiration policy) at start and then every `interval`.
fn spawn_scheduler(
    kms: Arc<Kms>,
    ssm: Arc<trent_core::ssm::Ssm>,
    audit: Option<Arc<trent_audit::AuditSink>>,
    interval: Duration,
    test_clock: Option<(Arc<OffsetClock>, PathBuf)>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            if let Some((clock, path)) = &test_clock
                && let Some(secs) = std::fs::read_to_string(path).ok().and_then(|s| s.trim().parse::<i64>().ok())
            {
                clock.set_offset_ms(secs.saturating_mul(1000));
            }
            let k = kms.clone();
            match tokio::task::spawn_blocking(move || k.run_due_jobs()).await {
                Ok(Ok(done)) if done != Default::default() => {
                    tracing::info!(
                        deleted = done.deleted,
                        rotated = done.rotated,
                        expired = done.expired,
                        "scheduled work done"
                    );
                    if let Some(sink) = &audit {
                        record_service_events(sink, kms.region().as_str(), &done.done).await;
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "scheduled work failed; will retry"),
                Err(e) => tracing::error!(error = %e, "scheduler task panicked; will retry"),
            }
            let s = ssm.clone();
            match tokio::task::spawn_blocking(move || s.run_due_jobs()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(expired_parameters = n, "scheduled parameter work done"),
                Ok(Err(e)) => tracing::error!(error = %e, "scheduled parameter work failed; will retry"),
                Err(e) => tracing::error!(error = %e, "parameter scheduler task panicked; will retry"),
            }
        }
    });
}

/// The trail's `AwsServiceEvent` records for work Trent did on its own, named as AWS names them. The work is
/// already done and durable in the store; a failed audit write is logged, it cannot refuse anything.
async fn record_service_events(
    sink: &trent_audit::AuditSink,
    region: &str,
    done: &[(trent_core::service::JobKind, String)],
) {
    use trent_core::service::JobKind;
    for (kind, arn) in done {
        let name = match kind {
            JobKind::Deletion => "DeleteKey",
            JobKind::Rotation => "RotateKey",
            JobKind::MaterialExpiry => "DeleteExpiredKeyMaterial",
        };
        let mut event = trent_audit::AuditEvent::service_event("kms.amazonaws.com", name, region);
        let account = arn.split(':').nth(4).map(str::to_owned);
        event.resources.push(trent_audit::Resource {
            account_id: account.clone(),
            kind: "AWS::KMS::Key".into(),
            arn: arn.clone(),
        });
        event.recipient_account_id = account;
        if let Err(e) = sink.record(&event).await {
            tracing::error!(key = %arn, event = name, error = ?e, "recording a service event in the audit trail failed");
        }
    }
}

/// Opens a data directory a server already created (for commands that run beside or instead of it).
fn open_existing(data_dir: &std::path::Path) -> Result<(DataDir, Opened), String> {
    let dir = DataDir::new(data_dir.to_owned());
    if !dir.exists() {
        return Err(format!(
            "no Trent data directory at {}; start the server first with: trent serve --data-dir {}",
            dir.root.display(),
            dir.root.display()
        ));
    }
    let opened = open(&dir, None, None, Arc::new(SystemClock))?;
    Ok((dir, opened))
}

fn env(args: EnvArgs) -> Result<(), String> {
    let (dir, opened) = open_existing(&args.data.data_dir)?;
    let (id, secret) =
        opened.identities.ensure_root_access_key(&opened.instance.account()?).map_err(|e| e.to_string())?;
    print_exports(&dir, &opened.instance.region, args.endpoint, &id, &secret)
}

/// The `export` lines of `trent env` and `trent admin create-account`: endpoint (the given one, else where the
/// server last listened), CA bundle, credentials, region.
pub(crate) fn print_exports(
    dir: &DataDir,
    region: &str,
    endpoint: Option<String>,
    access_key_id: &str,
    secret: &trent_crypto::SecretBytes,
) -> Result<(), String> {
    let endpoint = endpoint
        .or_else(|| instance::read_serving(dir).and_then(|s| s.https))
        .unwrap_or_else(|| "https://127.0.0.1:8443".to_owned());
    let ca = std::fs::canonicalize(dir.tls_dir().join("ca.pem"))
        .map_err(|e| format!("cannot find the CA certificate in {}: {e}", dir.tls_dir().display()))?;
    // Printing the secret is this command's purpose: its output is meant for `eval` by the operator.
    let secret = String::from_utf8_lossy(secret.expose_secret()).into_owned();
    println!("export AWS_ENDPOINT_URL={}", shell_quote(&endpoint));
    println!("export AWS_CA_BUNDLE={}", shell_quote(&ca.display().to_string()));
    // Node.js (the JavaScript SDK v3) does not read AWS_CA_BUNDLE; it adds this file to its roots at start.
    println!("export NODE_EXTRA_CA_CERTS={}", shell_quote(&ca.display().to_string()));
    println!("export AWS_ACCESS_KEY_ID={}", shell_quote(access_key_id));
    println!("export AWS_SECRET_ACCESS_KEY={}", shell_quote(&secret));
    println!("export AWS_DEFAULT_REGION={}", shell_quote(region));
    println!("export AWS_REGION={}", shell_quote(region));
    println!("unset AWS_SESSION_TOKEN AWS_PROFILE");
    Ok(())
}

/// Single-quotes a value for POSIX shells.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
