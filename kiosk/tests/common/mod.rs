//! A paired kiosk on disk, without a server: its identity, its key and a roster signed by a
//! server key made for the test, with employees and badges from the real punch log
//! (`testdata/timeclock-export/employees.csv`). Its sync loop points at a loopback port
//! nobody listens on, so the kiosk is offline from the start.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use mtime_core::badge::RosterKey;
use mtime_core::clock::ManualClock;
use mtime_core::ids::{BootId, EmployeeId, KioskId, OrgUnitId};
use mtime_core::keys::SigningKey;
use mtime_core::pin::{Pin, PinHash};
use mtime_core::protocol::{KioskConfig, ROSTER, Roster, RosterEmployee, RosterReason, SiteInfo};
use mtime_hardware::feedback::RecordingFeedback;
use mtime_kiosk::node::Node;
use mtime_kiosk::paths::DataDir;
use mtime_kiosk::ui::KioskWindow;
use mtime_kiosk::ui::app::{Device, Inputs, KioskUi, UiInput};
use mtime_sync::disk::DiskFaults;
use mtime_sync::keyfile::KeyFile;
use mtime_sync::outbox::{Identity, Outbox, OutboxOptions};
use slint::ComponentHandle;

/// Names for the screen; the punch log itself names no one.
const NAMES: [&str; 5] =
    ["Åse Kristiansen", "Jürgen Müller", "Zoë Dvořák", "Ngozi Okafor", "Łukasz Wiśniewski"];

/// Employees of the punch log: number and badge UID.
pub fn employees_of_the_log() -> Vec<(String, String)> {
    let csv = include_str!("../../../testdata/timeclock-export/employees.csv");
    csv.lines()
        .skip(1)
        .map(|line| {
            let mut fields = line.split(',');
            (fields.next().unwrap().to_owned(), fields.next().unwrap().to_owned())
        })
        .collect()
}

/// The PIN every fixture employee with a PIN has.
pub const PIN: &str = "4711";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub data: DataDir,
    pub kiosk: KioskId,
    pub clock: Arc<ManualClock>,
    pub boot: BootId,
    pub server_key: SigningKey,
    pub roster: Roster,
}

/// What the roster should allow.
#[derive(Clone, Copy, Default)]
pub struct Policy {
    pub pin_fallback: bool,
    /// Whether employee E01 is a kiosk admin (then admin mode needs a PIN or badge).
    pub admin: bool,
}

impl Fixture {
    /// A paired kiosk at the Chicago site on Monday 2025-05-12, 12:54 UTC (07:54 there).
    pub fn new(policy: Policy) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("kiosk"));
        std::fs::create_dir_all(data.root()).unwrap();
        // Fixed, so pictures of the screen are the same on every run.
        let kiosk = KioskId(uuid::Uuid::from_u128(0x6d74_696d_6500_4b10_8000_0000_0000_0001));
        let server_key = SigningKey::generate().unwrap();
        let site = SiteInfo {
            org_unit: OrgUnitId::random(),
            name: "Riverside Plant".into(),
            time_zone: "America/Chicago".into(),
        };
        let config = KioskConfig { pin_fallback: policy.pin_fallback, ..KioskConfig::default() };

        let badge_key = RosterKey::from_bytes([5; 32]);
        let pin = PinHash::new(&PIN.parse::<Pin>().unwrap()).unwrap();
        let employees = employees_of_the_log()
            .into_iter()
            .take(NAMES.len())
            .enumerate()
            .map(|(i, (number, badge))| RosterEmployee {
                id: EmployeeId(uuid::Uuid::from_u128(i as u128 + 1)),
                name: NAMES[i].to_owned(),
                badges: vec![badge_key.key_of(&badge.parse().unwrap())],
                // E05 is suspended.
                active: number != "E05",
                last_punch: None,
                pin: Some(pin.clone()),
                kiosk_admin: policy.admin && number == "E01",
                number,
            })
            .collect();
        let roster = Roster {
            kiosk,
            version: 1,
            issued_at: Utc.with_ymd_and_hms(2025, 5, 12, 12, 0, 0).unwrap(),
            site: site.clone(),
            config: config.clone(),
            employees,
            reasons: vec![
                RosterReason {
                    code: "WORK".parse().unwrap(),
                    name: "Work".into(),
                    counts_as_work: true,
                },
                RosterReason {
                    code: "DOCTOR".parse().unwrap(),
                    name: "Doctor visit".into(),
                    counts_as_work: false,
                },
                RosterReason {
                    code: "ERRAND".parse().unwrap(),
                    name: "Errand".into(),
                    counts_as_work: true,
                },
            ],
            default_reason: "WORK".parse().unwrap(),
            badge_key,
        };

        // The discard port on loopback, where nothing listens on a test machine: every sync
        // attempt fails at once. Fixed, so pictures of the diagnostics screen are the same.
        let port = 9;
        let outbox = Outbox::open(&data.store()).unwrap();
        outbox
            .save_identity(&Identity {
                kiosk,
                name: "Door".into(),
                server_url: format!("http://127.0.0.1:{port}"),
                server_ca_pem: None,
                server_key: server_key.public(),
                site,
                config,
            })
            .unwrap();
        outbox
            .save_roster_bytes(&mtime_core::seal::seal(ROSTER, &roster, &server_key).unwrap())
            .unwrap();
        drop(outbox);
        KeyFile::new(data.key()).create().unwrap();

        let clock =
            Arc::new(ManualClock::at(Utc.with_ymd_and_hms(2025, 5, 12, 12, 54, 0).unwrap()));
        Self { dir, data, kiosk, clock, boot: BootId::random(), server_key, roster }
    }

    /// The badge of employee `number`.
    pub fn badge(&self, number: &str) -> String {
        employees_of_the_log().into_iter().find(|(n, _)| n == number).unwrap().1
    }
}

/// A UI over the fixture's kiosk, started; and the record of its buzzer.
pub struct Running {
    pub ui: KioskUi,
    pub feedback: RecordingFeedback,
    pub node: Arc<Node>,
    /// Makes the kiosk's disk look full, and frees it again.
    pub disk: DiskFaults,
}

/// Makes the window (on whatever platform this thread installed) and starts the kiosk.
pub fn start(fixture: &Fixture) -> Running {
    let feedback = RecordingFeedback::new();
    let device = Device {
        clock: fixture.clock.clone(),
        pair: Box::new(|_, _| panic!("this kiosk is paired")),
        feedback: Box::new(feedback.clone()),
        version: "test".into(),
    };
    let ui = KioskUi::new(KioskWindow::new().unwrap(), device, Arc::new(|| {}));
    ui.window().show().unwrap();
    let inputs: Inputs = ui.inputs();
    let disk = DiskFaults::default();
    let options = OutboxOptions { faults: disk.clone(), ..OutboxOptions::default() };
    let node = Node::start(
        &fixture.data,
        options,
        fixture.clock.clone(),
        fixture.boot,
        move |_, event| {
            inputs.send(UiInput::Sync(event));
        },
    )
    .unwrap();
    ui.set_node(node.clone());
    Running { ui, feedback, node, disk }
}

/// Moves the kiosk's clock on and lets the UI see it.
pub fn advance(fixture: &Fixture, ui: &KioskUi, by: Duration) {
    fixture.clock.advance(by);
    ui.pump();
    ui.tick();
}
