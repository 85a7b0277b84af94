//! The closed-loop load generator: `concurrency` workers, each with its own connection and signer, each
//! sending its next request as soon as the previous reply is read. Latencies go into per-worker HDR
//! histograms (merged at the end), errors are counted by AWS error type.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::kms::{Bodies, Op, Session};
use crate::proc_stat;

/// When the run ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stop {
    After(Duration),
    Requests(u64),
}

pub(crate) struct Plan {
    pub(crate) concurrency: usize,
    pub(crate) stop: Stop,
    /// Requests started before this much time has passed are not recorded (connection set-up, cache fill).
    pub(crate) warmup: Duration,
    pub(crate) server_pid: Option<u32>,
}

/// One worker's tallies.
struct Tally {
    per_op: Vec<Histogram<u64>>,
    ok: Vec<u64>,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
}

/// Histogram range: 1 µs to 60 s at 3 significant digits (0.1% resolution).
fn histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| format!("histogram: {e}"))
}

#[derive(Debug, Serialize)]
pub(crate) struct Latency {
    pub(crate) count: u64,
    pub(crate) mean_us: f64,
    pub(crate) p50_us: u64,
    pub(crate) p90_us: u64,
    pub(crate) p99_us: u64,
    pub(crate) p999_us: u64,
    pub(crate) max_us: u64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct OpReport {
    pub(crate) op: &'static str,
    pub(crate) ok: u64,
    pub(crate) throughput_rps: f64,
    pub(crate) latency: Latency,
}

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) endpoint: String,
    pub(crate) ops: Vec<&'static str>,
    pub(crate) concurrency: usize,
    pub(crate) keys: usize,
    pub(crate) plaintext_bytes: usize,
    /// Seconds over which throughput is computed (warm-up excluded).
    pub(crate) measured_s: f64,
    pub(crate) ok: u64,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) first_error: Option<String>,
    pub(crate) throughput_rps: f64,
    pub(crate) latency: Latency,
    pub(crate) per_op: Vec<OpReport>,
    /// User + system CPU seconds this process used while measuring, and as a share of one core.
    pub(crate) client_cpu_s: f64,
    pub(crate) client_cpu_cores: f64,
    /// The same for `--server-pid`, when given.
    pub(crate) server_cpu_s: Option<f64>,
    pub(crate) server_cpu_cores: Option<f64>,
    /// Client CPU per successful request: what the load generator itself costs.
    pub(crate) client_cpu_us_per_req: f64,
}

