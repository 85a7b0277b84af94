//! `trent audit ...`: operator commands on the audit trail. Today: `verify`.

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
    }
}
