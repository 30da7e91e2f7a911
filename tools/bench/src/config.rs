//! The sizes each workload runs at: the full run, and `--quick`, which only proves the
//! suite still works.

/// Every size the suite uses.
#[derive(Debug, Clone)]
pub struct Config {
    /// Whether this is the short run.
    pub quick: bool,
    /// Workload 1: events already in each store when taps are timed.
    pub durable_levels: Vec<u64>,
    /// Workload 1: taps timed per store and level.
    pub durable_taps: usize,
    /// Workload 2: roster sizes (employees).
    pub tap_rosters: Vec<usize>,
    /// Workload 2: taps timed per roster size.
    pub tap_count: usize,
    /// Workload 3: batch sizes, with `ingest_kiosks_fixed` kiosks.
    pub ingest_batches: Vec<usize>,
    /// Workload 3: kiosk counts, with batches of `ingest_batch_fixed`.
    pub ingest_kiosks: Vec<usize>,
    /// Workload 3: the kiosk count of the batch-size curve.
    pub ingest_kiosks_fixed: usize,
    /// Workload 3: the batch size of the kiosk-count curve.
    pub ingest_batch_fixed: usize,
    /// Workload 3: events sent per measurement, at least one batch per kiosk.
    pub ingest_events: usize,
    /// Workload 3: requests per measurement at most (small batches).
    pub ingest_max_requests: usize,
    /// Workload 3: how often HTTP and direct runs alternate.
    pub ingest_repeats: usize,
    /// Workload 3: events the interval watcher catches up on alone.
    pub watcher_events: usize,
    /// Workload 4: events a kiosk buffered.
    pub catchup_events: Vec<u64>,
    /// Workload 4: the most events per batch the kiosk is configured for, one run each.
    pub catchup_batches: Vec<u32>,
    /// Workload 5: fleet sizes.
    pub fleet_kiosks: Vec<usize>,
    /// Workload 5: the compressed heartbeat period, standing for 30 s.
    pub fleet_period: std::time::Duration,
    /// Workload 5: periods run per fleet size.
    pub fleet_periods: u32,
    /// Workload 7: employees whose month of intervals is listed.
    pub read_employees: Vec<usize>,
    /// Workload 7: employees in the presence report.
    pub presence_employees: Vec<usize>,
    /// Workload 7: presence reports timed per size.
    pub presence_requests: usize,
}

impl Config {
    /// The full run: under 15 minutes on a 2-core machine.
    pub fn full() -> Self {
        Self {
            quick: false,
            durable_levels: vec![1_000, 10_000, 50_000],
            durable_taps: 1_000,
            tap_rosters: vec![100, 1_000, 10_000],
            tap_count: 1_000,
            ingest_batches: vec![1, 10, 100, 500, 1_000],
            ingest_kiosks: vec![10, 100, 1_000],
            ingest_kiosks_fixed: 100,
            ingest_batch_fixed: 100,
            ingest_events: 30_000,
            ingest_max_requests: 1_000,
            ingest_repeats: 2,
            watcher_events: 300_000,
            catchup_events: vec![10_000, 100_000, 1_000_000],
            catchup_batches: vec![500, 5_000],
            fleet_kiosks: vec![100, 300, 1_000],
            fleet_period: std::time::Duration::from_secs(3),
            fleet_periods: 5,
            read_employees: vec![100, 300, 1_000],
            presence_employees: vec![1_000, 3_000, 10_000],
            presence_requests: 50,
        }
    }

    /// The short run: every workload at small sizes, in about two minutes.
    pub fn quick() -> Self {
        Self {
            quick: true,
            durable_levels: vec![100, 1_000],
            durable_taps: 100,
            tap_rosters: vec![100, 1_000],
            tap_count: 100,
            ingest_batches: vec![1, 100],
            ingest_kiosks: vec![10, 50],
            ingest_kiosks_fixed: 10,
            ingest_batch_fixed: 100,
            ingest_events: 5_000,
            ingest_max_requests: 200,
            ingest_repeats: 1,
            watcher_events: 10_000,
            catchup_events: vec![1_000, 10_000],
            catchup_batches: vec![500, 5_000],
            fleet_kiosks: vec![50],
            fleet_period: std::time::Duration::from_secs(1),
            fleet_periods: 3,
            read_employees: vec![50],
            presence_employees: vec![500],
            presence_requests: 5,
        }
    }
}
