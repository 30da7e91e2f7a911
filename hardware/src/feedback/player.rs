//! Plays patterns on a pair of output lines on a thread of its own.

use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};
use std::thread;

use super::{FeedbackDevice, Outcome};

/// Signals waiting to be played; more are dropped rather than blocking a tap.
const QUEUE: usize = 4;

/// A buzzer line and an LED line that can be switched.
pub trait Lines: Send + 'static {
    /// Switches the buzzer and the LED (a missing one is left out).
    fn set(&mut self, buzzer: bool, led: bool) -> Result<(), String>;
}

/// Plays each signalled outcome's pattern on `Lines`, on its own thread.
pub struct Player {
    signals: mpsc::SyncSender<Outcome>,
}

impl Player {
    /// Starts the thread; everything is switched off until the first signal.
    pub fn start(lines: impl Lines, name: &str) -> std::io::Result<Self> {
        let (signals, queued) = mpsc::sync_channel(QUEUE);
        thread::Builder::new().name(name.into()).spawn(move || play(lines, &queued))?;
        Ok(Self { signals })
    }
}

impl FeedbackDevice for Player {
    fn signal(&mut self, outcome: Outcome) {
        match self.signals.try_send(outcome) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => tracing::debug!(?outcome, "feedback queue full"),
            Err(TrySendError::Disconnected(_)) => tracing::debug!(?outcome, "feedback stopped"),
        }
    }
}

/// The thread's work: play outcomes until the player is dropped, then switch off.
fn play(mut lines: impl Lines, queued: &mpsc::Receiver<Outcome>) {
    let mut warned = false;
    let mut set = |lines: &mut dyn Lines, buzzer, led| {
        if let Err(e) = lines.set(buzzer, led)
            && !std::mem::replace(&mut warned, true)
        {
            tracing::warn!(error = %e, "feedback lines cannot be set; taps go on without");
        }
    };

    set(&mut lines, false, false);
    let mut next = queued.recv().ok();
    while let Some(outcome) = next.take() {
        for step in outcome.pattern().steps() {
            set(&mut lines, step.buzzer, step.led);
            match queued.recv_timeout(step.duration) {
                Err(RecvTimeoutError::Timeout) => {}
                // A newer outcome cuts this one short.
                Ok(newer) => {
                    next = Some(newer);
                    break;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        set(&mut lines, false, false);
        if next.is_none() {
            next = queued.recv().ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use super::*;

    /// Lines that log every switch with the time since start, and may fail.
    #[derive(Clone)]
    struct Fake {
        log: Arc<Mutex<Vec<(bool, bool, Duration)>>>,
        start: Instant,
        fail: bool,
    }

    impl Fake {
        fn new(fail: bool) -> Self {
            Self { log: Arc::default(), start: Instant::now(), fail }
        }

        fn states(&self) -> Vec<(bool, bool)> {
            self.log.lock().unwrap().iter().map(|(b, l, _)| (*b, *l)).collect()
        }
    }

    impl Lines for Fake {
        fn set(&mut self, buzzer: bool, led: bool) -> Result<(), String> {
            self.log.lock().unwrap().push((buzzer, led, self.start.elapsed()));
            if self.fail { Err("EBUSY".into()) } else { Ok(()) }
        }
    }

    fn wait_until(fake: &Fake, switches: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while fake.log.lock().unwrap().len() < switches {
            assert!(Instant::now() < deadline, "only {:?}", fake.states());
            thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_pattern_plays_step_by_step_and_ends_switched_off_without_delaying_the_caller() {
        let fake = Fake::new(false);
        let mut player = Player::start(fake.clone(), "test-feedback").unwrap();
        let asked = Instant::now();
        player.signal(Outcome::CheckedOut);
        assert!(asked.elapsed() < Duration::from_millis(50), "signal returns at once");

        wait_until(&fake, 6);
        assert_eq!(
            fake.states(),
            [
                (false, false),
                (true, true),
                (false, true),
                (true, true),
                (false, true),
                (false, false)
            ]
        );
        let log = fake.log.lock().unwrap().clone();
        let second_beep = log[3].2 - log[1].2;
        assert!(second_beep >= Duration::from_millis(200), "{second_beep:?}");
    }

    #[test]
    fn a_newer_outcome_cuts_the_pattern_playing_short() {
        let fake = Fake::new(false);
        let mut player = Player::start(fake.clone(), "test-feedback").unwrap();
        player.signal(Outcome::Refused);
        wait_until(&fake, 2);
        player.signal(Outcome::CheckedIn);
        wait_until(&fake, 6);
        let log = fake.log.lock().unwrap().clone();
        // Off, the long beep, off, then the check-in's beep well before the long one ends.
        assert_eq!(
            fake.states()[..5],
            [(false, false), (true, true), (false, false), (true, true), (false, true)]
        );
        assert!(log[3].2 - log[1].2 < Duration::from_millis(500), "{log:?}");
    }

    #[test]
    fn failing_lines_do_not_stop_the_player() {
        let fake = Fake::new(true);
        let mut player = Player::start(fake.clone(), "test-feedback").unwrap();
        player.signal(Outcome::CheckedIn);
        wait_until(&fake, 4);
        assert_eq!(fake.states(), [(false, false), (true, true), (false, true), (false, false)]);
        drop(player);
    }
}
