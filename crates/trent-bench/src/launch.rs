//! `trent-bench launch`: starts a server process, measures the time until its health URL first answers
//! with success, and leaves it running (its PID is printed for the caller to stop it by).

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Endpoint;

pub(crate) struct Launch {
    pub(crate) command: Vec<String>,
    pub(crate) log: PathBuf,
    pub(crate) health_url: String,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) timeout: Duration,
    pub(crate) any_status: bool,
}

pub(crate) async fn launch(l: Launch) -> Result<serde_json::Value, String> {
    let (program, args) = l.command.split_first().ok_or("launch: no command given after --")?;
    let log = File::create(&l.log).map_err(|e| format!("{}: {e}", l.log.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let uri: http::Uri = l.health_url.parse().map_err(|e| format!("{}: {e}", l.health_url))?;
    let base =
        format!("{}://{}", uri.scheme_str().unwrap_or("http"), uri.authority().map(|a| a.as_str()).unwrap_or(""));
    let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".to_owned());

    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("starting {program}: {e}"))?;
    let pid = child.id();
    let mut last_error = String::from("no attempt yet");
    while started.elapsed() < l.timeout {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{program} exited with {status} before answering; see {}", l.log.display()));
        }
        // The endpoint is re-read each time: on a first start the server writes its CA file while starting.
        match Endpoint::parse(&base, l.ca_file.as_deref()) {
            Ok(ep) => match ep.probe_get(&path, Duration::from_secs(2)).await {
                Ok(s) if (200..300).contains(&s) || (l.any_status && s < 500) => {
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    return Ok(serde_json::json!({"pid": pid, "startup_ms": ms, "status": s}));
                }
                Ok(s) => last_error = format!("HTTP {s}"),
                Err(e) => last_error = e,
            },
            Err(e) => last_error = e,
        }
        // 1 ms: fine enough for a 200 ms budget, coarse enough not to steal the CPU the server starts on.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Leave nothing behind on failure: this process started it and is the one that knows its PID.
    let _ = child.kill();
    let _ = child.wait();
    Err(format!("{} did not answer within {:?}: {last_error}", l.health_url, l.timeout))
}
