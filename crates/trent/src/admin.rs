//! `trent admin ...`: operator commands on principals. Today: `create-account`.
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
