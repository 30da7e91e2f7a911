//! How full a kiosk's outbox is: the one rule the kiosk's screen and the server's feed
//! both follow, so that "filling" means the same number of unsynced events on either side.
//!
//! Capacity is a warning mark, not a cliff. A kiosk never deletes an unsynced event to make
//! room and keeps storing taps past its capacity for as long as its disk allows; reaching
//! the mark only says loudly that the kiosk has been cut off for too long.
//!
//! ```
//! use mtime_core::capacity::CapacityState;
//!
//! assert_eq!(CapacityState::of(10, 100), CapacityState::Ok);
//! assert_eq!(CapacityState::of(80, 100), CapacityState::Filling { pending: 80, capacity: 100 });
//! assert_eq!(CapacityState::of(130, 100), CapacityState::Full { pending: 130, capacity: 100 });
//! ```
//!
//! # Limitations
//!
//! - The mark counts events, not bytes: it says nothing of the disk itself. A disk that
//!   fills before the mark is reported by the store's own "storage full" error.

use serde::{Deserialize, Serialize};

/// The capacity a kiosk uses unless told otherwise: seven weeks of a site of 500 employees
/// tapping four times a day (500 × 4 × 49 = 98,000), rounded up. At about 200 bytes an
/// event that is some 20 MB, which any kiosk's card holds many times over.
pub const DEFAULT_CAPACITY: u64 = 100_000;

/// The share of the capacity, in percent, from which the outbox counts as filling: early
/// enough that a site has days to restore the network before the mark.
pub const WARN_PERCENT: u64 = 80;

/// How full the outbox is.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CapacityState {
    /// Below the warning mark.
    Ok,
    /// At or past [`WARN_PERCENT`] of the capacity, below the capacity.
    Filling {
        /// Events stored and not yet acknowledged.
        pending: u64,
        /// The capacity.
        capacity: u64,
    },
    /// At or past the capacity. Taps are still stored while the disk allows.
    Full {
        /// Events stored and not yet acknowledged.
        pending: u64,
        /// The capacity.
        capacity: u64,
    },
}

impl CapacityState {
    /// The state of an outbox holding `pending` unsynced events against `capacity`. A
    /// capacity of 0 is read as 1, so that any pending event counts as full rather than
    /// dividing by nothing.
    pub fn of(pending: u64, capacity: u64) -> Self {
        let capacity = capacity.max(1);
        if pending >= capacity {
            return Self::Full { pending, capacity };
        }

        // Multiplying the smaller side keeps this exact and free of overflow: pending is
        // below capacity here, and 100 × u64::MAX / 100 is not reached by any real count.
        if u128::from(pending) * 100 >= u128::from(capacity) * u128::from(WARN_PERCENT) {
            Self::Filling { pending, capacity }
        } else {
            Self::Ok
        }
    }

    /// Whether someone should be told: filling or full.
    pub fn is_warning(self) -> bool {
        !matches!(self, Self::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_starts_at_eighty_percent_and_full_at_the_capacity() {
        assert_eq!(CapacityState::of(0, 100_000), CapacityState::Ok);
        assert_eq!(CapacityState::of(79_999, 100_000), CapacityState::Ok);
        assert_eq!(
            CapacityState::of(80_000, 100_000),
            CapacityState::Filling { pending: 80_000, capacity: 100_000 }
        );
        assert_eq!(
            CapacityState::of(99_999, 100_000),
            CapacityState::Filling { pending: 99_999, capacity: 100_000 }
        );
        assert_eq!(
            CapacityState::of(100_000, 100_000),
            CapacityState::Full { pending: 100_000, capacity: 100_000 }
        );
    }

    #[test]
    fn past_the_capacity_is_still_full_and_extreme_counts_do_not_overflow() {
        assert_eq!(
            CapacityState::of(250, 100),
            CapacityState::Full { pending: 250, capacity: 100 }
        );
        assert_eq!(
            CapacityState::of(u64::MAX - 1, u64::MAX),
            CapacityState::Filling { pending: u64::MAX - 1, capacity: u64::MAX }
        );
        assert_eq!(CapacityState::of(1, 0), CapacityState::Full { pending: 1, capacity: 1 });
        assert_eq!(CapacityState::of(0, 0), CapacityState::Ok);
    }

    #[test]
    fn only_filling_and_full_warn() {
        assert!(!CapacityState::of(1, 10).is_warning());
        assert!(CapacityState::of(8, 10).is_warning());
        assert!(CapacityState::of(10, 10).is_warning());
    }
}
