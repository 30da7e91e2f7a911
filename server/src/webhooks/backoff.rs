//! How long to wait before trying a delivery again: exponential, capped, with jitter so
//! that many subscriptions failing together do not retry in step.

use std::time::Duration;

/// The wait after the `failures`-th failed attempt in a row (1 for the first): `base`
/// doubled each time up to `cap`, then scaled by a random factor between one half and one.
pub fn delay(base: Duration, cap: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    let full = base.saturating_mul(1 << doublings).min(cap);
    full.mul_f64(jitter())
}

/// A random factor in [0.5, 1]; 1 if the system has no randomness to give.
fn jitter() -> f64 {
    let mut bytes = [0u8; 2];
    match getrandom::fill(&mut bytes) {
        Ok(()) => 0.5 + f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX) / 2.0,
        Err(_) => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_the_cap_and_jitter_only_shortens_it() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(600));
        for (failures, full) in [(1, 1), (2, 2), (3, 4), (10, 512), (11, 600), (500, 600)] {
            for _ in 0..20 {
                let wait = delay(base, cap, failures);
                let full = Duration::from_secs(full);
                assert!(wait <= full && wait >= full / 2, "{failures}: {wait:?}");
            }
        }
    }
}
