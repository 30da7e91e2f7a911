//! What the screen shows, for how long, and what a touch does.
//!
//! [`KioskUi`] lives on the UI thread. Everything from elsewhere (the badge reader's
//! thread, the sync loop, a pairing attempt) arrives as a [`UiInput`] through [`Inputs`],
//! which also wakes the UI thread; [`KioskUi::pump`] takes them in. Time moves through
//! [`KioskUi::tick`], driven by a timer on the device and by hand in tests, against the
//! kiosk's [`Clock`] so that tests decide when a screen times out.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use zeroize::Zeroizing;

use mtime_core::clock::Clock;
use mtime_core::event::{Direction, ReasonCode};
use mtime_core::pin::Pin;
use mtime_hardware::feedback::{FeedbackDevice, Outcome};
use mtime_hardware::{ReaderEvent, Tap};
use mtime_sync::engine::SyncEvent;

use super::{DiagnosticItem, KioskState, KioskWindow, PresentItem, ReasonItem, Screen};
use crate::controller::{CHANGE_WINDOW, Change, Feedback};
use crate::node::Node;

/// How long a screen that only tells something stays before idle comes back.
pub const NOTICE: Duration = Duration::from_secs(5);
/// How long an interactive screen (PIN pad, evacuation list, admin) waits for a touch.
pub const IDLE_AFTER: Duration = Duration::from_secs(60);
/// The languages the kiosk's screens are translated to.
pub const LANGUAGES: [&str; 2] = ["en", "nb"];

/// Something for the UI thread from another thread.
pub enum UiInput {
    /// From the badge reader.
    Reader(ReaderEvent),
    /// From the sync loop.
    Sync(SyncEvent),
    /// A pairing attempt ended: the node started, or why not.
    Paired(Result<Arc<Node>, String>),
}

/// Where other threads send [`UiInput`]s; cloneable and `Send`.
#[derive(Clone)]
pub struct Inputs {
    tx: mpsc::Sender<UiInput>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Inputs {
    /// Hands `input` to the UI thread and wakes it.
    pub fn send(&self, input: UiInput) {
        if self.tx.send(input).is_ok() {
            (self.wake)();
        }
    }
}

/// A pairing request from the admin screen: the server's address and the one-time code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairRequest {
    /// The server's base URL.
    pub server: String,
    /// The enrollment code, as typed.
    pub code: String,
}

/// What the UI needs from the device.
pub struct Device {
    /// The kiosk's clock.
    pub clock: Arc<dyn Clock>,
    /// Starts pairing in the background; the result comes back as [`UiInput::Paired`].
    pub pair: Box<dyn Fn(PairRequest, Inputs)>,
    /// Beeps and lights.
    pub feedback: Box<dyn FeedbackDevice>,
    /// The software version, for diagnostics.
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PinPurpose {
    Punch,
    Admin,
}

/// Why a PIN was refused, as the view numbers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum PinRefusal {
    #[default]
    None = 0,
    Wrong = 1,
    Locked = 2,
    Shape = 3,
}

#[derive(Default)]
struct PinEntry {
    number: String,
    digits: Zeroizing<String>,
    entering_number: bool,
    refusal: PinRefusal,
    tries_left: u32,
}

impl PinEntry {
    fn refused(&mut self, tries_left: u32) {
        self.refusal = if tries_left == 0 { PinRefusal::Locked } else { PinRefusal::Wrong };
        self.tries_left = tries_left;
    }
}

/// Where pairing stands, as the view numbers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum PairStatus {
    #[default]
    Nothing = 0,
    Pairing = 1,
    Incomplete = 2,
    Failed = 3,
}

#[derive(Default)]
struct PairForm {
    server: String,
    code: String,
    field: i32,
    status: PairStatus,
    error: String,
}

#[derive(Default)]
struct TapView {
    name: String,
    checked_in: bool,
    time: String,
    reason: Option<ReasonCode>,
    missing_check_out: bool,
    amended: bool,
    /// Monotonic time the change window ends.
    change_until: Duration,
}

