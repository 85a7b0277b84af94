#!/usr/bin/env python3
"""Plain-SVG line charts for BENCHMARKS.md, from one bench/run result set (no plotting library needed).

charts.py is imported by report.py: write_charts(runs, out_dir) -> list of (title, file name).
"""
import math
from pathlib import Path

COLORS = {"Trent (HTTPS)": "#1f77b4", "ceiling (HTTPS)": "#2ca02c", "moto (HTTP)": "#d62728"}
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 300, 260, 62, 12, 34, 44


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;")


def log_ticks(lo, hi):
    ticks, v = [], 10 ** math.floor(math.log10(lo))
    while v <= hi * 1.0001:
        if v >= lo / 1.0001:
            ticks.append(v)
        v *= 10
    return ticks


def label(v, unit):
    if unit == "µs":
        return f"{v / 1000:g} ms" if v >= 1000 else f"{v:g} µs"
    return f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"


def panel(x0, title, xs, series, unit):
    """One panel: categorical x, log-scale y, one polyline per series {name: [y or None]}."""
    vals = [v for ys in series.values() for v in ys if v]
    if not vals:
        return ""
    lo = 10 ** math.floor(math.log10(min(vals)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def px(i):
        return x0 + PAD_L + (pw * (i + 0.5) / len(xs))

    def py(v):
        return PAD_T + ph - ph * (math.log10(v) - math.log10(lo)) / max(math.log10(hi) - math.log10(lo), 1e-9)

    out = [f'<text x="{x0 + W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">{esc(title)}</text>',
           f'<rect x="{x0 + PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for t in log_ticks(lo, hi):
        y = py(t)
        out.append(f'<line x1="{x0 + PAD_L}" x2="{x0 + PAD_L + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 + PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{label(t, unit)}</text>')
    for i, x in enumerate(xs):
        out.append(f'<text x="{px(i):.1f}" y="{PAD_T + ph + 14}" text-anchor="middle" font-size="10">{esc(x)}</text>')
    for name, ys in series.items():
        pts = [(px(i), py(v)) for i, v in enumerate(ys) if v]
        c = COLORS.get(name, "#555")
        if len(pts) > 1:
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{c}"/>' for a, b in pts]
    return "\n".join(out)


def svg(panels, xlabel, ylabel):
    width = W * len(panels)
    legend = "".join(
        f'<rect x="{10 + i * 150}" y="{H + 6}" width="12" height="12" fill="{c}"/>'
        f'<text x="{26 + i * 150}" y="{H + 16}" font-size="11">{esc(n)}</text>'
        for i, (n, c) in enumerate(COLORS.items()))
    body = "\n".join(panel(i * W, *p) for i, p in enumerate(panels))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{H + 26}" font-family="sans-serif">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n{body}\n'
            f'<text x="{width / 2}" y="{H - 8}" text-anchor="middle" font-size="11">{esc(xlabel)}</text>\n'
            f'<text x="12" y="{H / 2}" font-size="11" transform="rotate(-90 12 {H / 2})" text-anchor="middle">{esc(ylabel)}</text>\n'
            f'{legend}\n</svg>\n')


def write_charts(cell, concs, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ops = ["Encrypt", "Decrypt", "GenerateDataKey"]

    def rps(r):
        return r["throughput_rps"] if r else None

    tp = []
    for op in ops:
        tp.append((op, [str(c) for c in concs], {
            "Trent (HTTPS)": [rps(cell("trent", "https", op, c)) for c in concs],
            # The ceiling answers the same signed Encrypt-sized requests for every operation.
            "ceiling (HTTPS)": [rps(cell("ceiling", "https", "Encrypt", c)) for c in concs],
            "moto (HTTP)": [rps(cell("moto", "http", op, c)) for c in concs],
        }, "req/s"))
    (out_dir / "throughput.svg").write_text(svg(tp, "concurrency (closed-loop workers)", "requests per second (log)"))

    qs = [("p50", "p50_us"), ("p90", "p90_us"), ("p99", "p99_us"), ("p99.9", "p999_us"), ("max", "max_us")]
    c = 16 if 16 in concs else concs[len(concs) // 2]
    lat = []
    for op in ops:
        def q(r):
            return [r["latency"][k] if r else None for _, k in qs]
        lat.append((f"{op}, concurrency {c}", [n for n, _ in qs], {
            "Trent (HTTPS)": q(cell("trent", "https", op, c)),
            "ceiling (HTTPS)": q(cell("ceiling", "https", "Encrypt", c)),
            "moto (HTTP)": q(cell("moto", "http", op, c)),
        }, "µs"))
    (out_dir / "latency.svg").write_text(svg(lat, "percentile", "latency (log)"))
    return [("Throughput against concurrency", "throughput.svg"), (f"Latency distribution at concurrency {c}", "latency.svg")]
