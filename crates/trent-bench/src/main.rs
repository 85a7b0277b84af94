//! `trent-bench`: Trent's benchmark tool (issue 9).
//!
//! - `run`: a closed-loop load generator that SigV4-signs every request as the SDKs do, against any KMS
//!   endpoint (Trent, moto, AWS), reporting throughput, HDR latency percentiles, errors by AWS type and its
//!   own CPU use.
//! - `ceiling`: the cheapest HTTP(S) responder on the same stack, to state Trent's figures as a ratio of
//!   what the machine can do at all.
//! - `seed`: N keys straight into a stopped Trent's data directory.
//! - `launch`: start a server, time it to its first healthy answer, leave it running.

mod ceiling;
mod charts;
mod client;
mod kms;
mod launch;
mod load;
mod proc_stat;
mod seed;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use client::Endpoint;
use kms::{Bodies, Op, Session};
use trent_client::sigv4::Credentials;

#[derive(Parser)]
#[command(name = "trent-bench", version, about = "Load generator, ceiling responder and seeder for KMS benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Drive load against a KMS endpoint and report.
    Run(Box<RunArgs>),
    /// Serve the cheapest possible HTTP(S) responder until killed.
    Ceiling(CeilingArgs),
    /// Create N keys directly in a stopped Trent's data directory.
    Seed(SeedArgs),
    /// Start a server command, wait for its health URL, print {"pid", "startup_ms"} and leave it running.
    Launch(LaunchArgs),
    /// Draw BENCHMARKS.md's charts (SVG) from a run's results.jsonl.
    Charts(charts::ChartArgs),
    /// Print the on-disk size of a Trent database (with its WAL) in bytes.
    DbSize {
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Endpoint URL, http:// or https://.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: Option<String>,
    /// PEM file of the CA(s) to trust for https.
    #[arg(long, env = "AWS_CA_BUNDLE")]
    ca_file: Option<PathBuf>,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: Option<String>,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: Option<String>,
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    session_token: Option<String>,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Take endpoint, CA and credentials from `trent env --data-dir DIR` (flags given explicitly still win).
    #[arg(long)]
    trent_data_dir: Option<PathBuf>,
    /// The `trent` binary for --trent-data-dir (default: next to this binary, else on PATH).
    #[arg(long)]
    trent_bin: Option<PathBuf>,
    /// Operation(s); several (comma-separated) are interleaved round-robin: a mix.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "encrypt")]
    op: Vec<Op>,
    /// Workers, each with its own keep-alive connection and one request in flight.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0, conflicts_with = "requests")]
    duration: f64,
    /// Stop after this many requests instead of after --duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds of unrecorded load before measuring (default 1 with --duration, 0 with --requests).
    #[arg(long)]
    warmup: Option<f64>,
    #[arg(long, default_value_t = 1024)]
    plaintext_bytes: usize,
    /// Spread requests over this many keys, taken from ListKeys; missing ones are created unless --no-create.
    #[arg(long, default_value_t = 1)]
    keys: usize,
    #[arg(long)]
    no_create: bool,
    /// Use exactly these key ids (repeatable) instead of listing: for endpoints without ListKeys, such as
    /// the ceiling.
    #[arg(long = "key-id")]
    key_ids: Vec<String>,
    /// Also report the CPU time this process (the server) used during the measured window.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// A free-form label copied into the JSON report.
    #[arg(long)]
    label: Option<String>,
}

#[derive(clap::Args)]
struct CeilingArgs {
    #[arg(long)]
    listen: std::net::SocketAddr,
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SeedArgs {
    /// A Trent data directory, with the server stopped.
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long)]
    keys: usize,
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct LaunchArgs {
    /// Where the server's stdout and stderr go.
    #[arg(long)]
    log: PathBuf,
    /// GET this URL until it answers 2xx.
    #[arg(long)]
    health_url: String,
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Accept any status below 500 (servers without a health endpoint, such as moto).
    #[arg(long)]
    any_status: bool,
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// The server command.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // With --trent-data-dir, the data directory's endpoint and CA beat the environment (a shell often has
    // AWS_CA_BUNDLE set for real AWS) but not flags typed on the command line.
    let from_cli = |name: &str| {
        matches
            .subcommand_matches("run")
            .and_then(|m| m.value_source(name))
            .is_some_and(|s| s == clap::parser::ValueSource::CommandLine)
    };
    let explicit = Explicit { endpoint: from_cli("endpoint"), ca_file: from_cli("ca_file") };
    match dispatch(cli.command, explicit) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trent-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    // Default worker count (one per core): client and server share the machine's cores; pin nothing.
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("async runtime: {e}"))
}

/// Which `run` settings were typed as flags rather than taken from the environment.
#[derive(Clone, Copy)]
struct Explicit {
    endpoint: bool,
    ca_file: bool,
}

