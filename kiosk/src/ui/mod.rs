//! The kiosk's touch UI: Slint views (`kiosk/ui/*.slint`) that read one exported global,
//! `KioskState`, and call back into plain Rust ([`app::KioskUi`]), which asks the
//! [`Controller`](crate::controller::Controller) and never lets a view decide anything.
//!
//! - [`app`]: the screens' state machine: what is shown, for how long, and what a touch does.
//! - [`device`]: the kiosk on its screen, with its reader, buzzer and light.
//! - [`render`]: drawing with Slint's software renderer into pixels, for tests, screenshots
//!   and a rotated panel, and mapping a touch on a rotated panel back to what is drawn.
//!
//! On the Raspberry Pi the window goes straight to the screen through Linux KMS (feature
//! `linuxkms`); on a desktop through a window (feature `desktop`). Tests use Slint's testing
//! backend and the software renderer and need neither.

pub mod app;
pub mod device;
pub mod render;

#[allow(missing_docs, unsafe_code, unreachable_pub)]
#[allow(clippy::all, clippy::pedantic, clippy::unwrap_used, clippy::dbg_macro, clippy::todo)]
mod generated {
    slint::include_modules!();
}

pub use generated::{DiagnosticItem, KioskState, KioskWindow, PresentItem, ReasonItem, Screen};
