//! Resource limits before authentication (security review finding 3), request quotas, and what a first-time
//! user meets: plain HTTP on the HTTPS port, `--listen localhost:PORT`, no colour codes in log files.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::server::{RemoveOnDrop, Server, TRENT, free_port, unique_base_dir};
use crate::{REGION, ok};

/// Resident memory of a process, from /proc, in KiB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `YYYYMMDDTHHMMSSZ` for now.
fn amz_date() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn tls_connector(ca_pem: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The review's t11: 150 TLS connections each send the headers of a KMS request that names a real access key
/// (access key ids are not secret) with a bad signature, `Content-Length: 524288` and 500,000 body bytes, then
/// stall. Memory stays bounded by the body budget, every one of them is answered and closed within the body
/// deadline, and a well-behaved client is served all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_half_sent_bodies_keep_memory_bounded_and_are_closed_at_the_deadline() {
    const DEADLINE_SECS: u64 = 3;
    const ATTACKERS: usize = 150;
    let base = unique_base_dir();
    let _cleanup = RemoveOnDrop(base.clone());
    let args = ["--request-quotas", "off", "--body-read-timeout-secs", "3", "--body-buffer-mb", "16"];
    // Without NO_COLOR: the log file must still have no colour codes, as stderr is not a terminal.
    let mut server = Server::start_with(&base, false, &args, false);
    let client = server.client();
    ok!(client.list_keys().send());
    let before = rss_kb(server.pid());

    let addr: std::net::SocketAddr = server.env.endpoint_url.trim_start_matches("https://").parse().unwrap();
    let connector = tls_connector(server.ca_pem());
    let headers = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: TrentService.Encrypt\r\nX-Amz-Date: {date}\r\nContent-Length: 524288\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={akid}/{day}/{REGION}/kms/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={sig}\r\n\r\n",
        date = amz_date(),
        day = &amz_date()[..8],
        akid = server.env.access_key_id,
        sig = "0".repeat(64),
    );
    let mut attackers = Vec::new();
    for i in 0..ATTACKERS {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
        tls.write_all(headers.as_bytes()).await.unwrap();
        let body = vec![b'a'; 500_000];
        // Sent in the background: a server that stops reading must not stall the test.
        attackers.push(tokio::spawn(async move {
            let _ = tls.write_all(&body).await;
            let _ = tls.flush().await;
            let sent = Instant::now();
            let mut answer = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(30), tls.read_to_end(&mut answer)).await;
            (i, sent.elapsed(), read.is_ok(), String::from_utf8_lossy(&answer).into_owned())
        }));
    }
    // While they stall, the well-behaved client is served promptly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..3 {
        let started = Instant::now();
        let key = ok!(client.create_key().send()).key_metadata().unwrap().key_id().to_owned();
        ok!(client.encrypt().key_id(&key).plaintext(crate::blob("still served")).send());
        assert!(started.elapsed() < Duration::from_secs(5), "served in {:?}", started.elapsed());
    }
    let during = rss_kb(server.pid());

    let mut answers = std::collections::BTreeMap::<String, usize>::new();
    for a in attackers {
        let (i, waited, closed, answer) = a.await.unwrap();
        assert!(closed, "attacker {i}: connection still open 30 s after its body stalled");
        assert!(
            waited < Duration::from_secs(DEADLINE_SECS + 5),
            "attacker {i}: closed {waited:?} after stalling; the deadline is {DEADLINE_SECS} s"
        );
        let status = answer.lines().next().unwrap_or("(closed without an answer)").to_owned();
        let kind = ["RequestTimeoutException", "ThrottlingException"]
            .into_iter()
            .find(|k| answer.contains(k))
            .unwrap_or("other");
        *answers.entry(format!("{status} {kind}")).or_default() += 1;
    }
    eprintln!("RSS before {before} kB, with {ATTACKERS} stalled bodies {during} kB; answers {answers:?}");
    // 16 MiB of budget, 16 KiB each of allowance, and buffers: far below the 1.4 MB per connection of old.
    assert!(during < before + 64 * 1024, "RSS grew from {before} kB to {during} kB");
    assert!(
        answers.keys().all(|k| k.contains("408 Request Timeout RequestTimeoutException")
            || k.contains("400 Bad Request ThrottlingException")),
        "{answers:?}"
    );
    ok!(client.list_keys().send());

    // Plain HTTP on the HTTPS port: a 400 that says what the port speaks, and a log line.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), plain.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer}");
    assert!(answer.contains("This port speaks HTTPS, not plain HTTP"), "{answer}");

    assert!(server.stop().success());
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("plain HTTP received on the HTTPS port"), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI escape codes in a log file:\n{log}");
}

/// A burst over a tiny configured quota is answered with ThrottlingException at once, with AWS's message.
#[tokio::test]
async fn a_burst_over_the_request_quota_is_throttled_at_once() {
    let base = unique_base_dir();
    let _cleanup = RemoveOnDrop(base.clone());
    // CreateKey's 5 per second scaled to 2: a bucket of two.
    let mut server = Server::start_with(&base, false, &["--request-quota-scale", "0.4"], true);
    let c = server.client();
    // Six at once: two pass, four are refused without waiting for anything.
    let mut burst = Vec::new();
    for _ in 0..6 {
        let c = c.clone();
        burst.push(tokio::spawn(async move {
            let started = Instant::now();
            let result = c.create_key().send().await;
            (result.map(|_| ()).map_err(|e| e.into_service_error()), started.elapsed())
        }));
    }
    let mut throttled = 0;
    for task in burst {
        use aws_sdk_kms::error::ProvideErrorMetadata as _;
        let (result, took) = task.await.unwrap();
        if let Err(e) = result {
            assert_eq!(e.code(), Some("ThrottlingException"), "{e:?}");
            assert_eq!(
                e.message(),
                Some("You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")
            );
            assert!(took < Duration::from_secs(2), "throttled only after {took:?}");
            throttled += 1;
        }
    }
    assert!(throttled >= 3, "a bucket of two: {throttled} of 6 throttled");
    // Other quotas are separate: ListKeys still passes.
    ok!(c.list_keys().send());
    // And the bucket refills.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    ok!(c.create_key().send());
    assert!(server.stop().success());
}

/// `--listen localhost:PORT` is resolved; an address that is neither says what to give.
#[test]
fn listen_accepts_a_host_name_and_explains_a_bad_address() {
    let base = unique_base_dir();
    let _cleanup = RemoveOnDrop(base.clone());
    let data = base.join("data");
    let run = |listen: &str| {
        std::process::Command::new(TRENT)
            .args(["serve", "--request-quotas", "off", "--listen", listen, "--data-dir"])
            .arg(&data)
            .env_remove("TRENT_DATA_DIR")
            .env_remove("TRENT_LISTEN")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    for bad in ["localhost", "no-such-host.invalid:8443"] {
        let out = run(bad).wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: {stderr}");
        assert!(stderr.contains("e.g. 127.0.0.1:8443") && stderr.contains("localhost:8443"), "{bad}: {stderr}");
    }
    let port = free_port();
    let mut child = run(&format!("localhost:{port}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let serving = loop {
        if let Ok(text) = std::fs::read_to_string(data.join("serving.json"))
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        {
            break text;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("trent serve --listen localhost:{port} exited: {status}");
        }
        assert!(Instant::now() < deadline, "trent serve --listen localhost:{port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(serving.contains(&format!("https://127.0.0.1:{port}")), "{serving}");
    assert!(status.success(), "{status}");
}
