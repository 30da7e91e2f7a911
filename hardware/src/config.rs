//! What a kiosk's configuration file says about its reader and its buzzer and LED, and
//! how to open them.
//!
//! The kiosk embeds two tables in its TOML file: `[reader]` ([`ReaderConfig`]) and
//! `[feedback]` ([`FeedbackConfig`], optional: none by default). Each is tagged by `kind`
//! and refuses keys it does not know, so a misspelt key is an error, not a silent default.
//!
//! ```
//! use mtime_hardware::config::{FeedbackConfig, ReaderConfig};
//!
//! #[derive(serde::Deserialize)]
//! struct KioskFile {
//!     reader: ReaderConfig,
//!     #[serde(default)]
//!     feedback: FeedbackConfig,
//! }
//!
//! let file: KioskFile = toml::from_str(r#"
//!     [reader]
//!     kind = "nfc"
//!     connstring = "pn532_uart:/dev/ttyUSB0"
//!     poll_interval_ms = 250
//!
//!     [feedback]
//!     kind = "gpio"
//!     chip = "/dev/gpiochip0"
//!     buzzer_line = 17
//!     led_line = 27
//!     active_low = false
//! "#).unwrap();
//! assert!(matches!(file.reader, ReaderConfig::Nfc { poll_interval_ms: 250, .. }));
//! ```
//!
//! The other reader kinds:
//!
//! ```toml
//! [reader]            # a USB reader that types the badge number and Enter
//! kind = "keyboard"
//! device = "/dev/input/by-id/usb-0c27_RFIDeas-event-kbd"
//! width = 4           # bytes in the badge UID the number stands for
//! byte_order = "big"  # or "little": which end of the number is the UID's first byte
//! grab = true         # keep the keystrokes from other programs (the default)
//!
//! [reader]            # taps typed into a Unix socket, one script line each
//! kind = "simulator"
//! socket = "/run/mtime/tap.sock"
//!
//! [reader]            # taps replayed from a script file
//! kind = "simulator"
//! script = "/etc/mtime/taps.txt"
//! ```
//!
//! # Limitations
//!
//! - Opening checks what can be checked without the device (ranges, the build's features);
//!   a missing device is found when the reader thread opens it, and reported as
//!   [`ReaderError::Unavailable`] then.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::feedback::{FeedbackDevice, FeedbackError, NoFeedback};
use crate::keyboard::{ByteOrder, KeyboardReader, NumberFormat};
use crate::simulator::ScriptReader;
use crate::socket::SocketReader;
use crate::{BadgeReader, ReaderError};

/// The badge reader a kiosk uses: the `[reader]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReaderConfig {
    /// Taps from a script file or a Unix socket (exactly one of the two).
    Simulator {
        /// A tap script replayed once (see [`crate::simulator`]).
        script: Option<PathBuf>,
        /// A Unix socket whose connections send script lines (see [`crate::socket`]).
        socket: Option<PathBuf>,
    },
    /// An NFC reader through libnfc (needs the `nfc` feature).
    Nfc {
        /// libnfc's name for the device, such as `pn532_uart:/dev/ttyUSB0`; none for the
        /// first device libnfc finds.
        connstring: Option<String>,
        /// Pause between two looks for a card, 50 to 5000 ms.
        #[serde(default = "default_poll_interval_ms")]
        poll_interval_ms: u64,
    },
    /// A USB reader that types the badge number as decimal digits, then Enter.
    Keyboard {
        /// Its Linux input device, best under `/dev/input/by-id/`.
        device: PathBuf,
        /// How many bytes the UID has (1 to 8).
        width: u8,
        /// Which end of the number is the UID's first byte.
        byte_order: ByteOrder,
        /// Keep its keystrokes from every other program (EVIOCGRAB); on by default.
        #[serde(default = "yes")]
        grab: bool,
    },
}

/// The buzzer and LED a kiosk signals outcomes on: the `[feedback]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FeedbackConfig {
    /// No buzzer, no LED: the screen alone tells the outcome.
    #[default]
    None,
    /// A buzzer and/or an LED on GPIO lines (needs the `gpio` feature, on by default).
    Gpio {
        /// The GPIO chip, such as `/dev/gpiochip0`.
        chip: PathBuf,
        /// The buzzer's line offset on that chip, if there is a buzzer.
        buzzer_line: Option<u32>,
        /// The LED's line offset on that chip, if there is an LED.
        led_line: Option<u32>,
        /// Whether a line is driven low to switch its device on.
        #[serde(default)]
        active_low: bool,
    },
}

/// The poll interval an `nfc` reader gets when the file names none.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The shortest and the longest poll interval accepted. The longest keeps an unplugged
/// reader reported within 10 s (see the crate documentation).
pub const POLL_INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 50..=5000;

fn default_poll_interval_ms() -> u64 {
    DEFAULT_POLL_INTERVAL.as_millis() as u64
}

fn yes() -> bool {
    true
}