struct Inner {
    device: Device,
    node: Option<Arc<Node>>,
    screen: Screen,
    /// Monotonic time the current screen gives way to idle.
    until: Option<Duration>,
    reader_error: Option<String>,
    online: Option<bool>,
    last_sync: Option<DateTime<Utc>>,
    storage_error: Option<String>,
    tap: TapView,
    repeat: (bool, String),
    pin: PinEntry,
    pin_purpose: PinPurpose,
    pair: PairForm,
    language: String,
    /// A language the admin picked on this kiosk; the server's policy applies otherwise.
    language_override: Option<String>,
    admin: bool,
}

/// The kiosk's UI: the window and its state machine.
pub struct KioskUi {
    window: KioskWindow,
    inner: Rc<RefCell<Inner>>,
    rx: Rc<mpsc::Receiver<UiInput>>,
    inputs: Inputs,
}

impl KioskUi {
    /// The UI over `window`; `wake` is called from any thread when an input is waiting.
    pub fn new(window: KioskWindow, device: Device, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        let (tx, rx) = mpsc::channel();
        let inner = Inner {
            device,
            node: None,
            screen: Screen::Pairing,
            until: None,
            reader_error: None,
            online: None,
            last_sync: None,
            storage_error: None,
            tap: TapView::default(),
            repeat: (true, String::new()),
            pin: PinEntry::default(),
            pin_purpose: PinPurpose::Punch,
            pair: PairForm { server: "https://".to_owned(), ..PairForm::default() },
            // Empty, so the first language set is selected even when it is English: Slint
            // would otherwise follow the machine's locale.
            language: String::new(),
            language_override: None,
            admin: true,
        };
        let ui = Self {
            window,
            inner: Rc::new(RefCell::new(inner)),
            rx: Rc::new(rx),
            inputs: Inputs { tx, wake },
        };
        ui.connect();
        ui.inner.borrow_mut().set_language("en");
        ui.refresh();
        ui
    }

    /// Another handle on the same UI (the window and its state are shared).
    pub fn clone_handle(&self) -> KioskUi {
        KioskUi {
            window: self.window.clone_strong(),
            inner: self.inner.clone(),
            rx: self.rx.clone(),
            inputs: self.inputs.clone(),
        }
    }

    /// Fills the pairing screen's server field with `url`, the device file's choice.
    pub fn offer_server(&self, url: &str) {
        self.inner.borrow_mut().pair.server = url.to_owned();
        self.refresh();
    }

    /// Where other threads send their inputs.
    pub fn inputs(&self) -> Inputs {
        self.inputs.clone()
    }

    /// The window.
    pub fn window(&self) -> &KioskWindow {
        &self.window
    }

    /// Runs the kiosk with `node`, already enrolled: idle comes up.
    pub fn set_node(&self, node: Arc<Node>) {
        {
            let mut inner = self.inner.borrow_mut();
            inner.node = Some(node);
            inner.admin = false;
            inner.go(Screen::Idle, None);
        }
        self.apply_policy();
        self.refresh();
    }

    /// Takes in everything other threads sent.
    pub fn pump(&self) {
        while let Ok(input) = self.rx.try_recv() {
            match input {
                UiInput::Reader(event) => self.reader(event),
                UiInput::Sync(event) => self.sync(event),
                UiInput::Paired(Ok(node)) => {
                    let mut inner = self.inner.borrow_mut();
                    inner.pair.status = PairStatus::Nothing;
                    inner.pair.code.clear();
                    drop(inner);
                    self.set_node(node);
                }
                UiInput::Paired(Err(error)) => {
                    let mut inner = self.inner.borrow_mut();
                    inner.pair.status = PairStatus::Failed;
                    inner.pair.error = error;
                }
            }
        }
        self.refresh();
    }

    /// Moves time on: the clock, the countdown, screens that time out.
    pub fn tick(&self) {
        {
            let mut inner = self.inner.borrow_mut();
            let now = inner.device.clock.now().monotonic;
            let busy_pairing = inner.pair.status == PairStatus::Pairing;
            if inner.until.is_some_and(|until| now >= until) && !busy_pairing {
                inner.pin = PinEntry::default();
                inner.admin = inner.node.is_none();
                let home = inner.home();
                inner.go(home, None);
            }
        }
        self.refresh();
    }

