//! The kiosk against a real server on loopback: an admin pairs it from the screen; a change
//! of its settings on the server (language, PIN entry) and an employee's new PIN reach the
//! screen without a restart; a PIN check-in and its amendment reach the server, which
//! pairs by the amendment.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use i_slint_backend_testing::ElementHandle;
use serde_json::{Value, json};
use slint::ComponentHandle;

use mtime_core::clock::SystemClock;
use mtime_core::ids::BootId;
use mtime_hardware::feedback::NoFeedback;
use mtime_kiosk::paths::DataDir;
use mtime_kiosk::ui::app::{Device, KioskUi};
use mtime_kiosk::ui::{KioskState, KioskWindow, Screen};
use mtime_server::state::AppState;

struct Server {
    base: String,
    api_key: String,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Server {
    fn start(dir: &std::path::Path) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let clock = Arc::new(SystemClock::new());
        let api_key = mtime_server::workspace::init(&dir.join("server"), clock.clone()).unwrap();
        let (store, key) = mtime_server::workspace::open(&dir.join("server")).unwrap();
        let state = AppState::new(Arc::new(store), clock, key);
        let base = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = mtime_server::api::router(state);
            tokio::spawn(async move {
                axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
            });
            format!("http://{addr}")
        });
        Self { base, api_key, runtime, http: reqwest::Client::new() }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.runtime.block_on(async {
            let mut request = self
                .http
                .request(method, format!("{}{path}", self.base))
                .bearer_auth(&self.api_key);
            if !body.is_null() {
                request = request.json(&body);
            }
            let answer = request.send().await.unwrap();
            assert!(answer.status().is_success(), "{path}: {}", answer.status());
            answer.json().await.unwrap_or(Value::Null)
        })
    }
}

fn press(ui: &KioskUi, label: &str) {
    let found = ElementHandle::find_by_accessible_label(ui.window(), label).next();
    found.unwrap_or_else(|| panic!("no {label:?} on screen")).invoke_accessible_default_action();
    ui.pump();
}

fn shows(ui: &KioskUi, label: &str) -> bool {
    ElementHandle::find_by_accessible_label(ui.window(), label).next().is_some()
}

/// Pumps the UI until `done` holds, for up to a minute; then says what the screen shows.
fn wait_for(ui: &KioskUi, what: &str, done: impl Fn(&KioskUi) -> bool) {
    let started = Instant::now();
    while !done(ui) {
        let state = ui.window().global::<KioskState>();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}; the screen is {:?}, pairing status {} ({:?}), \
             online {}, {} pending, detail {:?}",
            state.get_screen(),
            state.get_pair_status(),
            state.get_pair_error(),
            state.get_online(),
            state.get_pending(),
            state.get_detail(),
        );
        std::thread::sleep(Duration::from_millis(50));
        ui.pump();
        ui.tick();
    }
}

/// Types `text` on the screen's keyboard, one key at a time.
fn type_on_keyboard(ui: &KioskUi, text: &str) {
    for c in text.to_lowercase().chars() {
        press(ui, &c.to_string());
    }
}

