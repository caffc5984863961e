//! The result of a run: latency percentiles from the histogram, rates, and the text / JSON renderings.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::cli::{BenchArgs, Op, Target};

/// Latencies are recorded in microseconds, from 1 µs to one hour, with three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

/// Latency percentiles of the successful operations, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    /// All zeros for an empty histogram (no successful operation).
    pub fn from_histogram(h: &Histogram<u64>) -> LatencySummary {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return LatencySummary {
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                max_ms: 0.0,
                mean_ms: 0.0,
            };
        }
        LatencySummary {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

/// Everything one run measured; serialised as is by `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub label: String,
    pub target: Target,
    pub url: String,
    pub op: Op,
    pub bucket: String,
    pub size_bytes: u64,
    pub concurrency: u32,
    /// `--rate` (operations per second), `null` when operations ran back to back.
    pub rate: Option<f64>,
    pub rf: u32,
    pub force_get: bool,
    pub preloaded_keys: u64,
    pub ops: u64,
    pub errors: u64,
    /// Bytes moved by successful operations (object bytes; response bytes for metadata GETs).
    pub bytes: u64,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    /// Decimal megabytes (10^6 bytes) per second.
    pub mb_per_s: f64,
    pub latency: LatencySummary,
    pub first_error: Option<String>,
}

/// The raw counts of a timed phase, before rates are derived.
#[derive(Debug, Clone)]
pub struct Measured {
    pub ops: u64,
    pub errors: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub latency: LatencySummary,
    pub first_error: Option<String>,
}

/// Rates over the wall-clock time of the timed phase; zero when nothing elapsed.
pub fn rates(ops: u64, bytes: u64, elapsed: Duration) -> (f64, f64) {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return (0.0, 0.0);
    }
    (ops as f64 / secs, bytes as f64 / secs / 1e6)
}

/// Human-readable size for the report header: exact bytes plus a binary-unit rendering.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        let text = format!("{value:.2}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        format!("{text} {}", UNITS[unit])
    }
}

