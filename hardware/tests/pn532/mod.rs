//! A PN532 on a pseudo-terminal, speaking the frames of its UART interface, for libnfc's
//! real `pn532_uart` driver to talk to.
//!
//! The driver opens the pty's slave through a symlink (`pn532_uart:<dir>/ttyPN532`); the
//! simulator answers on the master: an ACK frame for every command frame, then a response
//! frame with LEN/LCS and DCS checksums. It answers every command libnfc 1.8 sends a PN532
//! while opening, polling and closing (found by running it: see `COMMANDS_SEEN` in
//! `tests/nfc_pn532.rs`), records each command code, and records and refuses (with the PN532's
//! application-level error frame) any other.
//!
//! Like a real PN532, it reports a card's UID without the cascade tags of the
//! anticollision levels, with the ATQA and SAK of a typical card of that UID size.
//! "Unplugged" closes the pty and removes the symlink; "plugged in again" makes a new pty
//! and points the symlink at it, as udev re-creates `/dev/ttyUSB0`.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};

/// What the simulated PN532 knows and has seen.
#[derive(Debug, Default)]
struct State {
    /// The UID of the card on the reader.
    card: Option<Vec<u8>>,
    /// Every command code received, in order.
    commands: Vec<u8>,
    /// Command codes this simulator does not answer.
    unknown: Vec<u8>,
    /// InListPassiveTarget commands answered.
    polls: usize,
    /// Register values written.
    registers: std::collections::HashMap<u16, u8>,
    /// Whether it has stopped answering (a wedged PN532 on a port still there).
    mute: bool,
}

/// A simulated PN532 behind a stable path.
pub struct Pn532 {
    link: PathBuf,
    state: Arc<Mutex<State>>,
    running: Option<Running>,
}

/// The pty and the thread answering on it.
struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Pn532 {
    /// A PN532 plugged in at `dir/ttyPN532`.
    pub fn plug_in(dir: &Path) -> Self {
        let mut pn532 = Self { link: dir.join("ttyPN532"), state: Arc::default(), running: None };
        pn532.replug();
        pn532
    }

    /// What libnfc is told to open.
    pub fn connstring(&self) -> String {
        format!("pn532_uart:{}", self.link.display())
    }

    /// A card with `uid` is put on the reader (replacing any other).
    pub fn put_card(&self, uid: &[u8]) {
        self.state().card = Some(uid.to_vec());
    }

    /// The card is taken away.
    pub fn take_card(&self) {
        self.state().card = None;
    }

    /// The PN532 stops answering (or answers again), the port staying open.
    pub fn set_mute(&self, mute: bool) {
        self.state().mute = mute;
    }

    /// Every command code received so far.
    pub fn commands(&self) -> Vec<u8> {
        self.state().commands.clone()
    }

    /// Command codes received that the simulator does not know.
    pub fn unknown(&self) -> Vec<u8> {
        self.state().unknown.clone()
    }

    /// Waits until the driver has looked for a card `more` more times.
    pub fn wait_polls(&self, more: usize) {
        let target = self.state().polls + more;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.state().polls < target {
            assert!(Instant::now() < deadline, "the driver stopped polling");
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The reader is unplugged: the pty closes and its path goes away.
    pub fn unplug(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop.store(true, Ordering::Relaxed);
            let _ = running.thread.join();
        }
        let _ = std::fs::remove_file(&self.link);
    }

    /// The reader is plugged in (again): a new pty at the same path.
    pub fn replug(&mut self) {
        self.unplug();
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pty");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let slave_path = ptsname(&master, Vec::new()).expect("ptsname");
        let slave_path = PathBuf::from(slave_path.to_str().expect("a UTF-8 pty name"));

        // Hold the slave open ourselves, so the master never reads EIO between the
        // driver's opens, and make it raw so nothing is echoed back into the simulator.
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&slave_path)
            .expect("the pty's slave");
        let mut termios = tcgetattr(&slave).expect("tcgetattr");
        termios.make_raw();
        tcsetattr(&slave, OptionalActions::Now, &termios).expect("tcsetattr");
        std::os::unix::fs::symlink(&slave_path, &self.link).expect("the symlink");

        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::clone(&self.state);
        let master = File::from(master);
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || serve(master, slave, &state, &flag));
        self.running = Some(Running { stop, thread });
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Pn532 {
    fn drop(&mut self) {
        self.unplug();
    }
}

/// Answers frames on `master` until stopped; the files close when it returns.
fn serve(mut master: File, _slave: File, state: &Mutex<State>, stop: &AtomicBool) {
    let mut buffer = Vec::new();
    let mut chunk = [0; 512];
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(&master, PollFlags::IN)];
        let tick = Timespec { tv_sec: 0, tv_nsec: 20_000_000 };
        match poll(&mut fds, Some(&tick)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(e) => panic!("poll: {e}"),
        }
        let read = match master.read(&mut chunk) {
            Ok(read) => read,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("reading the pty: {e}"),
        };
        buffer.extend_from_slice(&chunk[..read]);

        while let Some(frame) = next_frame(&mut buffer) {
            let Frame::Command(data) = frame else {
                continue; // the driver's ACK (an abort) or garbage: nothing to answer
            };
            let reply = {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                if state.mute {
                    continue;
                }
                answer(&data, &mut state)
            };
            master.write_all(&ACK).expect("writing the pty");
            master.write_all(&reply).expect("writing the pty");
        }
    }
}

