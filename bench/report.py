#!/usr/bin/env python3
"""Writes BENCHMARKS.md (to stdout) from one bench/run result directory: results.jsonl + meta.json.

Every number printed here comes from that directory; ratios are computed between cells of the same run.
Usage: report.py RESULT_DIR RESULT_DIR_AS_SHOWN
"""
import json
import re
import subprocess
import sys
from pathlib import Path

out_dir = Path(sys.argv[1])
shown_dir = sys.argv[2] if len(sys.argv) > 2 else str(out_dir)
# Where the SVG charts go, and how BENCHMARKS.md links to them.
chart_dir = Path(sys.argv[3]) if len(sys.argv) > 3 else out_dir / "charts"
chart_link = sys.argv[4] if len(sys.argv) > 4 else "charts"
meta = json.loads((out_dir / "meta.json").read_text())
rows = [json.loads(l) for l in (out_dir / "results.jsonl").read_text().splitlines() if l.strip()]

runs = [r for r in rows if r.get("kind") == "run"]
ok_runs = [r for r in runs if not r.get("failed")]
failed = [r for r in runs if r.get("failed")]


def cell(group, target, op=None, c=None, keys=None):
    for r in ok_runs:
        if r["group"] != group or r["target"] != target:
            continue
        if op and r["ops"] != [op]:
            continue
        if c is not None and r["concurrency"] != c:
            continue
        if keys is not None and r["keys"] != keys:
            continue
        return r
    return None


def one(kind, name, keys=None):
    for r in rows:
        if r.get("kind") == kind and r.get("name") == name and (keys is None or r.get("keys") == keys):
            return r
    return None


def fmt_rps(x):
    return f"{x:,.0f}"


def us(x):
    return f"{x / 1000:.2f} ms" if x >= 1000 else f"{x} µs"


def errs(r):
    e = r.get("errors") or {}
    return "0" if not e else ", ".join(f"{k} {v}" for k, v in e.items())


def cores(x):
    return "–" if x is None else f"{x:.2f}"


def srv_us(r):
    if not r or r.get("server_cpu_s") is None or not r.get("ok"):
        return "–"
    return f"{r['server_cpu_s'] * 1e6 / r['ok']:.0f}"


def pct(a, b):
    return "–" if not a or not b else f"{100.0 * a / b:.0f}%"


def times(a, b):
    return "–" if not a or not b else f"{a / b:,.0f}×"


OPS = ["Encrypt", "Decrypt", "GenerateDataKey"]
# Trent alone is also measured on asymmetric signing (ECDSA P-256) and HMAC keys.
TRENT_OPS = OPS + ["Sign", "GenerateMac"]
CONCS = sorted({r["concurrency"] for r in ok_runs if r["group"] == "trent"}) or [1, 16, 64]
p = print
commands = []


def cmds(title, rs):
    p("")
    p(f"<details><summary>Commands ({title})</summary>")
    p("")
    p("```sh")
    for r in rs:
        if r:
            p(r["cmd"])
    p("```")
    p("</details>")


p("# Benchmarks")
p("")
if meta["quick"]:
    p("> **Smoke run (`bench/run --quick`)**: short cells and a small 'big' store. Not for publication; "
      "the goals below are evaluated but cannot be claimed from this run.")
    p("")
p("Measured by `bench/run` (the one command; `bench/run --quick` for a 2-minute smoke run). The tool is "
  "`trent-bench` (`crates/trent-bench`): a closed-loop load generator on tokio + hyper with one keep-alive "
  "connection per worker, rustls on aws-lc-rs, and a fresh SigV4 signature on every request (new "
  "`X-Amz-Date`, SHA-256 of the body and of the canonical request, one HMAC with the signing key cached per "
  "day). Latencies come from an HDR histogram; a 1 s warm-up is excluded. "
  f"Raw results: `{shown_dir}/` (git-ignored).")
