//! Buzzers and LEDs that tell the employee what became of a tap.
//!
//! The kiosk turns its decision into an [`Outcome`] and hands it to a [`FeedbackDevice`].
//! Each outcome has its own [`Pattern`] of buzzer and LED steps, told apart by ear alone:
//!
//! | outcome      | buzzer                  | LED                    | length |
//! |--------------|-------------------------|------------------------|--------|
//! | `CheckedIn`  | one short beep          | on                     | 1 s    |
//! | `CheckedOut` | two short beeps         | on                     | 1 s    |
//! | `Repeated`   | silent                  | three quick flashes    | 0.75 s |
//! | `Refused`    | one long beep           | on, then two flashes   | 1.4 s  |
//!
//! [`GpioFeedback`] (feature `gpio`) drives a buzzer and an LED on GPIO lines through the
//! Linux character device, playing patterns on its own thread: [`FeedbackDevice::signal`]
//! returns at once, so a tap is never delayed by a beep, and a newer outcome cuts the
//! pattern still playing short. [`NoFeedback`] does nothing; [`RecordingFeedback`]
//! records what it was asked to signal, for tests.
//!
//! # Limitations
//!
//! - The GPIO path is tested against a fake pair of lines only: this machine has no GPIO
//!   chip, so the calls into the character device itself (requesting lines, setting
//!   values) have not run here. Test on a Pi before relying on it.
//! - One buzzer tone: the patterns differ in rhythm, not in pitch.
//! - A signal that arrives while four are still queued is dropped rather than delaying a
//!   tap; a line that cannot be set is logged once per run and otherwise ignored.

#[cfg(feature = "gpio")]
mod gpio;
mod player;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(feature = "gpio")]
pub use gpio::{GpioFeedback, GpioLines};
pub use player::{Lines, Player};

/// What became of a tap, as far as the employee standing there needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A check-in was recorded.
    CheckedIn,
    /// A check-out was recorded.
    CheckedOut,
    /// The same badge again too soon: nothing new was recorded, the first tap stands.
    Repeated,
    /// Nothing was recorded: an unknown badge, a reader that sent garbage, a kiosk fault.
    Refused,
}

impl Outcome {
    /// Every outcome, for tables and tests.
    pub const ALL: [Outcome; 4] =
        [Outcome::CheckedIn, Outcome::CheckedOut, Outcome::Repeated, Outcome::Refused];

    /// The pattern this outcome is signalled with.
    pub fn pattern(self) -> Pattern {
        Pattern(match self {
            Outcome::CheckedIn => CHECKED_IN,
            Outcome::CheckedOut => CHECKED_OUT,
            Outcome::Repeated => REPEATED,
            Outcome::Refused => REFUSED,
        })
    }
}

/// One step of a pattern: what is on, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Whether the buzzer sounds.
    pub buzzer: bool,
    /// Whether the LED is lit.
    pub led: bool,
    /// How long this lasts.
    pub duration: Duration,
}

/// A sequence of steps; after the last one everything is switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern(&'static [Step]);

impl Pattern {
    /// The steps in order.
    pub fn steps(&self) -> &'static [Step] {
        self.0
    }

    /// How long the whole pattern lasts.
    pub fn duration(&self) -> Duration {
        self.0.iter().map(|s| s.duration).sum()
    }
}

const fn step(buzzer: bool, led: bool, ms: u64) -> Step {
    Step { buzzer, led, duration: Duration::from_millis(ms) }
}

const CHECKED_IN: &[Step] = &[step(true, true, 100), step(false, true, 900)];
const CHECKED_OUT: &[Step] =
    &[step(true, true, 100), step(false, true, 100), step(true, true, 100), step(false, true, 700)];
const REPEATED: &[Step] = &[
    step(false, true, 150),
    step(false, false, 150),
    step(false, true, 150),
    step(false, false, 150),
    step(false, true, 150),
];
const REFUSED: &[Step] = &[
    step(true, true, 600),
    step(false, false, 200),
    step(false, true, 200),
    step(false, false, 200),
    step(false, true, 200),
];