/// The ACK frame.
pub const ACK: [u8; 6] = [0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00];

/// The PN532's error frame for a command it cannot carry out.
pub const APPLICATION_ERROR: [u8; 8] = [0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00];

/// One frame from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An ACK (the host aborting a command).
    Ack,
    /// A NACK (the host asking for the last response again).
    Nack,
    /// A normal or extended frame: TFI and data, checksums verified.
    Command(Vec<u8>),
    /// A frame whose data checksum is wrong.
    Corrupt,
}

/// Takes the first whole frame out of `buffer`, skipping the wake-up preamble and any
/// noise before it; `None` when no whole frame has arrived yet.
pub fn next_frame(buffer: &mut Vec<u8>) -> Option<Frame> {
    loop {
        let Some(start) = buffer.windows(2).position(|w| w == [0x00, 0xFF]) else {
            // Keep a last 0x00: it may be the first half of a start code.
            let keep = usize::from(buffer.last() == Some(&0x00));
            buffer.drain(..buffer.len() - keep);
            return None;
        };
        buffer.drain(..start);
        if buffer.len() < 4 {
            return None;
        }
        let (len, lcs) = (buffer[2], buffer[3]);
        let (header, data_len) = match (len, lcs) {
            (0x00, 0xFF) => {
                buffer.drain(..4);
                return Some(Frame::Ack);
            }
            (0xFF, 0x00) => {
                buffer.drain(..4);
                return Some(Frame::Nack);
            }
            (0xFF, 0xFF) => {
                if buffer.len() < 7 {
                    return None;
                }
                let (m, l, lcs) = (buffer[4], buffer[5], buffer[6]);
                if m.wrapping_add(l).wrapping_add(lcs) != 0 {
                    buffer.drain(..2);
                    continue;
                }
                (7, usize::from(m) << 8 | usize::from(l))
            }
            (len, lcs) if len.wrapping_add(lcs) == 0 => (4, usize::from(len)),
            _ => {
                buffer.drain(..2); // not a frame header after all
                continue;
            }
        };
        if buffer.len() < header + data_len + 1 {
            return None;
        }
        let data = buffer[header..header + data_len].to_vec();
        let dcs = buffer[header + data_len];
        buffer.drain(..header + data_len + 1);
        let sum = data.iter().fold(dcs, |sum, b| sum.wrapping_add(*b));
        return Some(if sum == 0 { Frame::Command(data) } else { Frame::Corrupt });
    }
}

/// A normal frame carrying `data` (TFI first).
pub fn frame(data: &[u8]) -> Vec<u8> {
    let len = u8::try_from(data.len()).expect("a normal frame");
    let dcs = data.iter().fold(0u8, |sum, b| sum.wrapping_add(*b)).wrapping_neg();
    let mut out = vec![0x00, 0x00, 0xFF, len, len.wrapping_neg()];
    out.extend_from_slice(data);
    out.extend_from_slice(&[dcs, 0x00]);
    out
}