p("")
p("## Machine and run")
p("")
p(f"- Date: {meta['date']}; commit {meta['commit']}")
p(f"- CPU: {meta['cpu']}; `nproc` = {meta['nproc']}; memory {meta['mem']}; {meta['kernel']}; {meta['rustc']}")
p(f"- Load average (1, 5, 15 min) at the start of the run: {meta.get('loadavg_start', '?')}; at the end: {meta['loadavg_end']}")
p(f"- **Client and server share the same {meta['nproc']} cores and nothing is pinned**; whatever else runs on "
  "the machine adds to the load averages above: absolute figures drift between runs. The ratios are computed "
  "between cells of this one run, and the cells are interleaved (for each concurrency: ceiling, Trent, moto) so "
  "that drift hits all of them alike. `client CPU` shows how much of the machine the load generator itself "
  "took; `server µs/req` (server CPU time per successful request) depends far less on the machine's other "
  "load than req/s does.")
p(f"- Cells: {meta['dur']} s measured for the ceiling and Trent, {meta['moto_dur']} s for moto "
  f"(moto_server {meta['moto']}, from PyPI into `bench/.venv`). Plaintext 1 KiB, encryption context "
  "`{\"purpose\":\"bench\"}`, one key unless stated.")
AUDIT_ON = meta.get("audit") == "on"
if AUDIT_ON:
    p("- **Audit trail on** (the server's default) for every Trent figure unless a row says otherwise; a copy of "
      "the same store served by `trent serve --dangerous-no-audit` (benchmarks only) measures what the trail costs.")
else:
    p("- **audit: not yet implemented** in this build, so every Trent figure here is without an audit trail.")
AUDIT_NOTE = "with audit on" if AUDIT_ON else "without audit (audit: not yet implemented)"
if failed:
    p(f"- **{len(failed)} cell(s) failed** and are missing below: " + "; ".join(f"`{r['cmd']}`" for r in failed))
p("")

# --- charts -------------------------------------------------------------------------------------------------
p("## Charts")
p("")
# Drawn by `trent-bench charts` (plotters, SVG) with the run's own copy of the tool.
drawn = subprocess.run([str(out_dir / "bin" / "trent-bench"), "charts", "--results", str(out_dir / "results.jsonl"),
                        "--out", str(chart_dir)], capture_output=True, text=True)
if drawn.returncode != 0:
    p(f"(charts could not be drawn: {drawn.stderr.strip()})")
for chart in (json.loads(l) for l in drawn.stdout.splitlines() if l.strip()):
    p(f"![{chart['title']}]({chart_link}/{chart['file']})")
    p("")
p("Drawn with the plotters crate by `trent-bench charts --results <run>/results.jsonl --out <dir>` from this "
  "run's results (log scales).")
p("")

# --- ceiling -----------------------------------------------------------------------------------------------
p("## Ceiling: the cheapest responder on the same stack")
p("")
p("`trent-bench ceiling` answers every request with a fixed small JSON body after reading it, on the same "
  "tokio/hyper/rustls stack and with Trent's own certificate. It is driven with the same signed Encrypt "
  "requests. It is what this machine can do at all.")
p("")
p("| transport | concurrency | req/s | p50 | p99 | p99.9 | max | client CPU (cores) | server CPU (cores) | server µs/req |")
p("|---|---|---|---|---|---|---|---|---|---|")
ceil_rows = []
for t in ["https", "http"]:
    for c in CONCS:
        r = cell("ceiling", t, "Encrypt", c)
        ceil_rows.append(r)
        if r:
            l = r["latency"]
            p(f"| {t.upper()} | {c} | {fmt_rps(r['throughput_rps'])} | {us(l['p50_us'])} | {us(l['p99_us'])} | "
              f"{us(l['p999_us'])} | {us(l['max_us'])} | {cores(r['client_cpu_cores'])} | {cores(r.get('server_cpu_cores'))} | {srv_us(r)} |")
cmds("ceiling", ceil_rows)
p("")

