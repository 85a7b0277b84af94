//! `trent admin ...`: operator commands: `create-account` (a new account's root credentials) and `schedule`
//! (what the scheduler will do and when).
//!
//! Accounts exist implicitly, through the ARNs of their principals and resources; creating one means giving
//! it a root principal with an access key. Its root then creates users, roles and keys in its own account
//! through the ordinary AWS interfaces, which is how cross-account setups are built and tested.

use std::sync::Arc;

use clap::Subcommand;
use trent_core::clock::SystemClock;
use trent_core::ids::AccountId;

use crate::instance::{self, DataDir};
use crate::{open, shell_quote, DataDirArg};

#[derive(clap::Args)]
pub(crate) struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account (its root principal and an access key) and print `export` lines for its root
    /// credentials, like `trent env`. Run again to print the same credentials.
    CreateAccount(CreateAccountArgs),
    /// Show upcoming key deletions, automatic rotations and imported-material expiries, earliest first.
    Schedule(ScheduleArgs),
}

#[derive(clap::Args)]
struct ScheduleArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct CreateAccountArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The 12-digit account id.
    #[arg(long)]
    account_id: String,
    /// Endpoint to print instead of the one the server last listened on.
    #[arg(long)]
    endpoint: Option<String>,
}

pub(crate) fn run(args: AdminArgs) -> Result<(), String> {
    match args.command {
        AdminCommand::CreateAccount(a) => create_account(a),
        AdminCommand::Schedule(a) => schedule(a),
    }
}

fn schedule(args: ScheduleArgs) -> Result<(), String> {
    let dir = DataDir::new(args.data.data_dir.clone());
    if !dir.exists() {
        return Err(format!("no Trent data directory at {}", dir.root.display()));
    }
    let opened = open(&dir, None, None, Arc::new(SystemClock))?;
    let jobs = opened.kms.scheduled_jobs().map_err(|e| e.to_string())?;
    if args.json {
        for j in &jobs {
            println!(
                "{}",
                serde_json::json!({ "due": rfc3339(j.due.0), "kind": j.kind.as_str(), "key": j.key_arn })
            );
        }
    } else if jobs.is_empty() {
        println!("nothing scheduled");
    } else {
        println!("{:<24}  {:<16}  key", "due (UTC)", "what");
        for j in &jobs {
            println!("{:<24}  {:<16}  {}", rfc3339(j.due.0), j.kind.as_str(), j.key_arn);
        }
    }
    Ok(())
}

/// `2026-11-28T17:00:00Z` from epoch milliseconds (civil-from-days, Howard Hinnant's algorithm).
fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_known_answers() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_780_272_000_000), "2026-06-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}

fn create_account(args: CreateAccountArgs) -> Result<(), String> {
    let account = AccountId::parse(&args.account_id)
        .ok_or_else(|| format!("--account-id must be 12 digits, not {:?}", args.account_id))?;
    let dir = DataDir::new(args.data.data_dir.clone());
    if !dir.exists() {
        return Err(format!(
            "no Trent data directory at {}; start the server first with: trent serve --data-dir {}",
            dir.root.display(),
            dir.root.display()
        ));
    }
    let opened = open(&dir, None, None, Arc::new(SystemClock))?;
    let (id, secret) = opened.identities.ensure_root_access_key(&account).map_err(|e| e.to_string())?;
    let endpoint = args
        .endpoint
        .or_else(|| instance::read_serving(&dir).and_then(|s| s.https))
        .unwrap_or_else(|| "https://127.0.0.1:8443".to_owned());
    let ca = std::fs::canonicalize(dir.tls_dir().join("ca.pem"))
        .map_err(|e| format!("cannot find the CA certificate in {}: {e}", dir.tls_dir().display()))?;
    // Printing the secret is this command's purpose: its output is meant for `eval` by the operator.
    let secret = String::from_utf8_lossy(secret.expose_secret()).into_owned();
    println!("export AWS_ENDPOINT_URL={}", shell_quote(&endpoint));
    println!("export AWS_CA_BUNDLE={}", shell_quote(&ca.display().to_string()));
    println!("export AWS_ACCESS_KEY_ID={}", shell_quote(&id));
    println!("export AWS_SECRET_ACCESS_KEY={}", shell_quote(&secret));
    println!("export AWS_DEFAULT_REGION={}", shell_quote(&opened.instance.region));
    println!("export AWS_REGION={}", shell_quote(&opened.instance.region));
    println!("unset AWS_SESSION_TOKEN AWS_PROFILE");
    Ok(())
}
