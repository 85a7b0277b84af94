//! One server per data directory (issue 14): a second `trent serve` on a directory in use exits at once,
//! naming the first; read-only commands still work beside the server; after `kill -9` the next start needs no
//! cleanup.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::ok;
use crate::server::{RemoveOnDrop, Server, TRENT, free_port, unique_base_dir};

/// Runs `trent ARGS` with a clean environment, killing it if it runs longer than `limit`.
fn run_trent(args: &[&str], data_dir: &std::path::Path, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(TRENT)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("TRENT_DATA_DIR")
        .env_remove("TRENT_LISTEN")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning trent");
    while child.try_wait().expect("polling trent").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collecting trent's output");
            panic!("trent {args:?} still running after {limit:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().expect("collecting trent's output"), started.elapsed())
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_is_refused_and_names_the_first() {
    let base = unique_base_dir();
    let _cleanup = RemoveOnDrop(base.clone());
    let mut first = Server::start(&base, false);
    let listen = format!("127.0.0.1:{}", free_port());

    let (out, took) = run_trent(&["serve", "--listen", &listen], &first.data_dir, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second server must exit non-zero: {stderr}");
    assert!(took < Duration::from_secs(10), "refused at once, not after {took:?}: {stderr}");
    assert!(stderr.contains(&format!("pid {}", first.pid())), "names the holder's pid: {stderr}");
    assert!(stderr.contains("already serving"), "{stderr}");
    // The refused server never bound its address.
    assert!(std::net::TcpStream::connect(&listen).is_err(), "the second server must not listen");

    // The first server is untouched and keeps serving.
    let c = first.client();
    ok!(c.list_keys().send());

    // Read-only commands work beside the running server.
    let (out, _) = run_trent(&["env"], &first.data_dir, Duration::from_secs(20));
    assert!(out.status.success(), "trent env: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(crate::server::parse_env(&String::from_utf8_lossy(&out.stdout)).endpoint_url, first.env.endpoint_url);
    let (out, _) =
        run_trent(&["audit", "lookup", "--event-name", "ListKeys"], &first.data_dir, Duration::from_secs(20));
    assert!(out.status.success(), "trent audit lookup: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ListKeys\""), "lookup finds the live trail's events");
    let (out, _) = run_trent(&["audit", "verify"], &first.data_dir, Duration::from_secs(20));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Whether a live trail's unsigned tail counts as a failure is verify's own business (issue 15); the lock
    // must not be what stops it.
    assert!(!text.contains("already serving") && !text.contains("lock"), "trent audit verify: {text}");

    let status = first.stop();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn after_kill_9_the_next_server_takes_the_lock_without_cleanup() {
    let base = unique_base_dir();
    let _cleanup = RemoveOnDrop(base.clone());
    let mut first = Server::start(&base, false);
    let c = first.client();
    ok!(c.list_keys().send());
    drop(c);
    first.kill9();
    assert!(first.data_dir.join("serve.lock").exists(), "the lock file stays behind after kill -9");
    drop(first);

    // Server::start panics if trent exits early, so this is the whole check: it starts and serves.
    let mut second = Server::start(&base, false);
    let c = second.client();
    ok!(c.list_keys().send());
    let pid = std::fs::read_to_string(second.data_dir.join("serve.lock")).unwrap();
    assert_eq!(pid.trim(), second.pid().to_string(), "the lock file names the new holder");
    assert!(second.stop().success());
}