    fn reader(&self, event: ReaderEvent) {
        match event {
            ReaderEvent::Tap(tap) => {
                self.inner.borrow_mut().reader_error = None;
                self.tap(tap);
            }
            ReaderEvent::Error(e) => {
                tracing::warn!(error = %e, "badge reader");
                let mut inner = self.inner.borrow_mut();
                inner.reader_error = Some(e.to_string());
                if inner.screen == Screen::Idle {
                    inner.go(Screen::ReaderLost, None);
                }
            }
            ReaderEvent::Ready => {
                let mut inner = self.inner.borrow_mut();
                inner.reader_error = None;
                if inner.screen == Screen::ReaderLost {
                    inner.go(Screen::Idle, None);
                }
            }
            ReaderEvent::Ended => {
                let mut inner = self.inner.borrow_mut();
                inner.reader_error = Some("the badge reader stopped".to_owned());
                if inner.screen == Screen::Idle {
                    inner.go(Screen::ReaderLost, None);
                }
            }
        }
    }

    fn tap(&self, tap: Tap) {
        let mut inner = self.inner.borrow_mut();
        let Some(node) = inner.node.clone() else { return };

        // On the admin unlock screen an admin's badge opens admin mode instead of punching.
        if inner.screen == Screen::AdminUnlock {
            let admin =
                node.controller.lock().unwrap_or_else(|e| e.into_inner()).is_admin_badge(&tap.uid);
            if admin {
                inner.admin = true;
                inner.go_interactive(Screen::Admin);
                return;
            }
        }
        let feedback = node.tap(tap);
        inner.show(feedback);
    }

    fn sync(&self, event: SyncEvent) {
        match event {
            SyncEvent::Uploaded { .. } | SyncEvent::ClockAnchored(_) => {
                let mut inner = self.inner.borrow_mut();
                inner.online = Some(true);
                inner.last_sync = Some(inner.device.clock.now().wall);
            }
            SyncEvent::Failed { .. } => self.inner.borrow_mut().online = Some(false),
            SyncEvent::RosterUpdated(_) => {
                // The node has given the controller the roster; the screen follows it.
                self.inner.borrow_mut().online = Some(true);
                self.apply_policy();
            }
            SyncEvent::Halted { .. } | SyncEvent::KeyRotated => {}
        }
    }

    /// Applies what the server's policy says about the screen: language and PIN entry.
    fn apply_policy(&self) {
        let mut inner = self.inner.borrow_mut();
        let Some(node) = inner.node.clone() else { return };
        let language = node
            .controller
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .roster()
            .config
            .language
            .clone();
        let wanted = inner.language_override.clone().unwrap_or(language);
        inner.set_language(&wanted);
    }

    /// Wires every callback of the views to the state machine.
    fn connect(&self) {
        let state = self.window.global::<KioskState>();

        let on = |f: fn(&KioskUi)| {
            let ui = self.weak();
            move || {
                if let Some(ui) = ui.upgrade() {
                    f(&ui);
                    ui.refresh();
                }
            }
        };
        let on_text = |f: fn(&KioskUi, SharedString)| {
            let ui = self.weak();
            move |text: SharedString| {
                if let Some(ui) = ui.upgrade() {
                    f(&ui, text);
                    ui.refresh();
                }
            }
        };

        state.on_switch_direction(on(|ui| ui.amend(Change::SwitchDirection)));
        state.on_pick_reason(on_text(|ui, code| match code.parse::<ReasonCode>() {
            Ok(code) => ui.amend(Change::Reason(code)),
            Err(e) => tracing::warn!(error = %e, "reason from the screen refused"),
        }));
        state.on_undo(on(|ui| ui.amend(Change::Undo)));
        state.on_done(on(|ui| ui.inner.borrow_mut().go(Screen::Idle, None)));
        state.on_show_who_is_in(on(|ui| ui.inner.borrow_mut().go_interactive(Screen::WhoIsIn)));
        state.on_start_pin(on(|ui| ui.start_pin(PinPurpose::Punch)));
        state.on_start_admin(on(|ui| ui.start_admin()));
        state.on_back(on(|ui| ui.back()));
        state.on_pin_digit(on_text(|ui, digit| ui.pin_digit(&digit)));
        state.on_pin_erase(on(|ui| ui.pin_erase()));
        state.on_pin_enter(on(|ui| ui.pin_enter()));
        state.on_show_pairing(on(|ui| ui.admin_screen(Screen::Pairing)));
        state.on_show_diagnostics(on(|ui| ui.admin_screen(Screen::Diagnostics)));
        state.on_pick_language(on_text(|ui, language| {
            let mut inner = ui.inner.borrow_mut();
            if inner.admin {
                inner.language_override = Some(language.to_string());
                inner.set_language(&language);
                inner.touched();
            }
        }));
        let ui = self.weak();
        state.on_pair_field_selected(move |field| {
            if let Some(ui) = ui.upgrade() {
                ui.inner.borrow_mut().pair.field = field;
                ui.refresh();
            }
        });
        state.on_pair_key(on_text(|ui, key| ui.pair_edit(|text| text.push_str(&key))));
        state.on_pair_erase(on(|ui| {
            ui.pair_edit(|text| {
                text.pop();
            })
        }));
        state.on_pair_submit(on(|ui| ui.pair_submit()));
    }