/// Runs the plan against `sessions` (one per worker, already set up) and reports.
pub(crate) async fn run(
    sessions: Vec<Session>,
    bodies: Arc<Bodies>,
    plan: &Plan,
    labels: (String, usize, usize),
) -> Result<Report, String> {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let deadline = match plan.stop {
        Stop::After(d) => Some(measure_from + d),
        Stop::Requests(_) => None,
    };
    let budget = match plan.stop {
        Stop::Requests(n) => Some(n),
        Stop::After(_) => None,
    };
    let issued = Arc::new(AtomicU64::new(0));

    let mut handles = Vec::with_capacity(sessions.len());
    for (w, session) in sessions.into_iter().enumerate() {
        let bodies = bodies.clone();
        let issued = issued.clone();
        let stride = plan.concurrency;
        handles.push(tokio::spawn(worker(session, bodies, w, stride, measure_from, deadline, budget, issued)));
    }

    // CPU is sampled around the measured window only, so warm-up and set-up do not count.
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu0 = proc_stat::cpu_seconds(None);
    let srv0 = plan.server_pid.and_then(|p| proc_stat::cpu_seconds(Some(p)));
    let t0 = Instant::now();

    let mut tallies = Vec::with_capacity(handles.len());
    for h in handles {
        tallies.push(h.await.map_err(|e| format!("worker failed: {e}"))??);
    }
    let wall = t0.elapsed().as_secs_f64();
    let measured_s = match deadline {
        // Workers finish their in-flight request after the deadline; the window is the deadline's.
        Some(d) => d.saturating_duration_since(measure_from).as_secs_f64(),
        None => wall,
    }
    .max(1e-9);
    let cpu = proc_stat::cpu_seconds(None).zip(cpu0).map(|(b, a)| b - a).unwrap_or(f64::NAN);
    let srv = plan.server_pid.and_then(|p| proc_stat::cpu_seconds(Some(p))).zip(srv0).map(|(b, a)| b - a);

    let ops: Vec<Op> = bodies.per_op.iter().map(|(o, _)| *o).collect();
    let mut all = histogram()?;
    let mut per_op_h: Vec<Histogram<u64>> = ops.iter().map(|_| histogram()).collect::<Result<_, _>>()?;
    let mut per_op_ok = vec![0u64; ops.len()];
    let mut errors = BTreeMap::new();
    let mut first_error = None;
    for t in tallies {
        for (i, h) in t.per_op.iter().enumerate() {
            all.add(h).map_err(|e| format!("merging histograms: {e}"))?;
            if let Some(dst) = per_op_h.get_mut(i) {
                dst.add(h).map_err(|e| format!("merging histograms: {e}"))?;
            }
        }
        for (i, n) in t.ok.iter().enumerate() {
            if let Some(dst) = per_op_ok.get_mut(i) {
                *dst += n;
            }
        }
        for (k, v) in t.errors {
            *errors.entry(k).or_insert(0) += v;
        }
        first_error = first_error.or(t.first_error);
    }
    let ok: u64 = per_op_ok.iter().sum();
    let (endpoint, keys, plaintext_bytes) = labels;
    Ok(Report {
        endpoint,
        ops: ops.iter().map(|o| o.name()).collect(),
        concurrency: plan.concurrency,
        keys,
        plaintext_bytes,
        measured_s,
        ok,
        errors,
        first_error,
        throughput_rps: ok as f64 / measured_s,
        latency: Latency::of(&all),
        per_op: ops
            .iter()
            .zip(per_op_h.iter().zip(&per_op_ok))
            .map(|(o, (h, n))| OpReport {
                op: o.name(),
                ok: *n,
                throughput_rps: *n as f64 / measured_s,
                latency: Latency::of(h),
            })
            .collect(),
        client_cpu_s: cpu,
        client_cpu_cores: cpu / wall.max(1e-9),
        server_cpu_s: srv,
        server_cpu_cores: srv.map(|s| s / wall.max(1e-9)),
        client_cpu_us_per_req: if ok > 0 { cpu * 1e6 / ok as f64 } else { f64::NAN },
    })
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the same eight things
async fn worker(
    mut session: Session,
    bodies: Arc<Bodies>,
    index: usize,
    stride: usize,
    measure_from: Instant,
    deadline: Option<Instant>,
    budget: Option<u64>,
    issued: Arc<AtomicU64>,
) -> Result<Tally, String> {
    let n_ops = bodies.per_op.len();
    let mut tally = Tally {
        per_op: (0..n_ops).map(|_| histogram()).collect::<Result<_, _>>()?,
        ok: vec![0; n_ops],
        errors: BTreeMap::new(),
        first_error: None,
    };
    // Workers start at different keys and step by the worker count, so N keys are all used even at
    // concurrency 1 and no two workers walk the same sequence.
    let mut seq = index;
    loop {
        let started = Instant::now();
        if deadline.is_some_and(|d| started >= d) {
            break;
        }
        if let Some(n) = budget
            && issued.fetch_add(1, Ordering::Relaxed) >= n
        {
            break;
        }
        let op_i = seq % n_ops;
        let Some((op, keyed)) = bodies.per_op.get(op_i) else { break };
        let Some(body) = keyed.get((seq / n_ops) % keyed.len().max(1)) else { break };
        seq += stride;

        let result = session.call(op.target(), body.clone()).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
        let recorded = started >= measure_from;
        match result {
            Ok(reply) if reply.error_type.is_none() => {
                if recorded {
                    if let Some(h) = tally.per_op.get_mut(op_i) {
                        h.saturating_record(micros);
                    }
                    if let Some(n) = tally.ok.get_mut(op_i) {
                        *n += 1;
                    }
                }
            }
            Ok(reply) => {
                let t = reply.error_type.unwrap_or_default();
                if tally.first_error.is_none() {
                    tally.first_error = Some(format!(
                        "{} {t} (HTTP {}): {}",
                        op.name(),
                        reply.status,
                        String::from_utf8_lossy(&reply.body)
                    ));
                }
                if recorded {
                    *tally.errors.entry(t).or_insert(0) += 1;
                }
            }
            Err(e) => {
                if tally.first_error.is_none() {
                    tally.first_error = Some(format!("{}: {}", op.name(), e.0));
                }
                if recorded {
                    *tally.errors.entry("ConnectionError".to_owned()).or_insert(0) += 1;
                }
                // Do not spin on a dead server.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    Ok(tally)
}

/// Human-readable summary.
pub(crate) fn print_text(r: &Report) {
    let l = &r.latency;
    println!(
        "{} {} c={} keys={} pt={}B: {:.0} req/s over {:.1}s ({} ok)",
        r.endpoint,
        r.ops.join("+"),
        r.concurrency,
        r.keys,
        r.plaintext_bytes,
        r.throughput_rps,
        r.measured_s,
        r.ok
    );
    println!(
        "  latency µs: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  mean {:.0}",
        l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us, l.mean_us
    );
    if r.per_op.len() > 1 {
        for o in &r.per_op {
            println!(
                "  {}: {:.0} req/s, p50 {} µs, p99 {} µs",
                o.op, o.throughput_rps, o.latency.p50_us, o.latency.p99_us
            );
        }
    }
    println!(
        "  client CPU {:.2}s = {:.2} cores, {:.1} µs/request{}",
        r.client_cpu_s,
        r.client_cpu_cores,
        r.client_cpu_us_per_req,
        match (r.server_cpu_s, r.server_cpu_cores) {
            (Some(s), Some(c)) => format!("; server CPU {s:.2}s = {c:.2} cores"),
            _ => String::new(),
        }
    );
    if r.errors.is_empty() {
        println!("  errors: none");
    } else {
        println!("  errors: {:?}", r.errors);
        if let Some(e) = &r.first_error {
            println!("  first error: {e}");
        }
    }
}