# --- trent --------------------------------------------------------------------------------------------------
p("## Trent over HTTPS with SigV4")
p("")
p("| operation | concurrency | req/s | % of HTTPS ceiling | p50 | p90 | p99 | p99.9 | max | errors | client CPU | server CPU | server µs/req (ceiling's) |")
p("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
trent_rows = []
for op in TRENT_OPS:
    for c in CONCS:
        r = cell("trent", "https", op, c)
        trent_rows.append(r)
        if not r:
            continue
        ceil = cell("ceiling", "https", "Encrypt", c)
        l = r["latency"]
        p(f"| {op} | {c} | {fmt_rps(r['throughput_rps'])} | {pct(r['throughput_rps'], ceil and ceil['throughput_rps'])} | "
          f"{us(l['p50_us'])} | {us(l['p90_us'])} | {us(l['p99_us'])} | {us(l['p999_us'])} | {us(l['max_us'])} | "
          f"{errs(r)} | {cores(r['client_cpu_cores'])} | {cores(r.get('server_cpu_cores'))} | "
          f"{srv_us(r)} ({srv_us(ceil)}) |")
cmds("Trent over HTTPS", trent_rows)
p("")
p("Trent Encrypt over plain HTTP (`--insecure-http`), against the plain-HTTP ceiling:")
p("")
p("| concurrency | req/s | % of HTTP ceiling | p50 | p99 | p99.9 | errors |")
p("|---|---|---|---|---|---|---|")
http_rows = []
for c in CONCS:
    r = cell("trent", "http", "Encrypt", c)
    http_rows.append(r)
    if r:
        ceil = cell("ceiling", "http", "Encrypt", c)
        l = r["latency"]
        p(f"| {c} | {fmt_rps(r['throughput_rps'])} | {pct(r['throughput_rps'], ceil and ceil['throughput_rps'])} | "
          f"{us(l['p50_us'])} | {us(l['p99_us'])} | {us(l['p999_us'])} | {errs(r)} |")
cmds("Trent over HTTP", http_rows)
p("")

if AUDIT_ON:
    p("### What the audit trail costs")
    p("")
    p("Encrypt over HTTPS, the same load on two servers of the same store, one with the trail and one without:")
    p("")
    p("| concurrency | req/s audit on | req/s audit off | p50 on / off | p99 on / off | server µs/req on / off |")
    p("|---|---|---|---|---|---|")
    na_rows = []
    for c in CONCS:
        on, off = cell("trent", "https", "Encrypt", c), cell("trent-noaudit", "https", "Encrypt", c)
        na_rows.append(off)
        if on and off:
            p(f"| {c} | {fmt_rps(on['throughput_rps'])} | {fmt_rps(off['throughput_rps'])} | "
              f"{us(on['latency']['p50_us'])} / {us(off['latency']['p50_us'])} | "
              f"{us(on['latency']['p99_us'])} / {us(off['latency']['p99_us'])} | {srv_us(on)} / {srv_us(off)} |")
    cmds("audit off", na_rows)
    p("")

# --- moto ---------------------------------------------------------------------------------------------------
p("## moto_server under the same load")
p("")
p("moto serves plain HTTP only and does not verify SigV4; the requests are signed all the same. The ratio "
  "compares Trent **over HTTPS** with moto over HTTP, which favours moto. At concurrency 1 both are bound by "
  "round-trip latency on a shared machine, so that ratio is the ratio of latencies.")
p("")
p("| operation | concurrency | moto req/s | moto p50 | moto p99 | errors | Trent HTTPS req/s | Trent ÷ moto |")
p("|---|---|---|---|---|---|---|---|")
moto_rows = []
moto_ratios = []
for op in OPS:
    for c in CONCS:
        r = cell("moto", "http", op, c)
        moto_rows.append(r)
        if not r:
            continue
        t = cell("trent", "https", op, c)
        if t and r["throughput_rps"]:
            moto_ratios.append((t["throughput_rps"] / r["throughput_rps"], op, c))
        l = r["latency"]
        p(f"| {op} | {c} | {r['throughput_rps']:,.1f} | {us(l['p50_us'])} | {us(l['p99_us'])} | {errs(r)} | "
          f"{fmt_rps(t['throughput_rps']) if t else '–'} | {times(t and t['throughput_rps'], r['throughput_rps'])} |")
cmds("moto", moto_rows)
p("")

# --- scale --------------------------------------------------------------------------------------------------
big, small = meta["big"], meta["small"]
p("## Scale: Encrypt latency against the number of stored keys")
p("")
p(f"Both stores were filled with `trent-bench seed` (bulk inserts through the service layer, server stopped). "
  f"Each cell spreads Encrypt over {small:,} distinct keys taken from ListKeys; the cold row uses 20,000 "
  "distinct keys once each, so nearly every request loads and unwraps its key from the database.")
p("")
p("| keys stored | concurrency | distinct keys used | req/s | mean | p50 | p99 | p99.9 | errors |")
p("|---|---|---|---|---|---|---|---|---|")
scale_rows = []
for name, n in [("small", small), ("big", big), ("big-cold", big)]:
    for c in [1, 16]:
        r = cell("scale", name, "Encrypt", c)
        if not r:
            continue
        scale_rows.append(r)
        l = r["latency"]
        p(f"| {n:,}{' (cold cache)' if name == 'big-cold' else ''} | {c} | {r['keys']:,} | {fmt_rps(r['throughput_rps'])} | "
          f"{l['mean_us']:.0f} µs | {us(l['p50_us'])} | {us(l['p99_us'])} | {us(l['p999_us'])} | {errs(r)} |")
cmds("scale", scale_rows)
p("")

# --- start-up and memory ------------------------------------------------------------------------------------
p("## Start-up, memory, database size")
p("")
p("Start-up is from `exec` to the first successful `GET /healthz` over HTTPS (`trent-bench launch` polls every "
  "millisecond). Memory is the server's resident set (`VmRSS` 1 s after start-up; `VmHWM`, the peak, after the "
  "load). Database size is `trent.db` plus its WAL after seeding.")
p("")
p("| what | value |")
p("|---|---|")
s_first = one("startup", "trent-first-start")
s_small = one("startup", "trent-small")
s_big = one("startup", "trent-big")
for label, s in [("start-up, first start (creates data dir, CA, certificate)", s_first),
                 (f"start-up with {small:,} keys", s_small), (f"start-up with {big:,} keys", s_big)]:
    if s:
        p(f"| {label} | {s['startup_ms']:.0f} ms |")
for n in [small, big]:
    r = one("rss", "idle", n)
    if r:
        p(f"| idle RSS, {n:,} keys stored | {r['kb'] / 1024:.1f} MiB |")
    r = one("rss", "peak-under-load", n)
    if r:
        p(f"| peak RSS under load, {n:,} keys stored | {r['kb'] / 1024:.1f} MiB |")
for name, n in [("small", small), ("big", big)]:
    d = one("db", name)
    if d:
        p(f"| database, {n:,} keys | {d['bytes'] / 1048576:.1f} MiB = {d['bytes'] / n:,.0f} bytes per key |")
    sd = one("seed", name)
    if sd:
        p(f"| seeding {n:,} keys | {sd['seconds']:.1f} s ({sd['keys_per_second']:,.0f} keys/s) |")
p("")
p("Commands: `trent-bench launch --log L --health-url https://127.0.0.1:P/healthz --ca-file D/tls/ca.pem -- "
  "trent serve --data-dir D --listen 127.0.0.1:P`; `trent-bench seed --data-dir D --keys N`; "
  "`trent-bench db-size --data-dir D`; RSS from `/proc/PID/status`.")
p("")

# --- goals --------------------------------------------------------------------------------------------------
p("## Goals of issue 9")
p("")


def verdict(ok):
    return "**met**" if ok else "**not met**"


def noaudit_share():
    off, c64 = cell("trent-noaudit", "https", "Encrypt", 64), cell("ceiling", "https", "Encrypt", 64)
    if not (off and c64):
        return ""
    return f" Without the trail: {100 * off['throughput_rps'] / c64['throughput_rps']:.0f}%."


goals = []
e64 = cell("trent", "https", "Encrypt", 64)
c64 = cell("ceiling", "https", "Encrypt", 64)
if e64 and c64:
    share = e64["throughput_rps"] / c64["throughput_rps"]
    goals.append(f"Encrypt over HTTPS at concurrency 64 ≥ 50% of the HTTPS ceiling: {share * 100:.0f}% "
                 f"({fmt_rps(e64['throughput_rps'])} of {fmt_rps(c64['throughput_rps'])} req/s): "
                 f"{verdict(share >= 0.5)}, {AUDIT_NOTE}." + noaudit_share())
e16 = cell("trent", "https", "Encrypt", 16)
if e16:
    p99 = e16["latency"]["p99_us"]
    goals.append(f"Encrypt p99 under 2 ms at concurrency 16: {us(p99)}: {verdict(p99 < 2000)}, {AUDIT_NOTE}.")
if moto_ratios:
    lo = min(moto_ratios)
    line = (f"At least 100× moto's throughput under the same load: lowest ratio {lo[0]:,.0f}× "
            f"({lo[1]}, concurrency {lo[2]}), highest {max(moto_ratios)[0]:,.0f}×: {verdict(lo[0] >= 100)}.")
    # Where the ratio is lowest the load is one request at a time: bound by round trips, not by the server.
    ceil_lo, moto_lo = cell("ceiling", "https", "Encrypt", lo[2]), cell("moto", "http", lo[1], lo[2])
    if ceil_lo and moto_lo:
        line += (f" At concurrency {lo[2]} even the ceiling (a server that does nothing) is only "
                 f"{ceil_lo['throughput_rps'] / moto_lo['throughput_rps']:,.0f}× moto: a closed loop of {lo[2]} "
                 f"client(s) measures round-trip latency there, which no server on this stack can cut 100-fold.")
    goals.append(line)
sm1, bg1 = cell("scale", "small", "Encrypt", 1), cell("scale", "big", "Encrypt", 1)
sm16, bg16 = cell("scale", "small", "Encrypt", 16), cell("scale", "big", "Encrypt", 16)
if sm1 and bg1 and sm16 and bg16:
    parts, ok = [], True
    for c, a, b in [(1, sm1, bg1), (16, sm16, bg16)]:
        for q in ["p50_us", "mean_us"]:
            ratio = b["latency"][q] / a["latency"][q] if a["latency"][q] else float("nan")
            ok = ok and ratio <= 1.10
            parts.append(f"c={c} {q.split('_')[0]} {ratio * 100 - 100:+.0f}%")
    goals.append(f"Latency with {big:,} keys within 10% of {small:,} keys (warm cache): {', '.join(parts)}: "
                 f"{verdict(ok)}. The cold-cache row shows the cost of a key's first use.")
idle = [one("rss", "idle", n) for n in [small, big]]
if all(idle):
    worst = max(r["kb"] for r in idle) / 1024
    goals.append(f"Idle memory under 50 MB: at most {worst:.1f} MiB: {verdict(worst * 1.048576 < 50)}.")
if s_big:
    goals.append(f"Start-up under 200 ms with {big:,} keys stored: {s_big['startup_ms']:.0f} ms: "
                 f"{verdict(s_big['startup_ms'] < 200)}"
                 + ("" if big >= 1_000_000 else " (smoke run: not a million keys, cannot be claimed)") + ".")
for g in goals:
    p(f"- {g}")
p("")
p("")

# --- profile ---
CATEGORIES = [
    (lambda d, s: d.startswith("[kernel"), "kernel: TCP/loopback, syscalls, scheduling"),
    (lambda d, s: re.search(r"malloc|_int_free|^free|cfree|unlink_chunk|consolidate|realloc|tcache|^_?mi_", s), "allocator (mimalloc)"),
    (lambda d, s: re.search(r"mem(move|cpy|cmp|set)", s), "memcpy/memmove/memcmp/memset"),
    (lambda d, s: "aws_lc" in s, "aws-lc: TLS records, SigV4 SHA-256/HMAC, HKDF + AES-GCM of the request"),
    (lambda d, s: "rustls" in s, "rustls (TLS state machine)"),
    (lambda d, s: "serde_json" in s or "serde::" in s, "JSON (serde_json)"),
    (lambda d, s: "base64" in s, "base64"),
    (lambda d, s: re.search(r"hyper|\bhttp::|httparse|axum|tower", s), "HTTP (hyper, axum)"),
    (lambda d, s: re.search(r"tokio|mio::", s), "tokio runtime"),
    (lambda d, s: "trent" in s, "Trent's own code (SigV4 verify, dispatch, KMS service)"),
    (lambda d, s: "sqlite" in s, "SQLite"),
    (lambda d, s: d.startswith("libc"), "other libc"),
]


def category(dso, sym):
    for test, name in CATEGORIES:
        if test(dso, sym):
            return name
    return "other"


prof = out_dir / "profile.txt"
if prof.exists() and prof.read_text().strip():
    p("## Profile of the hot path")
    p("")
    p("Trent's own CPU samples (`perf record -F 999 -g -p PID`) while `trent-bench` drove Encrypt over HTTPS at "
      "concurrency 64 with one key; self time per function, call graphs folded "
      "(`perf report --no-children --sort dso,symbol -g none`). Raw: `" + shown_dir + "/perf.data`.")
    p("")
    lines = [l for l in prof.read_text().splitlines() if "%" in l]
    groups, parsed = {}, []
    for l in lines:
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$", l)
        if not m:
            continue
        pc, dso, _, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        parsed.append((pc, dso, sym))
        groups[category(dso, sym)] = groups.get(category(dso, sym), 0.0) + pc
    threads = out_dir / "profile-threads.txt"
    if threads.exists() and threads.read_text().strip():
        p("By thread: " + "; ".join(" ".join(l.split()) for l in threads.read_text().splitlines() if "%" in l) + ".")
        p("")
    p("| where the server's CPU went | share of samples |")
    p("|---|---|")
    for g, pc in sorted(groups.items(), key=lambda kv: -kv[1]):
        p(f"| {g} | {pc:.1f}% |")
    p("")
    ranked = sorted(groups.items(), key=lambda kv: -kv[1])
    summary = []
    a_on, a_off = cell("trent", "https", "Encrypt", 1), cell("trent-noaudit", "https", "Encrypt", 1)
    if a_on and a_off:
        summary.append(
            f"the largest single cost measured is the audit trail at low concurrency: at concurrency 1 it adds "
            f"{a_on['latency']['p50_us'] - a_off['latency']['p50_us']} µs to the median Encrypt and costs "
            f"{srv_us(a_on)} instead of {srv_us(a_off)} µs of server CPU per request (see the audit table)")
    if ranked:
        own = groups.get("Trent's own code (SigV4 verify, dispatch, KMS service)", 0.0)
        summary.append(
            f"within the server at concurrency 64, {ranked[0][0]} takes {ranked[0][1]:.0f}% of the samples"
            + (f" and {ranked[1][0]} {ranked[1][1]:.0f}%" if len(ranked) > 1 else "")
            + f", while Trent's own code is {own:.0f}%")
    if summary:
        p("Reading: " + "; ".join(summary) + ".")
        p("")
    p("Top functions:")
    p("")
    p("```text")
    for pc, dso, sym in parsed[:25]:
        p(f"{pc:6.2f}%  {dso:<20} {sym[:110]}")
    p("```")
    p("")
p("### What earlier profiles led to")
p("")
p("Changes made because a profile like the one above showed the cost (issue 9, item 5); each was checked with A/B "
  "runs of `trent-bench run` against two servers of the same store, comparing server CPU µs per request, on a "
  "machine that was busy at the time, so the sizes are approximate:")
p("")
for item in [
    "Global allocator: glibc's malloc/free/consolidate took ~15% of the server's samples; with mimalloc "
    "the Encrypt path costs ~10-15 µs less server CPU per request with the audit trail on, ~3-4 µs without.",
    "Audit segments are zero-filled ahead of the records, so a group commit's `fdatasync` overwrites allocated "
    "blocks and skips the filesystem journal (append + fdatasync 130-800 µs, overwrite + fdatasync 100-125 µs "
    "on this ext4, depending on other disk traffic).",
    "Request and event ids come from aws-lc's user-space DRBG: `uuid::new_v4` made a `getrandom` syscall for "
    "each (2% of samples).",
    "Key policy evaluation builds the condition-key map (a dozen strings and the caller's tags, ~6% of samples) "
    "only when an applicable policy has a condition or a policy variable.",
    "Base64 blobs in responses are encoded once and written as one string (`collect_str` through "
    "`fmt::write` and serde_json's escaper took 3%).",
    "Earlier: the SigV4 signing key is cached per access key, day, region and service; keys and policies are "
    "served from an in-memory cache (no database read per request).",
]:
    p(f"- {item}")
p("")
p("Later issues add rows (PostgreSQL backend, HSM-backed keys).")
if (out_dir / "esdk.jsonl").exists():
    from esdk_report import esdk_section  # noqa: E402  (next to this script)
    for line in esdk_section(out_dir / "esdk.jsonl"):
        p(line)