    fn weak(&self) -> WeakUi {
        WeakUi {
            window: self.window.as_weak(),
            inner: Rc::downgrade(&self.inner),
            rx: Rc::downgrade(&self.rx),
            inputs: self.inputs.clone(),
        }
    }

    fn amend(&self, change: Change) {
        let mut inner = self.inner.borrow_mut();
        let Some(node) = inner.node.clone() else { return };
        if inner.screen != Screen::Recorded {
            return;
        }
        let feedback = node.controller.lock().unwrap_or_else(|e| e.into_inner()).amend(change);
        node.after(&feedback);
        inner.show(feedback);
    }

    fn back(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.pin = PinEntry::default();
        let target = match inner.screen {
            Screen::Pairing | Screen::Diagnostics if inner.admin => Screen::Admin,
            _ => {
                inner.admin = inner.node.is_none();
                inner.home()
            }
        };
        if target == Screen::Admin {
            inner.go_interactive(Screen::Admin);
        } else {
            inner.go(target, None);
        }
    }

    fn start_pin(&self, purpose: PinPurpose) {
        let mut inner = self.inner.borrow_mut();
        inner.pin = PinEntry { entering_number: true, ..PinEntry::default() };
        inner.pin_purpose = purpose;
        let screen = if purpose == PinPurpose::Admin { Screen::AdminUnlock } else { Screen::Pin };
        inner.go_interactive(screen);
    }

    fn start_admin(&self) {
        let open = {
            let inner = self.inner.borrow();
            // A kiosk nobody administers yet (not paired, or no admin in its roster) opens
            // admin mode to anyone at the screen: pairing needs a one-time code anyway.
            match &inner.node {
                None => true,
                Some(node) => !node
                    .controller
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .roster()
                    .employees
                    .iter()
                    .any(|e| e.kiosk_admin),
            }
        };
        if open {
            let mut inner = self.inner.borrow_mut();
            inner.admin = true;
            inner.go_interactive(Screen::Admin);
        } else {
            self.start_pin(PinPurpose::Admin);
        }
    }

    fn admin_screen(&self, screen: Screen) {
        let mut inner = self.inner.borrow_mut();
        if inner.admin {
            inner.go_interactive(screen);
        }
    }

    fn pin_digit(&self, digit: &str) {
        let mut inner = self.inner.borrow_mut();
        inner.touched();
        let pin = &mut inner.pin;
        pin.refusal = PinRefusal::None;
        if pin.entering_number {
            if pin.number.len() < 16 {
                pin.number.push_str(digit);
            }
        } else if pin.digits.len() < mtime_core::pin::MAX_DIGITS {
            pin.digits.push_str(digit);
        }
    }

    fn pin_erase(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.touched();
        let pin = &mut inner.pin;
        if pin.entering_number {
            pin.number.pop();
        } else if pin.digits.pop().is_none() {
            pin.entering_number = true;
        }
    }

