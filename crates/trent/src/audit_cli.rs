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
    /// or the first record that was changed, removed, reordered or inserted, and exits non-zero.
    Verify(VerifyArgs),
    /// Search the trail, newest first: every filter given must match. Prints JSON lines (the recorded
    /// CloudTrail events) or a table; when more events match than `--max`, the token for the next page is
    /// printed on stderr.
    Lookup(LookupArgs),
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
            let r = trent_audit::verify(&dir).map_err(|e| format!("audit trail verification FAILED: {e}"))?;
            println!(
                "OK: {} segment(s), {} record(s): {} event(s), {} signed digest(s), {} recovery(ies) after an unclean stop; signing key fingerprint {}",
                r.segments, r.records, r.events, r.digests, r.recoveries, r.key_fingerprint
            );
            Ok(())
        }
        AuditCommand::Lookup(a) => lookup(a),
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
            write(&mut out, &table_row(["EVENT TIME", "EVENT NAME", "USER", "ACCESS KEY", "RESOURCE", "ERROR", "EVENT ID"]))?;
            for f in &page.events {
                let e = &f.event;
                let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
                let resource = e["resources"][0]["ARN"].as_str().or(e["requestParameters"]["keyId"].as_str()).unwrap_or("-");
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
