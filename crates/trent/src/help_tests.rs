//! Every command and every visible option explains itself in `--help`: a new user reads nothing else.

use clap::CommandFactory;

use super::Cli;

fn check(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
    if cmd.get_about().is_none() && cmd.get_long_about().is_none() && path != "trent" {
        missing.push(format!("{path}: no description"));
    }
    for arg in cmd.get_arguments() {
        let builtin = matches!(arg.get_id().as_str(), "help" | "version");
        if !builtin && !arg.is_hide_set() && arg.get_help().is_none() && arg.get_long_help().is_none() {
            missing.push(format!("{path} --{}: no help text", arg.get_id()));
        }
    }
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        check(sub, &format!("{path} {}", sub.get_name()), missing);
    }
}

#[test]
fn every_command_and_option_has_help() {
    let cmd = Cli::command();
    cmd.clone().debug_assert();
    let mut missing = Vec::new();
    check(&cmd, "trent", &mut missing);
    assert!(missing.is_empty(), "help texts missing:\n{}", missing.join("\n"));
}

#[test]
fn top_level_help_names_the_quick_start_health_check_and_log_variable() {
    let help = Cli::command().render_long_help().to_string();
    for needle in ["trent serve", "trent env", "/healthz", "TRENT_LOG"] {
        assert!(help.contains(needle), "`trent --help` does not mention {needle}:\n{help}");
    }
}
