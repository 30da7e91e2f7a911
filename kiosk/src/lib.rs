//! The mtime kiosk node: it reads badges, decides what each tap means, stores the event
//! durably before it says anything, prints what the employee should see, and syncs with
//! the server in the background. It keeps working offline for as long as its disk lasts.
//!
//! ```text
//! mtime-kiosk enroll --server https://time.example.com --code 7KQ2-M9XD-4R0P
//! echo "04E87577DE9811 in" | mtime-kiosk run
//! ```
//!
//! # Limitations
//!
//! - Headless: feedback is a line on standard output; the touch UI is not built yet.
//! - Only the simulated reader is wired in; NFC through libnfc is not.
//! - Events made while the wall clock is untrusted are recorded as such but not corrected.
//! - After a storage error such as a full disk, taps are refused until the node restarts.
//! - A tap that lets the kiosk decide continues from the employee's last punch at another
//!   kiosk only as far as the last roster knew it: rosters are fetched when employees,
//!   reasons or settings change and when an unknown badge is read, not after every punch.

pub mod cli;
pub mod clock;
pub mod config;
pub mod controller;
pub mod node;
pub mod pairing;
pub mod paths;
pub mod ui;
