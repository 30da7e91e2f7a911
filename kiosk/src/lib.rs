//! The mtime kiosk: it reads badges, decides what each tap means, stores the event durably
//! before it shows anything, tells the employee on its touch screen (and with a beep and a
//! light), and syncs with the server in the background. It keeps working offline for as
//! long as its disk lasts.
//!
//! ```text
//! mtime-kiosk ui --config /etc/mtime/kiosk.toml        # the device: screen, reader, buzzer
//! mtime-kiosk enroll --server https://time.example.com --code 7KQ2-M9XD-4R0P
//! echo "04E87577DE9811 in" | mtime-kiosk run          # headless: one line per tap
//! ```
//!
//! - [`controller`]: what a tap means, stored before it is shown; changes within seconds of a
//!   tap as new amending events; PIN check-in; who is in.
//! - [`node`]: the store, the controller and the sync loop, started once enrolled.
//! - [`ui`]: the Slint screens and their state machine, the device runtime, rendering.
//! - [`pairing`], [`cli`], [`clock`], [`paths`]: the rest of the device; its configuration
//!   file is `mtime_hardware::device_file`.
//!
//! # Limitations
//!
//! - A tap that lets the kiosk decide continues from the employee's last punch at another
//!   kiosk only as far as the last roster knew it: rosters are fetched when employees,
//!   reasons or settings change and when an unknown badge is read, not after every punch.
//!   The evacuation list has the same horizon for other kiosks' punches.
//! - PIN entry locks for five minutes after five wrong PINs in a row; the count lives in
//!   memory and starts again when the kiosk restarts.
//! - A kiosk nobody administers (no employee of its roster is a kiosk admin) opens admin
//!   mode to anyone at the screen; pairing again needs a fresh enrollment code anyway.
//! - Pairing is typed on the screen's keyboard; scanning the code (a QR code with a camera)
//!   is not built.
//! - The screens speak English and Norwegian (bokmål); another language is a `.po` file in
//!   `kiosk/lang/` (its test checks that every message is translated).

pub mod cli;
pub mod clock;
pub mod controller;
pub mod node;
pub mod pairing;
pub mod paths;
pub mod ui;