/// The response frame to one command frame (`data` = TFI, command code, parameters).
fn answer(data: &[u8], state: &mut State) -> Vec<u8> {
    let (&[0xD4, code], params) = data.split_at(2.min(data.len())) else {
        return APPLICATION_ERROR.to_vec();
    };
    state.commands.push(code);
    let mut out = vec![0xD5, code.wrapping_add(1)];
    match code {
        // Diagnose: libnfc's communication test expects its parameters echoed.
        0x00 => out.extend_from_slice(params),
        // GetFirmwareVersion: IC PN532, firmware 1.6, supports ISO 14443A, B and 18092.
        0x02 => out.extend_from_slice(&[0x32, 0x01, 0x06, 0x07]),
        // ReadRegister: one value per two-byte address.
        0x06 => {
            for address in params.chunks_exact(2) {
                let address = u16::from_be_bytes([address[0], address[1]]);
                out.push(state.registers.get(&address).copied().unwrap_or(0));
            }
        }
        // WriteRegister: address (two bytes) and value, repeated.
        0x08 => {
            for write in params.chunks_exact(3) {
                state.registers.insert(u16::from_be_bytes([write[0], write[1]]), write[2]);
            }
        }
        // SetParameters, SAMConfiguration, RFConfiguration: nothing to report.
        0x12 | 0x14 | 0x32 => {}
        // PowerDown, InDeselect, InRelease, InSelect: status OK.
        0x16 | 0x44 | 0x52 | 0x54 => out.push(0x00),
        // InListPassiveTarget, 106 kbps type A (BrTy 0x00).
        0x4A => {
            state.polls += 1;
            match (&state.card, params.get(1)) {
                (Some(uid), Some(0x00)) => {
                    out.extend_from_slice(&[0x01, 0x01]);
                    out.extend_from_slice(&target_data(uid));
                }
                _ => out.push(0x00),
            }
        }
        // InAutoPoll: type 0x10 (MIFARE) or 0x20 (passive 106 kbps type A), then the data.
        0x60 => {
            state.polls += 1;
            match &state.card {
                Some(uid) => {
                    let mut target = vec![0x01];
                    target.extend_from_slice(&target_data(uid));
                    let kind = if uid.len() == 4 { 0x10 } else { 0x20 };
                    out.extend_from_slice(&[0x01, kind, target.len() as u8]);
                    out.extend_from_slice(&target);
                }
                None => out.push(0x00),
            }
        }
        unknown => {
            state.unknown.push(unknown);
            return APPLICATION_ERROR.to_vec();
        }
    }
    frame(&out)
}

/// SENS_RES (ATQA), SEL_RES (SAK), NFCID1 length and NFCID1 as a PN532 reports them for a
/// card with `uid`: the UID whole, with no cascade tag.
fn target_data(uid: &[u8]) -> Vec<u8> {
    let (atqa, sak) = match uid.len() {
        4 => ([0x00, 0x04], 0x08), // MIFARE Classic 1K
        7 => ([0x00, 0x44], 0x00), // MIFARE Ultralight / NTAG: double size
        _ => ([0x00, 0x84], 0x00), // triple size
    };
    let mut data = atqa.to_vec();
    data.push(sak);
    data.push(uid.len() as u8);
    data.extend_from_slice(uid);
    data
}

#[test]
fn frames_are_parsed_after_the_wake_up_preamble_and_checked() {
    // libnfc's wake-up: 0x55 0x55 and zeros, then a SAMConfiguration frame.
    let sam = frame(&[0xD4, 0x14, 0x01]);
    let mut buffer = vec![0x55, 0x55, 0, 0, 0, 0, 0, 0];
    buffer.extend_from_slice(&sam);
    buffer.extend_from_slice(&ACK);
    assert_eq!(next_frame(&mut buffer), Some(Frame::Command(vec![0xD4, 0x14, 0x01])));
    assert_eq!(next_frame(&mut buffer), Some(Frame::Ack));
    assert_eq!(next_frame(&mut buffer), None);

    let mut corrupt = frame(&[0xD4, 0x02]);
    corrupt[6] ^= 1;
    assert_eq!(next_frame(&mut corrupt), Some(Frame::Corrupt));

    let mut half = frame(&[0xD4, 0x02]);
    let rest = half.split_off(4);
    assert_eq!(next_frame(&mut half), None);
    half.extend_from_slice(&rest);
    assert_eq!(next_frame(&mut half), Some(Frame::Command(vec![0xD4, 0x02])));
}

#[test]
fn responses_carry_checksums_and_uids_without_cascade_tags() {
    assert_eq!(
        frame(&[0xD5, 0x03, 0x32, 0x01, 0x06, 0x07]),
        [0x00, 0x00, 0xFF, 0x06, 0xFA, 0xD5, 0x03, 0x32, 0x01, 0x06, 0x07, 0xE8, 0x00]
    );
    let mut state = State { card: Some(vec![4, 1, 2, 3, 4, 5, 6]), ..State::default() };
    let reply = answer(&[0xD4, 0x4A, 0x01, 0x00], &mut state);
    assert_eq!(
        reply[5..reply.len() - 2],
        [0xD5, 0x4B, 0x01, 0x01, 0x00, 0x44, 0x00, 0x07, 4, 1, 2, 3, 4, 5, 6]
    );
    assert_eq!(answer(&[0xD4, 0x70], &mut state), APPLICATION_ERROR);
    assert_eq!(state.unknown, [0x70]);
}
