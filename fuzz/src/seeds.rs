//! The seed inputs of each target, made with the product's own encoders so that the
//! fuzzer starts from messages the product really sends. `tests/seeds.rs` writes them
//! under `seeds/<target>/`, beside the corpus the fuzzer grew (`corpus/<target>/`), which
//! minimizing may thin out; the seeds stay whole.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use mtime_core::badge::{BadgeUid, RosterKey};
use mtime_core::batch::{BATCH, Batch, BatchHash, RECEIPT, Receipt};
use mtime_core::event::{
    Amendment, Direction, DirectionSource, PresenceEvent, Subject, TimeReading,
};
use mtime_core::ids::{BootId, EmployeeId, EventId, OrgUnitId};
use mtime_core::protocol::{
    HEARTBEAT, HEARTBEAT_REPLY, Heartbeat, HeartbeatReply, KioskConfig, KnownPunch, ROSTER,
    ROSTER_REQUEST, Roster, RosterEmployee, RosterReason, RosterRequest, SiteInfo,
};
use mtime_core::rotation::{
    KEY_ROTATION, KEY_ROTATION_REPLY, KeyRotation, KeyRotationReply, KeyRotationRequest,
};
use mtime_core::seal::{self, Kind};
use mtime_core::timing::ClockSample;

use crate::{KEY, NEW_KEY, kiosk};

/// One seed: the target it feeds, a name for its file, and its bytes.
pub struct Seed {
    /// The fuzz target.
    pub target: &'static str,
    /// The file name.
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: &str, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed { target, name: name.to_owned(), bytes: bytes.into() }
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut seeds = Vec::new();
    seeds.extend(batch());
    seeds.extend(roster());
    seeds.extend(sealed_messages());
    seeds.extend(key_rotation_request());
    seeds.extend(badge_uid());
    seeds.extend(server_config());
    seeds.extend(device_file());
    seeds.extend(api_bodies());
    seeds
}

/// What the signed path of a target takes: the version byte and the postcard encoding.
fn payload<T: Serialize>(kind: Kind, value: &T) -> Vec<u8> {
    let mut body = vec![kind.version];
    body.extend(postcard::to_stdvec(value).expect("seed messages encode"));
    body
}

fn sealed<T: Serialize>(kind: Kind, value: &T) -> Vec<u8> {
    seal::seal(kind, value, &KEY).expect("seed messages are within their limits")
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_747_000_000 + secs, 0).single().expect("a plain 2025 instant")
}

fn reading(secs: i64) -> TimeReading {
    TimeReading {
        wall: at(secs),
        boot: BootId(uuid::Uuid::from_u128(7)),
        monotonic: Duration::from_millis(3_600_000 + secs as u64 * 1000),
        wall_trusted: secs % 2 == 0,
    }
}

fn uid(text: &str) -> BadgeUid {
    text.parse().expect("seed UIDs are valid")
}

fn events() -> Vec<PresenceEvent> {
    let employee = EmployeeId(uuid::Uuid::from_u128(11));
    vec![
        PresenceEvent {
            id: EventId(uuid::Uuid::from_u128(1001)),
            kiosk: kiosk(),
            seq: 1,
            subject: Subject::Employee { id: employee, badge: Some(uid("04E87577DE9811")) },
            direction: Direction::In,
            direction_source: DirectionSource::Explicit,
            reason: "WORK".parse().expect("a valid reason code"),
            time: reading(0),
            amends: None,
        },
        PresenceEvent {
            id: EventId(uuid::Uuid::from_u128(1002)),
            kiosk: kiosk(),
            seq: 2,
            subject: Subject::UnknownBadge(uid("1FF31632")),
            direction: Direction::Out,
            direction_source: DirectionSource::Toggle,
            reason: "TRAVEL".parse().expect("a valid reason code"),
            time: reading(61),
            amends: Some(Amendment::Replaces(EventId(uuid::Uuid::from_u128(1001)))),
        },
    ]
}