    fn pin_enter(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.touched();
        if inner.pin.entering_number {
            if !inner.pin.number.is_empty() {
                inner.pin.entering_number = false;
            }
            return;
        }
        let Some(node) = inner.node.clone() else { return };
        let Ok(pin) = inner.pin.digits.parse::<Pin>() else {
            inner.pin.refusal = PinRefusal::Shape;
            return;
        };
        let number = inner.pin.number.clone();
        inner.pin = PinEntry { entering_number: true, ..PinEntry::default() };

        let mut controller = node.controller.lock().unwrap_or_else(|e| e.into_inner());
        match inner.pin_purpose {
            PinPurpose::Punch => {
                let feedback = controller.tap_with_pin(&number, &pin);
                drop(controller);
                node.after(&feedback);
                inner.show(feedback);
            }
            PinPurpose::Admin => match controller.admin_by_pin(&number, &pin) {
                Ok(name) => {
                    tracing::info!(admin = %name, "admin mode opened by PIN");
                    inner.admin = true;
                    inner.go_interactive(Screen::Admin);
                }
                Err(tries_left) => inner.pin.refused(tries_left),
            },
        }
    }

    fn pair_edit(&self, edit: impl FnOnce(&mut String)) {
        let mut inner = self.inner.borrow_mut();
        if inner.pair.status == PairStatus::Pairing {
            return;
        }
        inner.touched();
        let form = &mut inner.pair;
        let text = if form.field == 0 { &mut form.server } else { &mut form.code };
        edit(text);
        form.status = PairStatus::Nothing;
    }

    fn pair_submit(&self) {
        let mut inner = self.inner.borrow_mut();
        if inner.pair.status == PairStatus::Pairing || !inner.admin {
            return;
        }
        let server = inner.pair.server.trim().to_owned();
        let code = inner.pair.code.trim().to_uppercase();
        if !url_ok(&server) || code.is_empty() {
            inner.pair.status = PairStatus::Incomplete;
            return;
        }
        inner.pair.status = PairStatus::Pairing;
        inner.until = None;
        let request = PairRequest { server, code };
        (inner.device.pair)(request, self.inputs.clone());
    }