#[test]
fn an_admin_pairs_the_kiosk_on_screen_and_a_setting_changed_on_the_server_takes_effect() {
    i_slint_backend_testing::init_no_event_loop();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let post = reqwest::Method::POST;
    let site = server.call(
        post.clone(),
        "/api/org-units",
        json!({"name": "Riverside Plant", "time_zone": "America/Chicago"}),
    );
    server.call(
        post.clone(),
        "/api/settings/reasons",
        json!({"code": "WORK", "name": "Work", "default": true}),
    );
    let config = json!({"repeat_window_secs": 60, "heartbeat_secs": 5,
        "max_batch_events": 500, "max_open_hours": 16, "language": "en"});
    let created = server.call(
        post,
        "/api/kiosks",
        json!({"name": "Door", "org_unit_id": site["id"], "config": config}),
    );
    let kiosk_id = created["kiosk"]["id"].as_str().unwrap().to_owned();
    let (number, badge) = common_employee();
    let employee = server.call(
        reqwest::Method::POST,
        "/api/employees",
        json!({"number": number, "name": "Åse Kristiansen", "org_unit_id": site["id"],
            "badges": [badge]}),
    );
    let employee_id = employee["id"].as_str().unwrap().to_owned();
    let code = created["enrollment_code"].as_str().unwrap().to_owned();

    // A kiosk fresh out of the box shows the pairing screen.
    let data = DataDir::new(dir.path().join("kiosk"));
    let clock = Arc::new(SystemClock::new());
    let device = Device {
        clock: clock.clone(),
        pair: mtime_kiosk::ui::device::pairing(data, None, clock, BootId::random()),
        feedback: Box::new(NoFeedback),
        version: "test".into(),
    };
    let ui = KioskUi::new(KioskWindow::new().unwrap(), device, Arc::new(|| {}));
    ui.window().show().unwrap();
    let screen = |ui: &KioskUi| ui.window().global::<KioskState>().get_screen();
    assert_eq!(screen(&ui), Screen::Pairing);
    assert!(shows(&ui, "Not paired"));

    // The admin clears the offered "https://", types the address and the code, and pairs.
    for _ in 0.."https://".len() {
        press(&ui, "erase");
    }
    type_on_keyboard(&ui, &server.base);
    let field =
        |label: &str| ElementHandle::find_by_accessible_label(ui.window(), label).next().unwrap();
    assert_eq!(field("Server").accessible_value().unwrap(), server.base);
    field("Code").invoke_accessible_default_action();
    ui.pump();
    type_on_keyboard(&ui, &code);
    press(&ui, "Pair");
    wait_for(&ui, "pairing", |ui| screen(ui) == Screen::Idle);
    assert!(shows(&ui, "Riverside Plant"));
    assert!(shows(&ui, "Tap your badge"));
    assert!(dir.path().join("kiosk/kiosk.key").exists());

    // The site admin gives Åse a PIN, lets the kiosk take PINs and switches it to Norwegian;
    // at its next heartbeat the kiosk fetches the new roster and the screen follows,
    // without a restart.
    server.call(
        reqwest::Method::PUT,
        &format!("/api/employees/{employee_id}/pin"),
        json!({"pin": "4711"}),
    );
    let config = json!({"repeat_window_secs": 60, "heartbeat_secs": 5,
        "max_batch_events": 500, "max_open_hours": 16, "language": "nb-NO",
        "pin_fallback": true});
    server.call(
        reqwest::Method::POST,
        &format!("/api/kiosks/{kiosk_id}/settings"),
        json!({"config": config}),
    );
    wait_for(&ui, "the new language", |ui| shows(ui, "Hold kortet ditt her"));
    assert!(shows(&ui, "tilkoblet"), "the kiosk reached the server, so it says it is online");

    // Åse forgot her badge: number and PIN, checked against the hash the roster brought.
    press(&ui, "Uten kort? Bruk PIN");
    for key in number.trim_start_matches('E').chars().map(String::from) {
        press(&ui, &key);
    }
    press(&ui, "OK");
    for key in ["4", "7", "1", "1", "OK"] {
        press(&ui, key);
    }
    assert_eq!(screen(&ui), Screen::Recorded);
    // She was leaving, not arriving: a switch on the screen amends the tap.
    press(&ui, "Jeg går");
    wait_for(&ui, "both events synced", |ui| shows(ui, "alt synkronisert"));

    let events = server.call(
        reqwest::Method::GET,
        &format!(
            "/api/employees/{employee_id}/timesheet/events\
             ?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"
        ),
        Value::Null,
    );
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{events:#}");
    assert_eq!(items[1]["amends"]["kind"], "replaces", "{events:#}");
    let presence = server.call(reqwest::Method::GET, "/api/reports/presence", Value::Null);
    assert_eq!(presence["present"].as_array().unwrap().len(), 0, "she left: {presence:#}");
}

/// An employee and badge of the real punch log.
fn common_employee() -> (String, String) {
    let csv = include_str!("../../testdata/timeclock-export/employees.csv");
    let line = csv.lines().nth(1).unwrap();
    let mut fields = line.split(',');
    (fields.next().unwrap().to_owned(), fields.next().unwrap().to_owned())
}
