//! The server's TOML configuration file, read and resolved as `serve --config` does.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `serve` reads the file as UTF-8 text and refuses anything else before parsing.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mtime_server::cli::check_config(text);
    }
});