/// A buzzer, an LED, or both.
pub trait FeedbackDevice: Send {
    /// Signals `outcome`. Returns at once; a device that fails logs it and goes on, since a
    /// silent buzzer must never stop taps from being recorded.
    fn signal(&mut self, outcome: Outcome);
}

/// What could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    /// The configuration asks for something impossible.
    #[error("feedback configuration: {0}")]
    Config(&'static str),
    /// The GPIO chip or its lines could not be had.
    #[error(
        "GPIO chip {}: {message}; check the chip path, line offsets and permissions",
        chip.display()
    )]
    Device {
        /// The chip as configured.
        chip: PathBuf,
        /// What the kernel said.
        message: String,
    },
}

/// No buzzer, no LED.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFeedback;

impl FeedbackDevice for NoFeedback {
    fn signal(&mut self, _: Outcome) {}
}

/// Records every signal with its pattern; clones share the record.
#[derive(Debug, Clone, Default)]
pub struct RecordingFeedback {
    signals: Arc<Mutex<Vec<(Outcome, Pattern)>>>,
}

impl RecordingFeedback {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything signalled so far, oldest first.
    pub fn signals(&self) -> Vec<(Outcome, Pattern)> {
        self.signals.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl FeedbackDevice for RecordingFeedback {
    fn signal(&mut self, outcome: Outcome) {
        let mut signals = self.signals.lock().unwrap_or_else(|e| e.into_inner());
        signals.push((outcome, outcome.pattern()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths of the beeps of a pattern, in ms.
    fn beeps(pattern: Pattern) -> Vec<u128> {
        let mut beeps = Vec::new();
        let mut current = 0;
        for step in pattern.steps() {
            if step.buzzer {
                current += step.duration.as_millis();
            } else if current > 0 {
                beeps.push(current);
                current = 0;
            }
        }
        if current > 0 {
            beeps.push(current);
        }
        beeps
    }

    #[test]
    fn each_outcome_sounds_its_own_way() {
        assert_eq!(beeps(Outcome::CheckedIn.pattern()), [100]);
        assert_eq!(beeps(Outcome::CheckedOut.pattern()), [100, 100]);
        assert_eq!(beeps(Outcome::Repeated.pattern()), [] as [u128; 0]);
        assert_eq!(beeps(Outcome::Refused.pattern()), [600]);
        for (i, a) in Outcome::ALL.iter().enumerate() {
            for b in &Outcome::ALL[i + 1..] {
                assert_ne!(a.pattern(), b.pattern(), "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn patterns_show_at_once_and_are_over_before_the_next_employee() {
        for outcome in Outcome::ALL {
            let pattern = outcome.pattern();
            let first = pattern.steps()[0];
            assert!(first.led, "{outcome:?} lights the LED at once");
            assert!(pattern.duration() <= Duration::from_millis(1500), "{outcome:?}");
            assert!(pattern.steps().iter().all(|s| !s.duration.is_zero()), "{outcome:?}");
        }
        assert_eq!(Outcome::CheckedIn.pattern().duration(), Duration::from_secs(1));
        assert_eq!(Outcome::Refused.pattern().duration(), Duration::from_millis(1400));
    }

    #[test]
    fn a_recording_is_shared_by_its_clones() {
        let record = RecordingFeedback::new();
        let mut device: Box<dyn FeedbackDevice> = Box::new(record.clone());
        device.signal(Outcome::CheckedIn);
        device.signal(Outcome::Refused);
        assert_eq!(
            record.signals(),
            [
                (Outcome::CheckedIn, Outcome::CheckedIn.pattern()),
                (Outcome::Refused, Outcome::Refused.pattern())
            ]
        );
        NoFeedback.signal(Outcome::Repeated);
    }

    #[test]
    fn errors_say_what_to_check() {
        let err = FeedbackError::Device { chip: "/dev/gpiochip9".into(), message: "ENOENT".into() };
        assert_eq!(
            err.to_string(),
            "GPIO chip /dev/gpiochip9: ENOENT; check the chip path, line offsets and permissions"
        );
    }
}
