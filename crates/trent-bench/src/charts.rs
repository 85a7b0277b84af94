//! `trent-bench charts`: the pictures of BENCHMARKS.md, drawn with plotters (SVG) from one run's
//! `results.jsonl`: throughput against concurrency, and the latency distribution at one concurrency, per
//! operation, for Trent, the ceiling and moto side by side.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::Deserialize;

#[derive(clap::Args)]
pub(crate) struct ChartArgs {
    /// The run's results (JSON lines written by bench/run).
    #[arg(long)]
    results: PathBuf,
    /// Directory for the SVG files.
    #[arg(long)]
    out: PathBuf,
}

/// The fields of a `kind: "run"` line that the charts use.
#[derive(Deserialize)]
struct Cell {
    kind: String,
    #[serde(default)]
    failed: bool,
    #[serde(default)]
    group: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    ops: Vec<String>,
    #[serde(default)]
    concurrency: u32,
    #[serde(default)]
    throughput_rps: f64,
    #[serde(default)]
    latency: Option<Latency>,
}

#[derive(Deserialize, Clone, Copy)]
struct Latency {
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
    p999_us: f64,
    max_us: f64,
}

/// A line on a chart: its legend, colour, and where its cells come from. `op: None` means "the Encrypt cell
/// whatever the panel's operation" (the ceiling answers the same requests for every operation).
struct Series {
    name: &'static str,
    color: RGBColor,
    group: &'static str,
    target: &'static str,
    op: Option<&'static str>,
}

const SERIES: [Series; 4] = [
    Series {
        name: "Trent, audit on (HTTPS)",
        color: RGBColor(0x1f, 0x77, 0xb4),
        group: "trent",
        target: "https",
        op: None,
    },
    Series {
        name: "Trent, audit off (HTTPS)",
        color: RGBColor(0x9e, 0xc5, 0xe8),
        group: "trent-noaudit",
        target: "https",
        op: Some("Encrypt"),
    },
    Series {
        name: "ceiling (HTTPS)",
        color: RGBColor(0x2c, 0xa0, 0x2c),
        group: "ceiling",
        target: "https",
        op: Some("Encrypt"),
    },
    Series { name: "moto (HTTP)", color: RGBColor(0xd6, 0x27, 0x28), group: "moto", target: "http", op: None },
];

const OPS: [&str; 3] = ["Encrypt", "Decrypt", "GenerateDataKey"];
const PERCENTILES: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];

type Error = Box<dyn std::error::Error>;

/// Writes `throughput.svg` and `latency.svg`; prints one JSON line per chart: `{"title", "file"}`.
pub(crate) fn run(args: &ChartArgs) -> Result<(), Error> {
    let text = std::fs::read_to_string(&args.results).map_err(|e| format!("{}: {e}", args.results.display()))?;
    let cells: Vec<Cell> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<Cell>(l).ok())
        .filter(|c| c.kind == "run" && !c.failed)
        .collect();
    std::fs::create_dir_all(&args.out)?;
    let mut concs: Vec<u32> = cells.iter().filter(|c| c.group == "trent").map(|c| c.concurrency).collect();
    concs.sort_unstable();
    concs.dedup();
    if concs.is_empty() {
        return Err("no Trent cells in the results".into());
    }
    let find = |s: &Series, op: &str, c: u32| {
        let op = s.op.unwrap_or(op);
        cells.iter().find(|x| x.group == s.group && x.target == s.target && x.ops == [op] && x.concurrency == c)
    };

    let throughput = args.out.join("throughput.svg");
    let panels: Vec<Panel> = OPS
        .iter()
        .map(|op| Panel {
            title: (*op).to_owned(),
            x_labels: concs.iter().map(u32::to_string).collect(),
            lines: SERIES
                .iter()
                // The audit-off cells exist for Encrypt only.
                .filter(|s| s.group != "trent-noaudit" || *op == "Encrypt")
                .map(|s| (s, concs.iter().map(|&c| find(s, op, c).map(|x| x.throughput_rps)).collect()))
                .collect(),
        })
        .collect();
    draw(&throughput, &panels, "concurrency (closed-loop workers)", Unit::PerSecond)?;

    let c = if concs.contains(&16) { 16 } else { concs[concs.len() / 2] };
    let latency = args.out.join("latency.svg");
    let panels: Vec<Panel> = OPS
        .iter()
        .map(|op| Panel {
            title: format!("{op}, concurrency {c}"),
            x_labels: PERCENTILES.iter().map(|p| (*p).to_owned()).collect(),
            lines: SERIES
                .iter()
                .filter(|s| s.group != "trent-noaudit" || *op == "Encrypt")
                .map(|s| {
                    let l = find(s, op, c).and_then(|x| x.latency);
                    let v = [
                        l.map(|l| l.p50_us),
                        l.map(|l| l.p90_us),
                        l.map(|l| l.p99_us),
                        l.map(|l| l.p999_us),
                        l.map(|l| l.max_us),
                    ];
                    (s, v.to_vec())
                })
                .collect(),
        })
        .collect();
    draw(&latency, &panels, "percentile", Unit::Micros)?;

    println!("{}", serde_json::json!({"title": "Throughput against concurrency", "file": "throughput.svg"}));
    println!(
        "{}",
        serde_json::json!({"title": format!("Latency distribution at concurrency {c}"), "file": "latency.svg"})
    );
    Ok(())
}

struct Panel<'a> {
    title: String,
    x_labels: Vec<String>,
    lines: Vec<(&'a Series, Vec<Option<f64>>)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    PerSecond,
    Micros,
}

impl Unit {
    fn label(self, v: f64) -> String {
        match self {
            Self::PerSecond if v >= 1000.0 => format!("{}k", v / 1000.0),
            Self::Micros if v >= 1000.0 => format!("{} ms", v / 1000.0),
            Self::Micros => format!("{v} µs"),
            Self::PerSecond => format!("{v}"),
        }
    }
}

/// Panels side by side, categorical x, log y, one legend per panel (in a decade of its own, so that it never
/// hides a line: below the lowest throughput, above the highest latency).
fn draw(path: &Path, panels: &[Panel<'_>], x_desc: &str, unit: Unit) -> Result<(), Error> {
    let y_desc = match unit {
        Unit::PerSecond => "requests per second (log)",
        Unit::Micros => "latency (log)",
    };
    let width = 380 * panels.len() as u32;
    let root = SVGBackend::new(path, (width, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
        let values: Vec<f64> =
            panel.lines.iter().flat_map(|(_, v)| v.iter().flatten().copied()).filter(|v| *v > 0.0).collect();
        let (Some(lo), Some(hi)) = (values.iter().copied().reduce(f64::min), values.iter().copied().reduce(f64::max))
        else {
            continue;
        };
        let (mut lo, mut hi) = (10f64.powf(lo.log10().floor()), 10f64.powf(hi.log10().ceil()));
        match unit {
            Unit::PerSecond => lo /= 10.0,
            Unit::Micros => hi *= 10.0,
        }
        let n = panel.x_labels.len();
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (lo..hi).log_scale())?;
        let labels = panel.x_labels.clone();
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 0.01 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| unit.label(*v))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(WHITE)
            .draw()?;
        for (series, ys) in &panel.lines {
            let points: Vec<(f64, f64)> =
                ys.iter().enumerate().filter_map(|(i, y)| y.filter(|v| *v > 0.0).map(|v| (i as f64, v))).collect();
            if points.is_empty() {
                continue;
            }
            let color = series.color;
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(series.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(if unit == Unit::PerSecond {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperLeft
            })
            .label_font(("sans-serif", 11))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
    }
    root.present()?;
    Ok(())
}