fn batch() -> Vec<Seed> {
    let fixture = include_bytes!("../../core/tests/fixtures/batch-v1.bin");
    let small = Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events: events() };
    let later = Batch { kiosk: kiosk(), prev: BatchHash([9; 32]), events: events() };
    // The largest seq followed by 0, which once opened as a contiguous batch.
    let mut wrapped = events();
    (wrapped[0].seq, wrapped[1].seq) = (u64::MAX, 0);
    let wrapped = Batch { kiosk: kiosk(), prev: BatchHash::GENESIS, events: wrapped };
    vec![
        // The fixture is signed by the same key and kiosk, so it opens as received.
        seed("batch", "fixture-v1", fixture.to_vec()),
        seed("batch", "fixture-v1-payload", &fixture[..fixture.len() - seal::SIGNATURE_LEN]),
        seed("batch", "two-events-payload", payload(BATCH, &small)),
        seed("batch", "chained-payload", payload(BATCH, &later)),
        seed("batch", "wrapped-seq-payload", payload(BATCH, &wrapped)),
    ]
}

fn roster_value() -> Roster {
    Roster {
        kiosk: kiosk(),
        version: 3,
        issued_at: at(0),
        site: SiteInfo {
            org_unit: OrgUnitId(uuid::Uuid::from_u128(5)),
            name: "Plant".into(),
            time_zone: "America/Chicago".into(),
        },
        config: KioskConfig::default(),
        employees: vec![
            RosterEmployee {
                id: EmployeeId(uuid::Uuid::from_u128(11)),
                number: "E01".into(),
                name: "Ann".into(),
                badges: vec![
                    ROSTER_KEY.key_of(&uid("04E87577DE9811")),
                    ROSTER_KEY.key_of(&uid("00112233445566778899")),
                ],
                active: true,
                last_punch: Some(KnownPunch { direction: Direction::In, at: at(-3600) }),
                // A fixed hash, so the seed is the same on every run.
                pin: Some(mtime_core::pin::PinHash { salt: [7; 16], rounds: 20_000, hash: [9; 32] }),
                kiosk_admin: true,
            },
            RosterEmployee {
                id: EmployeeId(uuid::Uuid::from_u128(12)),
                number: "E02".into(),
                name: "Bø".into(),
                badges: vec![ROSTER_KEY.key_of(&uid("1FF31632"))],
                active: false,
                last_punch: None,
                pin: None,
                kiosk_admin: false,
            },
        ],
        reasons: vec![
            RosterReason {
                code: "WORK".parse().expect("a valid reason code"),
                name: "Work".into(),
                counts_as_work: true,
            },
            RosterReason {
                code: "LUNCH".parse().expect("a valid reason code"),
                name: "Lunch".into(),
                counts_as_work: false,
            },
        ],
        default_reason: "WORK".parse().expect("a valid reason code"),
        badge_key: ROSTER_KEY,
    }
}

/// The key the seed roster hashes its badges with.
const ROSTER_KEY: RosterKey = RosterKey::from_bytes([9; 32]);

fn roster() -> Vec<Seed> {
    let roster = roster_value();
    let empty = Roster { employees: vec![], reasons: vec![], ..roster.clone() };
    vec![
        seed("roster", "sealed", sealed(ROSTER, &roster)),
        seed("roster", "payload", payload(ROSTER, &roster)),
        seed("roster", "empty-payload", payload(ROSTER, &empty)),
    ]
}

