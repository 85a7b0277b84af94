//! `trent audit ...`: operator commands on the audit trail: `verify`, `lookup`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::DataDirArg;

#[derive(clap::Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the trail from its files alone: hash chain, signed digests, no cut tail. Prints OK with counts,
    /// or the first record that was changed, removed, reordered or inserted, and exits non-zero. Safe while
    /// the server runs: the records after the last signed digest are then reported as not signed yet (use
    /// --strict on a stopped server's trail).
    Verify(VerifyArgs),
    /// Search the trail, newest first: every filter given must match. Prints JSON lines (the recorded
    /// CloudTrail events) or a table; when more events match than `--max`, the token for the next page is
    /// printed on stderr.
    Lookup(LookupArgs),
    /// Export the closed segments not exported yet as gzip files in CloudTrail's S3 delivery layout
    /// (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/...json.gz`). Safe while the server runs: the open
    /// segment is left alone.
    Export(ExportArgs),
}

/// `trent serve`'s audit trail options: segment rotation, retention and export.
#[derive(clap::Args)]
pub(crate) struct TrailArgs {
    /// Close the open audit segment and start a new one at this size (MiB).
    #[arg(long, env = "TRENT_AUDIT_SEGMENT_MAX_MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    audit_segment_max_mb: u64,
    /// ...or when its first event is this many seconds old.
    #[arg(long, env = "TRENT_AUDIT_SEGMENT_MAX_AGE_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    audit_segment_max_age_secs: u64,
    /// Delete closed segments last written more than this many days ago (after export, with
    /// --audit-export-dir). Default: keep everything.
    #[arg(long, env = "TRENT_AUDIT_RETENTION_DAYS", value_parser = clap::value_parser!(u64).range(1..=36_500))]
    audit_retention_days: Option<u64>,
    /// Export each closed segment here in CloudTrail's S3 delivery layout.
    #[arg(long, env = "TRENT_AUDIT_EXPORT_DIR")]
    audit_export_dir: Option<PathBuf>,
    /// Exported file content.
    #[arg(long, value_enum, default_value_t = ExportFormatArg::Cloudtrail)]
    audit_export_format: ExportFormatArg,
    /// Tuning: under concurrent load, how long (µs) the audit writer gathers events before each fsync.
    #[arg(long, hide = true, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    audit_commit_delay_us: u64,
}