fn dispatch(cmd: Cmd, explicit: Explicit) -> Result<(), String> {
    match cmd {
        Cmd::Run(args) => runtime()?.block_on(run(*args, explicit)),
        Cmd::Ceiling(a) => {
            let tls = a.tls_cert.as_deref().zip(a.tls_key.as_deref());
            runtime()?.block_on(ceiling::serve(a.listen, tls))
        }
        Cmd::Seed(a) => {
            let out = seed::seed(&a.data_dir, a.keys, a.quiet)?;
            println!("{out}");
            Ok(())
        }
        Cmd::Launch(a) => {
            let out = runtime()?.block_on(launch::launch(launch::Launch {
                command: a.command,
                log: a.log,
                health_url: a.health_url,
                ca_file: a.ca_file,
                timeout: Duration::from_secs_f64(a.timeout),
                any_status: a.any_status,
            }))?;
            println!("{out}");
            Ok(())
        }
        Cmd::Charts(a) => charts::run(&a).map_err(|e| format!("charts: {e}")),
        Cmd::DbSize { data_dir } => {
            println!("{}", seed::db_bytes(&data_dir.join("trent.db")));
            Ok(())
        }
    }
}

async fn run(mut a: RunArgs, explicit: Explicit) -> Result<(), String> {
    if let Some(dir) = a.trent_data_dir.clone() {
        let env = trent_env(&dir, a.trent_bin.as_deref())?;
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if !explicit.endpoint {
            a.endpoint = get("AWS_ENDPOINT_URL").or(a.endpoint);
        }
        if !explicit.ca_file {
            a.ca_file = get("AWS_CA_BUNDLE").map(PathBuf::from).or(a.ca_file);
        }
        // A data directory names one Trent: its credentials replace any from the environment.
        a.access_key_id = get("AWS_ACCESS_KEY_ID").or(a.access_key_id);
        a.secret_access_key = get("AWS_SECRET_ACCESS_KEY").or(a.secret_access_key);
        a.session_token = None;
        if let Some(r) = get("AWS_REGION") {
            a.region = r;
        }
    }
    let endpoint = a.endpoint.as_deref().ok_or("no endpoint: give --endpoint, AWS_ENDPOINT_URL or --trent-data-dir")?;
    let creds = Credentials {
        access_key_id: a.access_key_id.clone().ok_or("no access key id")?,
        secret_access_key: a.secret_access_key.clone().ok_or("no secret access key")?,
        session_token: a.session_token.clone(),
    };
    let ep = Endpoint::parse(endpoint, a.ca_file.as_deref())?;
    if a.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    let mut ops = a.op.clone();
    ops.dedup();

    let mut sessions: Vec<Session> =
        (0..a.concurrency).map(|_| Session::new(ep.clone(), creds.clone(), &a.region)).collect();
    let first = sessions.first_mut().ok_or("no session")?;
    let key_ids =
        if a.key_ids.is_empty() { kms::keys(first, a.keys.max(1), !a.no_create).await? } else { a.key_ids.clone() };
    let bodies = Arc::new(Bodies::prepare(first, &ops, &key_ids, a.plaintext_bytes).await?);
    for s in &mut sessions {
        s.connect().await?;
    }

    let (stop, default_warmup) = match a.requests {
        Some(n) => (load::Stop::Requests(n), 0.0),
        None => (load::Stop::After(Duration::from_secs_f64(a.duration)), 1.0),
    };
    let plan = load::Plan {
        concurrency: a.concurrency,
        stop,
        warmup: Duration::from_secs_f64(a.warmup.unwrap_or(default_warmup)),
        server_pid: a.server_pid,
    };
    let report = load::run(sessions, bodies, &plan, (endpoint.to_owned(), key_ids.len(), a.plaintext_bytes)).await?;
    if a.json {
        let mut v = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        v["label"] = serde_json::json!(a.label);
        v["https"] = serde_json::json!(ep.is_https());
        println!("{v}");
    } else {
        load::print_text(&report);
    }
    Ok(())
}

/// `trent env --data-dir DIR` as (name, value) pairs.
fn trent_env(dir: &std::path::Path, bin: Option<&std::path::Path>) -> Result<Vec<(String, String)>, String> {
    let bin = match bin {
        Some(b) => b.to_path_buf(),
        None => std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("trent")))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("trent")),
    };
    let out = std::process::Command::new(&bin)
        .args(["env", "--data-dir"])
        .arg(dir)
        .output()
        .map_err(|e| format!("running {} env: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("{} env failed: {}", bin.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(parse_exports(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `export NAME='value'` lines (POSIX single quotes, `'\''` for a quote), as `trent env` prints them.
fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')).unwrap_or(v);
            (k.to_owned(), v.replace("'\\''", "'"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_trent_env_output() {
        let env = parse_exports("export AWS_ACCESS_KEY_ID='AKIA1'\nexport X='it'\\''s'\nunset AWS_PROFILE\n");
        assert_eq!(env, vec![("AWS_ACCESS_KEY_ID".into(), "AKIA1".into()), ("X".into(), "it's".into())]);
    }
}
