//! A buzzer and an LED on GPIO lines, through the Linux GPIO character device (gpiocdev,
//! pure Rust: no system package).

use std::path::Path;

use gpiocdev::line::Value;
use gpiocdev::request::Request;

use super::player::{Lines, Player};
use super::{FeedbackDevice, FeedbackError, Outcome};

/// Which lines of the chip drive what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpioLines {
    /// The buzzer's line offset, if any.
    pub buzzer: Option<u32>,
    /// The LED's line offset, if any.
    pub led: Option<u32>,
    /// Whether the lines are driven low to switch on.
    pub active_low: bool,
}

/// Buzzer and LED on GPIO lines, played on their own thread.
pub struct GpioFeedback {
    player: Player,
}

impl GpioFeedback {
    /// Requests the lines as outputs, switched off, and starts the player thread.
    pub fn open(chip: &Path, lines: GpioLines) -> Result<Self, FeedbackError> {
        let device = |message: String| FeedbackError::Device { chip: chip.to_owned(), message };
        let offsets: Vec<u32> = lines.buzzer.into_iter().chain(lines.led).collect();
        if offsets.is_empty() {
            return Err(FeedbackError::Config(
                "GPIO feedback needs a buzzer line, an LED line or both",
            ));
        }
        if lines.buzzer.is_some() && lines.buzzer == lines.led {
            return Err(FeedbackError::Config("the buzzer and the LED need different lines"));
        }

        let mut builder = Request::builder();
        builder.on_chip(chip).with_consumer("mtime-kiosk").with_lines(&offsets);
        if lines.active_low {
            builder.as_active_low();
        }
        builder.as_output(Value::Inactive);
        let request = builder.request().map_err(|e| device(e.to_string()))?;

        let driven = Driven { request, buzzer: lines.buzzer, led: lines.led };
        let player = Player::start(driven, "gpio-feedback").map_err(|e| device(e.to_string()))?;
        Ok(Self { player })
    }
}

impl FeedbackDevice for GpioFeedback {
    fn signal(&mut self, outcome: Outcome) {
        self.player.signal(outcome);
    }
}

/// The requested lines; they are released when this is dropped.
struct Driven {
    request: Request,
    buzzer: Option<u32>,
    led: Option<u32>,
}

impl Lines for Driven {
    fn set(&mut self, buzzer: bool, led: bool) -> Result<(), String> {
        let value = |on: bool| if on { Value::Active } else { Value::Inactive };
        for (offset, on) in [(self.buzzer, buzzer), (self.led, led)] {
            if let Some(offset) = offset {
                self.request.set_value(offset, value(on)).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_chip_is_an_error_naming_it() {
        let lines = GpioLines { buzzer: Some(17), led: Some(27), active_low: false };
        let chip = Path::new("/nonexistent/gpiochip0");
        let err = GpioFeedback::open(chip, lines).err().unwrap();
        assert!(matches!(&err, FeedbackError::Device { chip: c, .. } if c == chip), "{err}");
    }

    #[test]
    fn one_line_for_both_devices_is_refused() {
        let lines = GpioLines { buzzer: Some(17), led: Some(17), active_low: true };
        let err = GpioFeedback::open(Path::new("/dev/gpiochip0"), lines).err().unwrap();
        assert!(matches!(err, FeedbackError::Config(m) if m.contains("different lines")));
    }
}