/// Opens the reader `config` describes. Fails with [`ReaderError::Fatal`] for a
/// configuration that can never work (out of range, a feature this build lacks, a script
/// that cannot be opened); a device that is merely missing is found later.
pub fn open_reader(config: &ReaderConfig) -> Result<Box<dyn BadgeReader>, ReaderError> {
    match config {
        ReaderConfig::Simulator { script: Some(path), socket: None } => {
            let file = File::open(path)
                .map_err(|e| ReaderError::Fatal(format!("tap script {}: {e}", path.display())))?;
            Ok(Box::new(ScriptReader::new(BufReader::new(file))))
        }
        ReaderConfig::Simulator { script: None, socket: Some(path) } => {
            Ok(Box::new(SocketReader::bind(path)?))
        }
        ReaderConfig::Simulator { .. } => Err(ReaderError::Fatal(
            "a simulator reader needs exactly one of `script` and `socket`".into(),
        )),
        ReaderConfig::Nfc { connstring, poll_interval_ms } => {
            open_nfc(connstring.as_deref(), *poll_interval_ms)
        }
        ReaderConfig::Keyboard { device, width, byte_order, grab } => {
            let format = NumberFormat::new(*width, *byte_order).map_err(ReaderError::Fatal)?;
            Ok(Box::new(KeyboardReader::new(device.clone(), format, *grab)))
        }
    }
}