fn sealed_messages() -> Vec<Seed> {
    let receipt = Receipt {
        kiosk: kiosk(),
        batch: BatchHash([7; 32]),
        first_seq: 1,
        last_seq: 12,
        stored_through: 12,
        stored_at: at(5),
    };
    let request = RosterRequest { kiosk: kiosk(), have_version: 2, sent: reading(1) };
    let heartbeat = Heartbeat {
        kiosk: kiosk(),
        sent: reading(2),
        pending: 3,
        acked_through: 12,
        roster_version: 3,
        software: "0.1.0".into(),
        clock_sample: Some(ClockSample {
            boot: BootId(uuid::Uuid::from_u128(7)),
            sent: Duration::from_millis(3_600_000),
            received: Duration::from_millis(3_600_040),
            server_time: at(0),
        }),
    };
    let reply = HeartbeatReply {
        kiosk: kiosk(),
        server_time: at(3),
        roster_version: 3,
        stored_through: 12,
        rotate_key: true,
    };
    let statement = KeyRotation { kiosk: kiosk(), new_key: NEW_KEY.public(), sent: reading(4) };
    let rotated = KeyRotationReply { kiosk: kiosk(), new_key: NEW_KEY.public(), rotated_at: at(4) };

    let mut seeds = Vec::new();
    seeds.extend(both(0, "receipt", RECEIPT, &receipt));
    seeds.extend(both(1, "roster-request", ROSTER_REQUEST, &request));
    seeds.extend(both(2, "heartbeat", HEARTBEAT, &heartbeat));
    seeds.extend(both(3, "heartbeat-reply", HEARTBEAT_REPLY, &reply));
    seeds.extend(both(4, "key-rotation", KEY_ROTATION, &statement));
    seeds.extend(both(5, "key-rotation-reply", KEY_ROTATION_REPLY, &rotated));
    seeds
}

/// A message of `sealed_messages` behind its selector byte, as payload and as sealed.
fn both<T: Serialize>(which: u8, name: &str, kind: Kind, value: &T) -> [Seed; 2] {
    let target = "sealed_messages";
    [
        seed(target, &format!("{name}-payload"), [&[which][..], &payload(kind, value)].concat()),
        seed(target, &format!("{name}-sealed"), [&[which][..], &sealed(kind, value)].concat()),
    ]
}

fn key_rotation_request() -> Vec<Seed> {
    let statement = KeyRotation { kiosk: kiosk(), new_key: NEW_KEY.public(), sent: reading(4) };
    let request = KeyRotationRequest::new(&statement, &KEY, &NEW_KEY).expect("both keys seal");
    vec![
        seed("key_rotation_request", "request", request.to_bytes().expect("a request encodes")),
        seed("key_rotation_request", "statement-payload", payload(KEY_ROTATION, &statement)),
    ]
}

fn badge_uid() -> Vec<Seed> {
    let texts = [
        ("canonical", "04E87577DE9811"),
        ("colons", "04:e8:75:77:de:98:11"),
        ("dashes", "1f-f3-16-32"),
        ("spaces", " 1F F3 16 32 "),
        ("ten-bytes", "00112233445566778899"),
        ("script-tap", "04 E8 75 77 DE 98 11 in  # Ann\n"),
        ("script-wait", "wait 500"),
        ("json", "\"04:E8:75:77:DE:98:11\""),
    ];
    let mut seeds: Vec<Seed> =
        texts.iter().map(|(name, text)| seed("badge_uid", name, text.as_bytes())).collect();
    seeds.push(seed("badge_uid", "raw-four", [0xD4, 0xCA, 0x2E, 0x66]));
    let postcard = postcard::to_stdvec(&uid("04E87577DE9811")).expect("a UID encodes");
    seeds.push(seed("badge_uid", "postcard", postcard));
    seeds
}

fn server_config() -> Vec<Seed> {
    let full = "data_dir = \"/srv/mtime\"\n\
        listen = \"0.0.0.0:8443\"\n\
        tls_cert = \"/etc/mtime/cert.pem\"\n\
        tls_key = \"/etc/mtime/key.pem\"\n\
        shutdown_grace_secs = 30\n\
        webhook_hosts = [\"hooks.internal\", \"127.0.0.1\", \"[::1]\"]\n";
    vec![
        seed("server_config", "full", full),
        seed("server_config", "listen-v6", "listen = \"[::1]:8080\"\n# comment\n"),
        seed("server_config", "empty", ""),
    ]
}

