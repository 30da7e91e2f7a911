//! A kiosk's TOML configuration file, read and checked as `mtime-kiosk ui --config` does.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The kiosk reads the file as UTF-8 text and refuses anything else before parsing.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mtime_hardware::device_file::DeviceConfig::parse(text);
    }
});
