//! Operating figures in the Prometheus text format: requests and latencies per route,
//! batches and events ingested, kiosks online and silent.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Debug, Default, Clone)]
struct RouteFigures {
    count: u64,
    seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    routes: Mutex<BTreeMap<(String, String, u16), RouteFigures>>,
    batches: AtomicU64,
    events: AtomicU64,
}

/// How the kiosks stand at a scrape.
#[derive(Debug, Default, Clone, Copy)]
pub struct KioskCounts {
    /// Reported within three heartbeat intervals.
    pub online: u64,
    /// Enrolled but silent longer than that.
    pub silent: u64,
    /// Created but not yet enrolled.
    pub awaiting_enrollment: u64,
    /// Revoked.
    pub revoked: u64,
}

impl Metrics {
    /// Counts one request.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let figures = routes.entry((route.to_owned(), method.to_owned(), status)).or_default();
        figures.count += 1;
        figures.seconds += seconds;
        for (bucket, bound) in figures.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// Counts one stored batch of `events` events.
    pub fn batch(&self, events: u64) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(events, Ordering::Relaxed);
    }

    /// The text exposition.
    pub fn render(&self, kiosks: KioskCounts) -> String {
        let mut out = String::new();
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner()).clone();

        let _ = writeln!(
            out,
            "# HELP mtime_http_requests_total Requests answered, by route and status."
        );
        let _ = writeln!(out, "# TYPE mtime_http_requests_total counter");
        for ((route, method, status), f) in &routes {
            let _ = writeln!(
                out,
                "mtime_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                f.count
            );
        }

        let _ =
            writeln!(out, "# HELP mtime_http_request_duration_seconds Time to answer, by route.");
        let _ = writeln!(out, "# TYPE mtime_http_request_duration_seconds histogram");
        let mut per_route: BTreeMap<(&str, &str), RouteFigures> = BTreeMap::new();
        for ((route, method, _), f) in &routes {
            let total = per_route.entry((route.as_str(), method.as_str())).or_default();
            total.count += f.count;
            total.seconds += f.seconds;
            for (t, b) in total.buckets.iter_mut().zip(f.buckets) {
                *t += b;
            }
        }
        for ((route, method), f) in &per_route {
            let labels = format!("route=\"{route}\",method=\"{method}\"");
            for (bound, count) in BUCKETS.iter().zip(f.buckets) {
                let _ = writeln!(
                    out,
                    "mtime_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "mtime_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                f.count
            );
            let _ =
                writeln!(out, "mtime_http_request_duration_seconds_sum{{{labels}}} {}", f.seconds);
            let _ =
                writeln!(out, "mtime_http_request_duration_seconds_count{{{labels}}} {}", f.count);
        }

        let _ = writeln!(
            out,
            "# HELP mtime_batches_ingested_total Kiosk batches stored (resends not counted)."
        );
        let _ = writeln!(out, "# TYPE mtime_batches_ingested_total counter");
        let _ =
            writeln!(out, "mtime_batches_ingested_total {}", self.batches.load(Ordering::Relaxed));
        let _ =
            writeln!(out, "# HELP mtime_events_ingested_total Presence events stored from kiosks.");
        let _ = writeln!(out, "# TYPE mtime_events_ingested_total counter");
        let _ =
            writeln!(out, "mtime_events_ingested_total {}", self.events.load(Ordering::Relaxed));

        let _ = writeln!(out, "# HELP mtime_kiosks Kiosks by state.");
        let _ = writeln!(out, "# TYPE mtime_kiosks gauge");
        for (state, n) in [
            ("online", kiosks.online),
            ("silent", kiosks.silent),
            ("awaiting_enrollment", kiosks.awaiting_enrollment),
            ("revoked", kiosks.revoked),
        ] {
            let _ = writeln!(out, "mtime_kiosks{{state=\"{state}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_buckets_and_kiosk_states() {
        let metrics = Metrics::default();
        metrics.request("GET", "/api/employees", 200, 0.003);
        metrics.request("GET", "/api/employees", 200, 0.2);
        metrics.request("GET", "/api/employees", 404, 0.0005);
        metrics.batch(12);
        let text = metrics.render(KioskCounts { online: 2, silent: 1, ..Default::default() });
        assert!(text.contains(
            "mtime_http_requests_total{route=\"/api/employees\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains("mtime_http_request_duration_seconds_bucket{route=\"/api/employees\",method=\"GET\",le=\"0.005\"} 2"));
        assert!(text.contains(
            "mtime_http_request_duration_seconds_count{route=\"/api/employees\",method=\"GET\"} 3"
        ));
        assert!(text.contains("mtime_events_ingested_total 12"));
        assert!(text.contains("mtime_kiosks{state=\"silent\"} 1"));
    }
}