impl TrailArgs {
    pub(crate) fn config(&self) -> trent_audit::AuditConfig {
        trent_audit::AuditConfig {
            segment_max_bytes: self.audit_segment_max_mb << 20,
            segment_max_age: std::time::Duration::from_secs(self.audit_segment_max_age_secs),
            retention: self.audit_retention_days.map(|d| std::time::Duration::from_secs(d * 86_400)),
            export: self
                .audit_export_dir
                .clone()
                .map(|dir| trent_audit::ExportConfig { dir, format: self.audit_export_format.into() }),
            commit_delay: std::time::Duration::from_micros(self.audit_commit_delay_us),
            ..trent_audit::AuditConfig::default()
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormatArg {
    /// `{"Records":[...]}`, as CloudTrail delivers.
    Cloudtrail,
    /// One event per line.
    Jsonl,
}

impl From<ExportFormatArg> for trent_audit::ExportFormat {
    fn from(f: ExportFormatArg) -> Self {
        match f {
            ExportFormatArg::Cloudtrail => Self::CloudTrail,
            ExportFormatArg::Jsonl => Self::JsonLines,
        }
    }
}

#[derive(clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The trail's directory, if not `<data-dir>/audit`.
    #[arg(long)]
    audit_dir: Option<PathBuf>,
    /// Where to write the export.
    #[arg(long)]
    to: PathBuf,
    /// Exported file content.
    #[arg(long, value_enum, default_value_t = ExportFormatArg::Cloudtrail)]
    format: ExportFormatArg,
}

#[derive(clap::Args)]
struct LookupArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The trail's directory, if not `<data-dir>/audit`.
    #[arg(long)]
    audit_dir: Option<PathBuf>,
    /// Events at or after this time: `2026-11-28T17:00:00Z`, `2026-11-28` or epoch seconds (UTC).
    #[arg(long, value_parser = parse_time_arg)]
    start_time: Option<std::time::SystemTime>,
    /// Events at or before this time (same forms as --start-time).
    #[arg(long, value_parser = parse_time_arg)]
    end_time: Option<std::time::SystemTime>,
    /// The operation, e.g. Encrypt.
    #[arg(long)]
    event_name: Option<String>,
    /// A key id or key ARN.
    #[arg(long)]
    key: Option<String>,
    /// The caller's ARN (userIdentity.arn).
    #[arg(long)]
    principal: Option<String>,
    /// The access key id the request was signed with.
    #[arg(long)]
    access_key: Option<String>,
    /// The error code of failed calls, e.g. AccessDeniedException.
    #[arg(long)]
    error_code: Option<String>,
    /// Only read-only (true) or only mutating (false) calls.
    #[arg(long)]
    read_only: Option<bool>,
    /// At most this many events.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max: u32,
    /// Continue after a previous page (the token it printed).
    #[arg(long)]
    next_token: Option<String>,
    /// JSON lines (the recorded CloudTrail events, in full) or a table of the main fields.
    #[arg(long, value_enum, default_value_t = Output::Json)]
    output: Output,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Output {
    Json,
    Table,
}

fn parse_time_arg(s: &str) -> Result<std::time::SystemTime, String> {
    trent_audit::search::parse_time(s)
        .ok_or_else(|| format!("{s:?} is not a time; use 2026-11-28T17:00:00Z, 2026-11-28 or epoch seconds"))
}

#[derive(clap::Args)]
struct VerifyArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The trail's directory, if not `<data-dir>/audit`.
    #[arg(long)]
    audit_dir: Option<PathBuf>,
    /// The server is stopped: the trail must end with its shutdown digest, so records after the last signed
    /// digest are an error (a cut tail, or a server that is running or crashed). Without it, an open trail
    /// verifies up to its last signed digest.
    #[arg(long)]
    strict: bool,
}

/// A segments-done bar on standard error when it is a terminal (scripts and CI logs stay silent).
fn segment_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    // The template is a constant; should it ever fail to parse, the plain default bar is still useful.
    let style = indicatif::ProgressStyle::with_template("verifying [{bar:30}] segment {pos}/{len} eta {eta}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    Some(bar)
}

/// The trail's directory: `--audit-dir`, else `<data-dir>/audit`.
pub(crate) fn audit_dir(data_dir: &std::path::Path, explicit: Option<&PathBuf>) -> PathBuf {
    explicit.cloned().unwrap_or_else(|| data_dir.join("audit"))
}

pub(crate) fn run(args: AuditArgs) -> Result<(), String> {
    match args.command {
        AuditCommand::Verify(v) => {
            let dir = audit_dir(&v.data.data_dir, v.audit_dir.as_ref());
            if !dir.is_dir() {
                return Err(format!("no audit trail at {}", dir.display()));
            }
            let bar = segment_bar();
            let mode = if v.strict { trent_audit::VerifyMode::Strict } else { trent_audit::VerifyMode::Live };
            let result = trent_audit::verify_with(&dir, mode, &mut |done, total| {
                if let Some(b) = &bar {
                    b.set_length(total as u64);
                    b.set_position(done as u64);
                }
            });
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            let r = result.map_err(|e| format!("audit trail verification FAILED: {e}"))?;
            println!(
                "OK: {} segment(s), {} record(s): {} event(s), {} signed digest(s), {} recovery(ies) after an unclean stop; signing key fingerprint {}",
                r.segments, r.records, r.events, r.digests, r.recoveries, r.key_fingerprint
            );
            if r.trail_start > 1 {
                println!(
                    "The trail starts at record {}: older segments were deleted by retention (signed for).",
                    r.trail_start
                );
            }
            if r.sealed {
                println!("The trail ends with its shutdown digest: every record is signed.");
            } else {
                let last = match &r.last_digest {
                    Some((seq, time)) => format!("record {seq}, signed at {time}"),
                    None => "none yet".to_owned(),
                };
                println!(
                    "The trail is open (the server is running, or stopped without its shutdown digest): verified up to the last signed digest ({last}); {} record(s) after it are not signed yet. Verify again later, or with --strict once the server is stopped.",
                    r.unsigned
                );
            }
            Ok(())
        }
        AuditCommand::Lookup(a) => lookup(a),
        AuditCommand::Export(a) => {
            let dir = audit_dir(&a.data.data_dir, a.audit_dir.as_ref());
            if !dir.is_dir() {
                return Err(format!("no audit trail at {}", dir.display()));
            }
            let cfg = trent_audit::ExportConfig { dir: a.to.clone(), format: a.format.into() };
            let s = trent_audit::export_closed(&dir, &cfg).map_err(|e| format!("audit export FAILED: {e}"))?;
            println!(
                "exported {} segment(s): {} event(s) in {} file(s) under {}; {} segment(s) were exported before",
                s.segments,
                s.events,
                s.files,
                a.to.display(),
                s.already
            );
            Ok(())
        }
    }
}

fn lookup(a: LookupArgs) -> Result<(), String> {
    use trent_audit::search::{self, Cursor, Filter};

    let dir = audit_dir(&a.data.data_dir, a.audit_dir.as_ref());
    if !dir.is_dir() {
        return Err(format!("no audit trail at {}", dir.display()));
    }
    let after = match &a.next_token {
        Some(t) => Some(Cursor::decode(t).ok_or("--next-token is not a token printed by trent audit lookup")?),
        None => None,
    };
    let filter = Filter {
        start_time: a.start_time,
        end_time: a.end_time,
        event_names: a.event_name.into_iter().collect(),
        resource: a.key,
        principal: a.principal,
        access_key_id: a.access_key,
        error_code: a.error_code,
        read_only: a.read_only,
        ..Filter::default()
    };
    let page = search::search(&dir, &filter, a.max as usize, after).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock<'_>, line: &str| {
        use std::io::Write as _;
        writeln!(out, "{line}").map_err(|e| format!("writing the output: {e}"))
    };
    match a.output {
        Output::Json => {
            for f in &page.events {
                write(&mut out, &f.json)?;
            }
        }
        Output::Table => {
            write(
                &mut out,
                &table_row(["EVENT TIME", "EVENT NAME", "USER", "ACCESS KEY", "RESOURCE", "ERROR", "EVENT ID"]),
            )?;
            for f in &page.events {
                let e = &f.event;
                let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
                let resource =
                    e["resources"][0]["ARN"].as_str().or(e["requestParameters"]["keyId"].as_str()).unwrap_or("-");
                let user = search::username(e).unwrap_or_else(|| "-".into());
                write(
                    &mut out,
                    &table_row([
                        &text(&e["eventTime"]),
                        &text(&e["eventName"]),
                        &user,
                        &text(&e["userIdentity"]["accessKeyId"]),
                        resource,
                        &text(&e["errorCode"]),
                        &text(&e["eventID"]),
                    ]),
                )?;
            }
        }
    }
    if let Some(next) = page.next {
        eprintln!("more events match; next page: --next-token {}", next.encode());
    }
    Ok(())
}

/// One table line; widths fit the usual values (times, operation names, ARNs of KMS keys).
fn table_row(cells: [&str; 7]) -> String {
    const WIDTHS: [usize; 7] = [20, 22, 12, 20, 75, 28, 36];
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(WIDTHS) {
        line.push_str(&format!("{cell:<width$}  "));
    }
    line.trim_end().to_owned()
}
