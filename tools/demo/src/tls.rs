//! A certificate made for loopback, which the demo's kiosks trust.

use std::fs;
use std::path::{Path, PathBuf};

/// Writes a self-signed certificate for 127.0.0.1 and localhost into `dir`; returns the
/// certificate's and the key's paths.
pub fn loopback_certificate(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)?;
    let cert = dir.join("server-cert.pem");
    let key = dir.join("server-key.pem");
    fs::write(&cert, certified.cert.pem())?;
    fs::write(&key, certified.signing_key.serialize_pem())?;
    Ok((cert, key))
}