fn device_file() -> Vec<Seed> {
    let keyboard = "data_dir = \"/var/lib/mtime-kiosk\"\n\
        server_url = \"http://127.0.0.1:8080/time\"\n\
        [screen]\nrotation = 270\n\
        [reader]\nkind = \"keyboard\"\ndevice = \"/dev/input/event0\"\n\
        width = 4\nbyte_order = \"little\"\n";
    let simulator = "data_dir = \"/tmp/k\"\n[reader]\nkind = \"simulator\"\n\
        socket = \"/run/mtime/tap.sock\"\n[feedback]\nkind = \"none\"\n";
    vec![
        seed("device_file", "packaged", include_str!("../../kiosk/packaging/kiosk.toml")),
        seed("device_file", "keyboard", keyboard),
        seed("device_file", "simulator", simulator),
    ]
}

fn api_bodies() -> Vec<Seed> {
    let org = "4b105c00-0000-4000-8000-000000000005";
    let employee = "4b105c00-0000-4000-8000-000000000011";
    let bodies: Vec<(u8, &str, String)> = vec![
        (0, "enroll", format!(r#"{{"code":"7S3V-BGE6-E85A","public_key":"{}"}}"#, KEY.public())),
        (
            1,
            "new-employee",
            format!(
                r#"{{"number":"E01","name":"Ann","org_unit_id":"{org}",
                "badges":["04:E8:75:77:DE:98:11"],"effective_from":"2025-05-12"}}"#
            ),
        ),
        (2, "employee-version", r#"{"effective_from":"2025-06-01","active":false}"#.into()),
        (
            3,
            "new-user",
            format!(
                r#"{{"email":"ann@example.com","display_name":"Ann","role":"payroll",
                "org_units":["{org}"]}}"#
            ),
        ),
        (4, "user-change", r#"{"display_name":"Ann B","role":"site_admin"}"#.into()),
        (
            5,
            "new-kiosk",
            format!(
                r#"{{"name":"Front door","org_unit_id":"{org}","config":{{
                "repeat_window_secs":60,"heartbeat_secs":300,"max_batch_events":500,
                "max_open_hours":16,"language":"nb-NO"}}}}"#
            ),
        ),
        (6, "kiosk-settings", r#"{"name":"Back door"}"#.into()),
        (7, "new-org-unit", r#"{"name":"Plant","time_zone":"America/Chicago"}"#.into()),
        (8, "acceptance", r#"{"at":"2025-05-12T07:54:00-05:00","note":"seen"}"#.into()),
        (9, "assign-badge", format!(r#"{{"badge":"1FF31632","employee_id":"{employee}"}}"#)),
        (10, "new-reason", r#"{"code":"WORK","name":"Work","default":true}"#.into()),
        (11, "new-dimension", r#"{"code":"VEHICLE","name":"Vehicle","values":["V1"]}"#.into()),
        (12, "new-activity", r#"{"code":"DRIVING","name":"Driving","type":"work"}"#.into()),
        (
            13,
            "new-terms",
            r#"{"code":"FT","name":"Full time",
            "weekly_overtime":{"weekly_norm_minutes":2400,"week_start":"monday"}}"#
                .into(),
        ),
        (
            14,
            "terms-version",
            r#"{"effective_from":"2025-06-02",
            "weekly_overtime":{"weekly_norm_minutes":2250,"week_start":"sunday"}}"#
                .into(),
        ),
        (15, "correction", r#"{"direction":"in","at":"2025-05-12T07:54:00-05:00"}"#.into()),
        (16, "new-service-user", r#"{"name":"Payroll","role":"payroll"}"#.into()),
        (
            17,
            "new-webhook",
            r#"{"url":"https://hooks.internal/mtime","kinds":["presence.recorded"]}"#.into(),
        ),
        (18, "clock-in", r#"{"reason":"WORK","note":"late bus"}"#.into()),
        (18, "clock-in-empty", String::new()),
        (19, "new-api-key", "{}".into()),
        (0x80 | 7, "not-declared-json", r#"{"name":"Plant"}"#.into()),
    ];
    bodies
        .into_iter()
        .map(|(which, name, body)| {
            seed("api_bodies", name, [&[which][..], body.as_bytes()].concat())
        })
        .collect()
}