/// The poll interval, if in range.
fn poll_interval(ms: u64) -> Result<Duration, ReaderError> {
    if !POLL_INTERVAL_RANGE.contains(&ms) {
        return Err(ReaderError::Fatal(format!(
            "poll_interval_ms = {ms} is out of range; use {} to {}",
            POLL_INTERVAL_RANGE.start(),
            POLL_INTERVAL_RANGE.end()
        )));
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(feature = "nfc")]
fn open_nfc(connstring: Option<&str>, poll_ms: u64) -> Result<Box<dyn BadgeReader>, ReaderError> {
    let reader = crate::nfc::NfcReader::new(connstring, poll_interval(poll_ms)?)?;
    Ok(Box::new(reader))
}

#[cfg(not(feature = "nfc"))]
fn open_nfc(_: Option<&str>, poll_ms: u64) -> Result<Box<dyn BadgeReader>, ReaderError> {
    poll_interval(poll_ms)?;
    Err(ReaderError::Fatal(
        "this kiosk was built without NFC; build it with `--features nfc` (or `pi`)".into(),
    ))
}

/// Opens the buzzer and LED `config` describes.
pub fn open_feedback(config: &FeedbackConfig) -> Result<Box<dyn FeedbackDevice>, FeedbackError> {
    match config {
        FeedbackConfig::None => Ok(Box::new(NoFeedback)),
        FeedbackConfig::Gpio { buzzer_line: None, led_line: None, .. } => {
            Err(FeedbackError::Config("GPIO feedback needs a buzzer_line, a led_line or both"))
        }
        FeedbackConfig::Gpio { chip, buzzer_line, led_line, active_low } => {
            open_gpio(chip, *buzzer_line, *led_line, *active_low)
        }
    }
}

#[cfg(feature = "gpio")]
fn open_gpio(
    chip: &std::path::Path,
    buzzer: Option<u32>,
    led: Option<u32>,
    active_low: bool,
) -> Result<Box<dyn FeedbackDevice>, FeedbackError> {
    let lines = crate::feedback::GpioLines { buzzer, led, active_low };
    Ok(Box::new(crate::feedback::GpioFeedback::open(chip, lines)?))
}

#[cfg(not(feature = "gpio"))]
fn open_gpio(
    _: &std::path::Path,
    _: Option<u32>,
    _: Option<u32>,
    _: bool,
) -> Result<Box<dyn FeedbackDevice>, FeedbackError> {
    Err(FeedbackError::Config(
        "this kiosk was built without GPIO; build it with mtime-hardware's `gpio` feature",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct KioskFile {
        reader: ReaderConfig,
        #[serde(default)]
        feedback: FeedbackConfig,
    }

    fn parse(text: &str) -> Result<KioskFile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn every_reader_kind_parses_from_the_documented_toml() {
        let nfc = parse(
            "[reader]\nkind = \"nfc\"\nconnstring = \"pn532_uart:/dev/ttyUSB0\"\n\
             poll_interval_ms = 250\n\n[feedback]\nkind = \"gpio\"\nchip = \"/dev/gpiochip0\"\n\
             buzzer_line = 17\nled_line = 27\nactive_low = false\n",
        )
        .unwrap();
        assert_eq!(
            nfc.reader,
            ReaderConfig::Nfc {
                connstring: Some("pn532_uart:/dev/ttyUSB0".into()),
                poll_interval_ms: 250
            }
        );
        assert_eq!(
            nfc.feedback,
            FeedbackConfig::Gpio {
                chip: "/dev/gpiochip0".into(),
                buzzer_line: Some(17),
                led_line: Some(27),
                active_low: false
            }
        );

        let keyboard = parse(
            "[reader]\nkind = \"keyboard\"\ndevice = \"/dev/input/event3\"\nwidth = 4\n\
             byte_order = \"little\"\n",
        )
        .unwrap();
        assert_eq!(
            keyboard.reader,
            ReaderConfig::Keyboard {
                device: "/dev/input/event3".into(),
                width: 4,
                byte_order: ByteOrder::Little,
                grab: true
            }
        );
        assert_eq!(keyboard.feedback, FeedbackConfig::None, "feedback defaults to none");

        let socket = parse("[reader]\nkind = \"simulator\"\nsocket = \"/run/mtime/tap.sock\"\n");
        assert_eq!(
            socket.unwrap().reader,
            ReaderConfig::Simulator { script: None, socket: Some("/run/mtime/tap.sock".into()) }
        );

        let bare_nfc = parse("[reader]\nkind = \"nfc\"\n").unwrap();
        assert_eq!(bare_nfc.reader, ReaderConfig::Nfc { connstring: None, poll_interval_ms: 250 });
    }

    #[test]
    fn the_toml_in_the_module_docs_parses() {
        let docs = include_str!("config.rs");
        let blocks: Vec<&str> = docs.split("//! ```toml\n").skip(1).collect();
        assert_eq!(blocks.len(), 1);
        let block: String = blocks[0]
            .lines()
            .take_while(|l| *l != "//! ```")
            .map(|l| l.trim_start_matches("//!").trim_start())
            .collect::<Vec<_>>()
            .join("\n");
        let tables: Vec<&str> = block.split("[reader]").skip(1).collect();
        assert_eq!(tables.len(), 3);
        for table in tables {
            parse(&format!("[reader]{table}")).unwrap();
        }
    }

    #[test]
    fn unknown_keys_and_kinds_are_errors_naming_them() {
        let err = parse("[reader]\nkind = \"nfc\"\npoll_intervall_ms = 250\n").unwrap_err();
        assert!(err.contains("poll_intervall_ms"), "{err}");
        let err = parse("[reader]\nkind = \"bluetooth\"\n").unwrap_err();
        assert!(err.contains("bluetooth"), "{err}");
        let err =
            parse("[reader]\nkind = \"nfc\"\n[feedback]\nkind = \"gpio\"\nchip = \"c\"\nled = 3\n")
                .unwrap_err();
        assert!(err.contains("led"), "{err}");
        let err = parse(
            "[reader]\nkind = \"keyboard\"\ndevice = \"d\"\nwidth = 4\nbyte_order = \"middle\"\n",
        )
        .unwrap_err();
        assert!(err.contains("middle"), "{err}");
    }

    #[test]
    fn impossible_configurations_are_refused_when_opened() {
        let both = ReaderConfig::Simulator { script: Some("a".into()), socket: Some("b".into()) };
        assert!(
            matches!(open_reader(&both), Err(ReaderError::Fatal(m)) if m.contains("exactly one"))
        );

        let fast = ReaderConfig::Nfc { connstring: None, poll_interval_ms: 10 };
        assert!(
            matches!(open_reader(&fast), Err(ReaderError::Fatal(m)) if m.contains("50 to 5000"))
        );

        let wide = ReaderConfig::Keyboard {
            device: "/dev/null".into(),
            width: 9,
            byte_order: ByteOrder::Big,
            grab: false,
        };
        assert!(matches!(open_reader(&wide), Err(ReaderError::Fatal(m)) if m.contains("1 to 8")));

        let missing =
            ReaderConfig::Simulator { script: Some("/nonexistent/taps".into()), socket: None };
        let err = open_reader(&missing).err().unwrap();
        assert!(matches!(&err, ReaderError::Fatal(m) if m.contains("/nonexistent/taps")), "{err}");

        let mute = FeedbackConfig::Gpio {
            chip: "/dev/gpiochip0".into(),
            buzzer_line: None,
            led_line: None,
            active_low: false,
        };
        assert!(matches!(open_feedback(&mute), Err(FeedbackError::Config(_))));
        assert!(open_feedback(&FeedbackConfig::None).is_ok());
    }

    #[cfg(not(feature = "nfc"))]
    #[test]
    fn nfc_without_the_feature_says_how_to_get_it() {
        let nfc = ReaderConfig::Nfc { connstring: None, poll_interval_ms: 250 };
        assert!(
            matches!(open_reader(&nfc), Err(ReaderError::Fatal(m)) if m.contains("--features nfc"))
        );
    }

    #[test]
    fn a_missing_keyboard_device_is_not_an_error_until_it_is_read() {
        let config = ReaderConfig::Keyboard {
            device: "/nonexistent/event-kbd".into(),
            width: 4,
            byte_order: ByteOrder::Big,
            grab: false,
        };
        let mut reader = open_reader(&config).unwrap();
        assert!(
            matches!(reader.open(), Err(ReaderError::Unavailable(m)) if m.contains("event-kbd"))
        );
    }
}
