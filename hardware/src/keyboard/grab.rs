//! Grabbing an input device (`EVIOCGRAB`), so that its keystrokes reach only us.
//!
//! This is the one module of the crate that may use unsafe code: a single `ioctl` on a
//! file descriptor we own. The crates that wrap it safely (`evdev`, `input-linux`) bring
//! `nix` and bit-vector crates with them, which is more weight than one call warrants.
//! The grab ends by itself when the file is closed.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// `_IOW('E', 0x90, int)`: the same number on every Linux architecture we build for.
const EVIOCGRAB: u32 = 0x4004_4590;

/// Grabs `device` for this process alone.
pub(crate) fn grab(device: &File) -> io::Result<()> {
    let grab: libc::c_int = 1;
    // SAFETY: the descriptor is borrowed from a `File` that stays open for the whole call,
    // and EVIOCGRAB takes its argument by value (an int), so no memory is handed to the
    // kernel. Any failure (ENOTTY for a file that is no input device, EBUSY if someone
    // else holds the grab) is reported through errno and returned.
    let result = unsafe { libc::ioctl(device.as_raw_fd(), EVIOCGRAB as _, grab) };
    if result == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_no_input_device_cannot_be_grabbed() {
        let file = tempfile::tempfile().unwrap();
        let err = grab(&file).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
    }
}