impl Report {
    pub fn build(args: &BenchArgs, preloaded_keys: u64, m: Measured) -> Report {
        let (ops_per_s, mb_per_s) = rates(m.ops, m.bytes, m.elapsed);
        Report {
            label: args.label.clone(),
            target: args.target,
            url: args.url.clone(),
            op: args.op,
            bucket: args.bucket.clone(),
            size_bytes: args.size,
            concurrency: args.concurrency,
            rate: args.rate,
            rf: args.rf,
            force_get: args.force_get,
            preloaded_keys,
            ops: m.ops,
            errors: m.errors,
            bytes: m.bytes,
            elapsed_s: m.elapsed.as_secs_f64(),
            ops_per_s,
            mb_per_s,
            latency: m.latency,
            first_error: m.first_error,
        }
    }

    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let label = if self.label.is_empty() {
            String::new()
        } else {
            format!(" [{}]", self.label)
        };
        let _ = writeln!(
            out,
            "mictlanx-bench{label}: {} {} {}/{}",
            self.target.as_str(),
            self.op.as_str(),
            self.url,
            self.bucket
        );
        let _ = writeln!(
            out,
            "  size {} ({} bytes), concurrency {}, rf {}, force-get {}, preloaded keys {}",
            human_size(self.size_bytes),
            self.size_bytes,
            self.concurrency,
            self.rf,
            self.force_get,
            self.preloaded_keys
        );
        if let Some(rate) = self.rate {
            let _ = writeln!(
                out,
                "  fixed rate {rate} ops/s (at most {} in flight)",
                self.concurrency
            );
        }
        let _ = writeln!(
            out,
            "  ops        {} ok, {} errors in {:.2} s",
            self.ops, self.errors, self.elapsed_s
        );
        let _ = writeln!(
            out,
            "  throughput {:.1} ops/s, {:.2} MB/s",
            self.ops_per_s, self.mb_per_s
        );
        let l = &self.latency;
        let _ = writeln!(
            out,
            "  latency    p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms, mean {:.3} ms",
            l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms, l.mean_ms
        );
        if let Some(e) = &self.first_error {
            let _ = writeln!(out, "  first error: {e}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn measured(ops: u64, errors: u64, bytes: u64, elapsed: Duration) -> Measured {
        let mut h = new_histogram();
        for us in 1..=1000u64 {
            h.record(us * 1000).unwrap(); // 1 ms .. 1000 ms
        }
        Measured {
            ops,
            errors,
            bytes,
            elapsed,
            latency: LatencySummary::from_histogram(&h),
            first_error: (errors > 0).then(|| "get: HTTP 502: {}".to_string()),
        }
    }

    fn args(extra: &[&str]) -> BenchArgs {
        let mut argv = vec!["mictlanx-bench", "--url", "http://127.0.0.1:1"];
        argv.extend_from_slice(extra);
        BenchArgs::try_parse_from(argv).unwrap()
    }

    #[test]
    fn percentiles_come_from_the_histogram_in_milliseconds() {
        let l = measured(1, 0, 0, Duration::from_secs(1)).latency;
        // Three significant digits: values are exact to within 0.1 %.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 1e-9;
        assert!(close(l.p50_ms, 500.0), "p50 {}", l.p50_ms);
        assert!(close(l.p90_ms, 900.0), "p90 {}", l.p90_ms);
        assert!(close(l.p99_ms, 990.0), "p99 {}", l.p99_ms);
        assert!(close(l.max_ms, 1000.0), "max {}", l.max_ms);
        assert!(close(l.mean_ms, 500.5), "mean {}", l.mean_ms);
        assert!(l.p50_ms <= l.p90_ms && l.p90_ms <= l.p99_ms && l.p99_ms <= l.max_ms);
    }

    #[test]
    fn an_empty_histogram_reports_zeros() {
        let l = LatencySummary::from_histogram(&new_histogram());
        assert_eq!(
            (l.p50_ms, l.p99_ms, l.max_ms, l.mean_ms),
            (0.0, 0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn rates_are_per_wall_clock_second_in_decimal_megabytes() {
        assert_eq!(rates(500, 25_000_000, Duration::from_secs(5)), (100.0, 5.0));
        assert_eq!(rates(0, 0, Duration::from_millis(250)), (0.0, 0.0));
        assert_eq!(rates(10, 10, Duration::ZERO), (0.0, 0.0));
    }

    #[test]
    fn human_sizes_use_binary_units() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1 KiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10 << 20), "10 MiB");
        assert_eq!(human_size(64 << 20), "64 MiB");
        assert_eq!(human_size(10_000_000), "9.54 MiB");
    }

    #[test]
    fn json_report_carries_the_run_parameters_and_figures() {
        let a = args(&[
            "--op", "put", "--size", "10MiB", "--rf", "3", "--label", "r4",
        ]);
        let r = Report::build(&a, 0, measured(40, 2, 400 << 20, Duration::from_secs(8)));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["target"], "router");
        assert_eq!(v["op"], "put");
        assert_eq!(v["label"], "r4");
        assert_eq!(v["size_bytes"], 10 << 20);
        assert_eq!(v["rf"], 3);
        assert_eq!(v["ops"], 40);
        assert_eq!(v["errors"], 2);
        assert_eq!(v["ops_per_s"], 5.0);
        assert_eq!(v["mb_per_s"], (400u64 << 20) as f64 / 8.0 / 1e6);
        assert!(v["latency"]["p99_ms"].as_f64().unwrap() > 900.0);
        assert_eq!(v["first_error"], "get: HTTP 502: {}");
        let m = args(&["--op", "get-metadata"]);
        let v = serde_json::to_value(Report::build(
            &m,
            5,
            measured(1, 0, 1, Duration::from_secs(1)),
        ))
        .unwrap();
        assert_eq!(v["op"], "get-metadata");
        assert_eq!(v["preloaded_keys"], 5);
        assert!(v["first_error"].is_null());
    }

    #[test]
    fn text_report_shows_every_figure() {
        let a = args(&["--target", "peer", "--size", "1KiB", "--concurrency", "32"]);
        let text = Report::build(
            &a,
            100,
            measured(3000, 1, 3000 * 1024, Duration::from_secs(2)),
        )
        .render_text();
        assert!(text.starts_with("mictlanx-bench: peer get http://127.0.0.1:1/mictlanx-bench\n"));
        assert!(
            text.contains("size 1 KiB (1024 bytes), concurrency 32, rf 1"),
            "{text}"
        );
        assert!(text.contains("3000 ok, 1 errors in 2.00 s"), "{text}");
        assert!(text.contains("1500.0 ops/s, 1.54 MB/s"), "{text}");
        assert!(text.contains("p50 500."), "{text}");
        assert!(text.contains("first error: get: HTTP 502: {}"), "{text}");
        let labelled = Report::build(
            &args(&["--label", "x"]),
            0,
            measured(0, 0, 0, Duration::ZERO),
        );
        assert!(labelled
            .render_text()
            .starts_with("mictlanx-bench [x]: router get"));
        assert!(!labelled.render_text().contains("first error"));
    }
}