    /// Writes the state machine into the views.
    fn refresh(&self) {
        let inner = self.inner.borrow();
        let state = self.window.global::<KioskState>();
        let now = inner.device.clock.now();

        let controller =
            inner.node.as_ref().map(|n| n.controller.lock().unwrap_or_else(|e| e.into_inner()));
        let status = inner.node.as_ref().map(|n| n.outbox.status());
        let (local_now, site_name) = match &controller {
            Some(c) => (Some(c.now_local()), c.roster().site.name.clone()),
            None => (None, String::new()),
        };
        let pending = status.as_ref().map_or(0, |s| s.pending);
        state.set_screen(inner.screen);
        state.set_site_name(site_name.into());
        state
            .set_clock(local_now.map(|t| t.format("%H:%M").to_string()).unwrap_or_default().into());
        state.set_date(
            local_now.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default().into(),
        );
        state.set_online(inner.online.unwrap_or(false));
        state.set_pending(i32::try_from(pending).unwrap_or(i32::MAX));
        state.set_queue_filling(status.as_ref().is_some_and(|s| s.capacity_state.is_warning()));

        let tap = &inner.tap;
        state.set_employee_name(tap.name.clone().into());
        state.set_checked_in(tap.checked_in);
        state.set_action_time(tap.time.clone().into());
        state.set_missing_check_out(tap.missing_check_out);
        state.set_amended(tap.amended);
        let left = tap.change_until.saturating_sub(now.monotonic).as_secs_f64().ceil();
        state.set_seconds_left(left as i32);
        let reasons: Vec<ReasonItem> = controller
            .as_ref()
            .map(|c| {
                c.roster()
                    .reasons
                    .iter()
                    .map(|r| ReasonItem {
                        code: r.code.to_string().into(),
                        label: r.name.clone().into(),
                        selected: tap.reason.as_ref() == Some(&r.code),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let reason_label = reasons.iter().find(|r| r.selected).map(|r| r.label.clone());
        state.set_reason_label(reason_label.unwrap_or_default());
        state.set_reasons(ModelRc::new(VecModel::from(reasons)));
        state.set_repeat_in(inner.repeat.0);
        state.set_repeat_time(inner.repeat.1.clone().into());
        state.set_detail(
            inner.storage_error.clone().or(inner.reader_error.clone()).unwrap_or_default().into(),
        );

        // The lists are made only while shown: refresh runs four times a second, and the
        // evacuation list walks the whole roster.
        if inner.screen == Screen::WhoIsIn {
            let present: Vec<PresentItem> = controller
                .as_ref()
                .map(|c| {
                    c.present()
                        .into_iter()
                        .map(|p| PresentItem {
                            name: p.name.into(),
                            number: p.number.into(),
                            since: p.since.format("%H:%M").to_string().into(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            state.set_present(ModelRc::new(VecModel::from(present)));
            state.set_present_as_of(
                local_now.map(|t| t.format("%H:%M").to_string()).unwrap_or_default().into(),
            );
        }

        let pin_allowed = controller.as_ref().is_some_and(|c| c.roster().config.pin_fallback);
        state.set_pin_allowed(pin_allowed);
        state.set_pin_number(inner.pin.number.clone().into());
        state.set_pin_mask("●".repeat(inner.pin.digits.len()).into());
        state.set_pin_entering_number(inner.pin.entering_number);
        state.set_pin_refusal(inner.pin.refusal as i32);
        state.set_pin_tries_left(i32::try_from(inner.pin.tries_left).unwrap_or(0));

        state.set_pair_url(inner.pair.server.clone().into());
        state.set_pair_code(inner.pair.code.clone().into());
        state.set_pair_field(inner.pair.field);
        state.set_pair_status(inner.pair.status as i32);
        state.set_pair_error(inner.pair.error.clone().into());
        state.set_paired(inner.node.is_some());
        state.set_languages(ModelRc::new(VecModel::from(
            LANGUAGES.iter().map(|l| SharedString::from(*l)).collect::<Vec<_>>(),
        )));
        state.set_language(inner.language.clone().into());

        if inner.screen == Screen::Diagnostics {
            let diagnostics = inner.diagnostics(controller.as_deref(), now.wall_trusted);
            state.set_diagnostics(ModelRc::new(VecModel::from(diagnostics)));
        }
    }
}

/// A handle the views' callbacks hold, so the window does not keep itself alive.
struct WeakUi {
    window: slint::Weak<KioskWindow>,
    inner: std::rc::Weak<RefCell<Inner>>,
    rx: std::rc::Weak<mpsc::Receiver<UiInput>>,
    inputs: Inputs,
}

impl WeakUi {
    fn upgrade(&self) -> Option<KioskUi> {
        Some(KioskUi {
            window: self.window.upgrade()?,
            inner: self.inner.upgrade()?,
            rx: self.rx.upgrade()?,
            inputs: self.inputs.clone(),
        })
    }
}

impl Inner {
    /// The screen to come back to: idle, or why idle cannot be.
    fn home(&self) -> Screen {
        if self.node.is_none() {
            Screen::Pairing
        } else if self.reader_error.is_some() {
            Screen::ReaderLost
        } else {
            Screen::Idle
        }
    }

    fn go(&mut self, screen: Screen, for_how_long: Option<Duration>) {
        let screen = if screen == Screen::Idle { self.home() } else { screen };
        self.screen = screen;
        self.until = for_how_long.map(|d| self.device.clock.now().monotonic + d);
    }

    fn go_interactive(&mut self, screen: Screen) {
        self.go(screen, Some(IDLE_AFTER));
    }

    /// A touch on an interactive screen keeps it up.
    fn touched(&mut self) {
        if self.until.is_some() && self.screen != Screen::Recorded {
            self.until = Some(self.device.clock.now().monotonic + IDLE_AFTER);
        }
    }

    fn set_language(&mut self, language: &str) {
        let primary = language.split(['-', '_']).next().unwrap_or("en").to_ascii_lowercase();
        let chosen = if LANGUAGES.contains(&primary.as_str()) { primary } else { "en".to_owned() };
        if chosen != self.language {
            if let Err(e) = slint::select_bundled_translation(&chosen) {
                tracing::warn!(language = %chosen, error = %e, "language not available");
                return;
            }
            self.language = chosen;
        }
    }

    /// Shows what the controller said, and signals it.
    fn show(&mut self, feedback: Feedback) {
        let now = self.device.clock.now().monotonic;
        let signal = match &feedback {
            Feedback::Recorded { name, direction, at, reason, missing_check_out, .. } => {
                self.storage_error = None;
                self.tap = TapView {
                    name: name.clone(),
                    checked_in: *direction == Direction::In,
                    time: at.format("%H:%M").to_string(),
                    reason: reason.parse().ok(),
                    missing_check_out: *missing_check_out,
                    amended: false,
                    change_until: now + CHANGE_WINDOW,
                };
                self.go(Screen::Recorded, Some(CHANGE_WINDOW));
                direction_signal(*direction)
            }
            Feedback::Amended { direction, reason, .. } => {
                self.tap.checked_in = *direction == Direction::In;
                self.tap.reason = reason.parse().ok();
                self.tap.amended = true;
                self.tap.change_until = now + CHANGE_WINDOW;
                self.go(Screen::Recorded, Some(CHANGE_WINDOW));
                direction_signal(*direction)
            }
            Feedback::Withdrawn { .. } => {
                self.tap = TapView::default();
                self.go(Screen::Idle, None);
                Outcome::Repeated
            }
            Feedback::NothingToAmend => return,
            Feedback::Repeat { direction, since, .. } => {
                self.repeat = (*direction == Direction::In, since.format("%H:%M").to_string());
                self.go(Screen::Repeat, Some(NOTICE));
                Outcome::Repeated
            }
            Feedback::UnknownBadge { .. } => {
                self.go(Screen::UnknownBadge, Some(NOTICE));
                Outcome::Refused
            }
            Feedback::Suspended { .. } => {
                self.go(Screen::Suspended, Some(NOTICE));
                Outcome::Refused
            }
            Feedback::OutOfService { .. } => {
                self.go(Screen::OutOfService, Some(NOTICE));
                Outcome::Refused
            }
            Feedback::StorageFailed { error } => {
                tracing::error!(error = %error, "tap not stored");
                self.storage_error = Some(error.clone());
                self.go(Screen::StorageFailed, Some(NOTICE));
                Outcome::Refused
            }
            Feedback::StorageFull { error } => {
                tracing::error!(error = %error, "tap not stored: the disk is full");
                self.storage_error = Some(error.clone());
                self.go(Screen::StorageFull, Some(NOTICE));
                Outcome::Refused
            }
            Feedback::PinRefused { tries_left } => {
                self.pin.refused(*tries_left);
                self.go_interactive(Screen::Pin);
                Outcome::Refused
            }
        };
        self.device.feedback.signal(signal);
    }

    fn diagnostics(
        &self,
        controller: Option<&crate::controller::Controller>,
        clock_trusted: bool,
    ) -> Vec<DiagnosticItem> {
        let item = |key: &str, value: String, ok: bool| DiagnosticItem {
            key: key.into(),
            value: value.into(),
            ok,
        };
        let mut items = vec![
            item(
                "reader",
                self.reader_error.clone().unwrap_or_default(),
                self.reader_error.is_none(),
            ),
            item(
                "storage",
                self.storage_error.clone().unwrap_or_default(),
                self.storage_error.is_none(),
            ),
            item("clock", String::new(), clock_trusted),
            item(
                "last-sync",
                self.last_sync
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default(),
                self.online != Some(false),
            ),
        ];
        if let Some(c) = controller {
            let status = self.node.as_ref().map(|n| n.outbox.status());
            let filling = status.as_ref().is_some_and(|s| s.capacity_state.is_warning());
            let queue = match &status {
                Some(s) if filling => format!("{} / {}", s.pending, s.capacity),
                Some(s) => s.pending.to_string(),
                None => String::new(),
            };
            items.push(item("queue", queue, !filling));
            items.push(item("roster", c.roster().version.to_string(), true));
        }
        if let Some(node) = &self.node {
            items.push(item("kiosk", node.identity.kiosk.to_string(), true));
            items.push(item("server", node.identity.server_url.clone(), true));
        }
        items.push(item("version", self.device.version.clone(), true));
        items
    }
}

fn direction_signal(direction: Direction) -> Outcome {
    match direction {
        Direction::In => Outcome::CheckedIn,
        Direction::Out => Outcome::CheckedOut,
    }
}

fn url_ok(server: &str) -> bool {
    let rest = server.strip_prefix("https://").or_else(|| server.strip_prefix("http://"));
    rest.is_some_and(|host| !host.is_empty())
}
