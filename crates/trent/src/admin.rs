//! `trent admin ...`: operator commands: `create-account` (a new account's root credentials) and `schedule`
//! (what the scheduler will do and when).
//!
//! Accounts exist implicitly, through the ARNs of their principals and resources; creating one means giving
//! it a root principal with an access key. Its root then creates users, roles and keys in its own account
//! through the ordinary AWS interfaces, which is how cross-account setups are built and tested.

use clap::Subcommand;
use trent_core::ids::AccountId;

use crate::{DataDirArg, open_existing, print_exports};

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
    let (_, opened) = open_existing(&args.data.data_dir)?;
    let jobs = opened.kms.scheduled_jobs().map_err(|e| e.to_string())?;
    if args.json {
        for j in &jobs {
            println!("{}", serde_json::json!({ "due": j.due.to_rfc3339(), "kind": j.kind.as_str(), "key": j.key_arn }));
        }
    } else if jobs.is_empty() {
        println!("nothing scheduled");
    } else {
        println!("{:<24}  {:<16}  key", "due (UTC)", "what");
        for j in &jobs {
            println!("{:<24}  {:<16}  {}", j.due.to_rfc3339(), j.kind.as_str(), j.key_arn);
        }
    }
    Ok(())
}

fn create_account(args: CreateAccountArgs) -> Result<(), String> {
    let account = AccountId::parse(&args.account_id)
        .ok_or_else(|| format!("--account-id must be 12 digits, not {:?}", args.account_id))?;
    let (dir, opened) = open_existing(&args.data.data_dir)?;
    let (id, secret) = opened.identities.ensure_root_access_key(&account).map_err(|e| e.to_string())?;
    print_exports(&dir, &opened.instance.region, args.endpoint, &id, &secret)
}
