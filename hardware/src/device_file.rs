//! A kiosk's own configuration file: what is about this kiosk's hardware and place on disk, and
//! only that. How the kiosk behaves (site zone, reasons, repeat window, language, PIN entry) comes
//! from the server with the roster and changes without a restart.
//!
//! ```toml
//! data_dir = "/var/lib/mtime-kiosk"
//! # Offered on the pairing screen, so the admin types only the code.
//! server_url = "https://time.example.com"
//! # A certificate to trust for the server, if it has a private one.
//! server_ca = "/etc/mtime/server-ca.pem"
//!
//! [screen]
//! rotation = 90          # how the panel is mounted, clockwise: 0, 90, 180 or 270
//!
//! [reader]
//! kind = "nfc"
//! connstring = "pn532_uart:/dev/ttyAMA0"
//!
//! [feedback]
//! kind = "gpio"
//! chip = "/dev/gpiochip0"
//! buzzer_line = 17
//! led_line = 27
//! ```
//!
//! The `[reader]` and `[feedback]` tables are [`crate::config`]'s; every table refuses
//! keys it does not know, so a misspelt key is an error rather than a silent default.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::{FeedbackConfig, ReaderConfig};
use crate::panel::Rotation;

/// A kiosk's configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Where the kiosk keeps its store and key.
    pub data_dir: PathBuf,
    /// The server to offer on the pairing screen.
    #[serde(default)]
    pub server_url: Option<String>,
    /// A PEM certificate to trust for the server.
    #[serde(default)]
    pub server_ca: Option<PathBuf>,
    /// The screen.
    #[serde(default)]
    pub screen: ScreenConfig,
    /// The badge reader.
    pub reader: ReaderConfig,
    /// The buzzer and LED.
    #[serde(default)]
    pub feedback: FeedbackConfig,
}

/// The `[screen]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenConfig {
    /// How the panel is mounted.
    #[serde(default)]
    pub rotation: Rotation,
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
}

impl DeviceConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::parse(&text)
            .map_err(|message| ConfigError::Invalid { path: path.to_owned(), message })
    }

    /// Checks the text of a configuration file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        if config.data_dir.as_os_str().is_empty() {
            return Err("data_dir is empty; name the kiosk's data directory".into());
        }
        if let Some(url) = &config.server_url {
            let parsed = url::Url::parse(url).map_err(|e| format!("server_url {url:?}: {e}"))?;
            if !matches!(parsed.scheme(), "https" | "http") {
                return Err(format!("server_url {url:?}: not an http(s) address"));
            }
            // The base URL of the server and nothing else: a password here would be a secret
            // in a file that is not one, and a path or query would be silently dropped.
            let extra = !parsed.username().is_empty()
                || parsed.password().is_some()
                || parsed.query().is_some()
                || parsed.fragment().is_some();
            if extra {
                return Err("server_url: give only scheme, host and port (and a path), no user, \
                            password, query or fragment"
                    .into());
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../kiosk/packaging/kiosk.toml");

    #[test]
    fn the_example_file_in_the_repository_is_valid() {
        let config = DeviceConfig::parse(EXAMPLE).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/mtime-kiosk"));
        assert_eq!(config.screen.rotation, Rotation::None);
        assert!(matches!(config.reader, ReaderConfig::Nfc { .. }));
        assert!(matches!(config.feedback, FeedbackConfig::Gpio { .. }));
    }

    #[test]
    fn the_smallest_file_names_a_data_dir_and_a_reader() {
        let config = DeviceConfig::parse(
            "data_dir = \"/tmp/k\"\n[reader]\nkind = \"simulator\"\nsocket = \"/tmp/k/tap.sock\"\n",
        )
        .unwrap();
        assert_eq!(config.server_url, None);
        assert_eq!(config.feedback, FeedbackConfig::None);
    }

    #[test]
    fn mistakes_are_named() {
        let reader = "[reader]\nkind = \"simulator\"\nsocket = \"/tmp/s\"\n";
        let cases = [
            (format!("data_dir = \"/d\"\ncolour = 1\n{reader}"), "unknown field `colour`"),
            (format!("data_dir = \"/d\"\n[screen]\nrotation = 45\n{reader}"), "not 45"),
            ("data_dir = \"/d\"\n".to_owned(), "missing field `reader`"),
            (format!("data_dir = \"/d\"\nserver_url = \"ftp://x\"\n{reader}"), "not an http"),
            (format!("data_dir = \"/d\"\nserver_url = \"::\"\n{reader}"), "server_url"),
            (format!("data_dir = \"\"\n{reader}"), "data_dir is empty"),
            (
                format!("data_dir = \"/d\"\nserver_url = \"http://u:p@127.0.0.1:1/\"\n{reader}"),
                "no user, password",
            ),
        ];
        for (text, expected) in cases {
            let error = DeviceConfig::parse(&text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
