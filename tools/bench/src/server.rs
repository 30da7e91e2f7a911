//! The real server, in this process on loopback: a workspace made by
//! `mtime_server::workspace`, the router of `mtime_server::api`, served by axum-server as
//! `mtime-server serve` does, with its watchers, on a runtime of its own.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Value, json};

use std::sync::atomic::{AtomicI64, Ordering};

use mtime_core::clock::{Clock, ClockReading, SystemClock};
use mtime_core::ids::{KioskId, OrgUnitId};
use mtime_core::keys::{PublicKey, SigningKey};
use mtime_core::protocol::{EnrollRequest, EnrollResponse, KioskConfig};
use mtime_server::state::AppState;
use mtime_server::{api, watch, workspace};
use mtime_sync::client::Client;

use crate::events::Workforce;

/// The server's clock: the system's, optionally set back, so that a workload can create
/// its kiosks before the history it stores (the server holds taps dated before their kiosk
/// existed in quarantine).
#[derive(Debug, Default)]
pub struct BenchClock {
    system: SystemClock,
    back_ms: AtomicI64,
}

impl Clock for BenchClock {
    fn now(&self) -> ClockReading {
        let mut reading = self.system.now();
        reading.wall -= chrono::TimeDelta::milliseconds(self.back_ms.load(Ordering::Relaxed));
        reading
    }
}

/// A server running in this process.
pub struct LocalServer {
    /// Shared with every request handler; its store is the one the API writes.
    pub state: AppState,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The admin's API key.
    pub admin_key: String,
    /// The server's clock.
    pub clock: Arc<BenchClock>,
    handle: axum_server::Handle<SocketAddr>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl LocalServer {
    /// Creates a workspace in `dir` and serves it on a free loopback port, with `threads`
    /// worker threads as a separate server process would have.
    pub fn start(dir: &Path, threads: usize) -> anyhow::Result<Self> {
        Self::serve(dir, threads, true)
    }

    /// The same without its watchers, for a workload that runs their passes itself.
    pub fn start_unwatched(dir: &Path, threads: usize) -> anyhow::Result<Self> {
        Self::serve(dir, threads, false)
    }

    fn serve(dir: &Path, threads: usize, watched: bool) -> anyhow::Result<Self> {
        let clock = Arc::new(BenchClock::default());
        let admin_key = workspace::init(dir, clock.clone())?;
        let (store, key) = workspace::open(dir)?;
        let state = AppState::new(Arc::new(store), clock.clone(), key);

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("server")
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let handle = axum_server::Handle::new();
        let app = api::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let serving = handle.clone();
        let watchers = watched.then(|| state.clone());
        runtime.spawn(async move {
            if let Some(state) = watchers {
                watch::spawn(state, watch::Cadence::default());
            }
            match axum_server::from_tcp(listener) {
                Ok(server) => {
                    if let Err(e) = server.handle(serving).serve(app).await {
                        eprintln!("server stopped: {e}");
                    }
                }
                Err(e) => eprintln!("server did not start: {e}"),
            }
        });
        Ok(Self {
            state,
            base: format!("http://{addr}"),
            admin_key,
            clock,
            handle,
            runtime: Some(runtime),
        })
    }
}

impl LocalServer {
    /// Fails if the server held any tap in quarantine: a workload whose made-up times the
    /// server does not believe would measure the wrong path.
    pub fn ensure_nothing_held(&self) -> anyhow::Result<()> {
        let held = self.state.store.quarantine()?.len();
        anyhow::ensure!(held == 0, "the server held {held} made-up taps in quarantine");
        Ok(())
    }

    /// Sets the server's clock back to `to` (moving on from there); `None` for real time.
    pub fn set_back_to(&self, to: Option<chrono::DateTime<chrono::Utc>>) {
        let back = to.map_or(0, |to| (chrono::Utc::now() - to).num_milliseconds().max(0));
        self.clock.back_ms.store(back, Ordering::Relaxed);
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }
}

/// The admin API over HTTP, for setting a workspace up.
#[derive(Clone)]
pub struct Admin {
    http: reqwest::Client,
    base: String,
    key: String,
}

/// A kiosk enrolled through the API, with its key.
pub struct EnrolledKiosk {
    /// Its id.
    pub id: KioskId,
    /// The key it signs with.
    pub key: SigningKey,
}

impl Admin {
    /// An admin client of the server at `base`.
    pub fn new(base: &str, key: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().build()?;
        Ok(Self { http, base: base.to_owned(), key: key.to_owned() })
    }

    /// A JSON call that must succeed; returns the answer.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "POST" => self.http.post(&url),
            _ => self.http.get(&url),
        }
        .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::ensure!(status.is_success(), "{method} {path}: {status} {text}");
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `count` employees of `site`, each with a badge, created through the API: the
    /// server holds taps of employees it does not know in quarantine.
    pub async fn workforce(&self, site: OrgUnitId, count: usize) -> anyhow::Result<Workforce> {
        let mut people = Vec::with_capacity(count);
        for n in 0..count as u64 {
            let badge = crate::events::badge(n);
            let body = json!({"number": format!("W{n:06}"), "name": format!("Worker {n}"),
                "org_unit_id": site, "badges": [badge.to_string()],
                "effective_from": "2025-01-01", "retroactive": true});
            let created = self.call("POST", "/api/employees", Some(body)).await?;
            people.push((serde_json::from_value(created["id"].clone())?, badge));
        }
        Ok(Workforce { people })
    }

    /// A site in America/Chicago that exists since 2025 (so past events may be stored),
    /// with a default WORK reason.
    pub async fn site(&self) -> anyhow::Result<OrgUnitId> {
        let site = self
            .call(
                "POST",
                "/api/org-units",
                Some(json!({"name": "Plant", "time_zone": "America/Chicago",
                    "effective_from": "2025-01-01", "retroactive": true})),
            )
            .await?;
        self.call(
            "POST",
            "/api/settings/reasons",
            Some(json!({"code": "WORK", "name": "Work", "default": true})),
        )
        .await?;
        Ok(serde_json::from_value(site["id"].clone())?)
    }

    /// Creates a kiosk at `site` with `config` and enrolls it with a new key.
    pub async fn kiosk(
        &self,
        site: OrgUnitId,
        name: &str,
        config: &KioskConfig,
    ) -> anyhow::Result<EnrolledKiosk> {
        let key = SigningKey::generate()?;
        let answer = self.enroll(site, name, config, key.public()).await?;
        Ok(EnrolledKiosk { id: answer.kiosk_id, key })
    }

    /// A new kiosk's one-time enrollment code.
    pub async fn enrollment_code(
        &self,
        site: OrgUnitId,
        name: &str,
        config: &KioskConfig,
    ) -> anyhow::Result<String> {
        let body = json!({"name": name, "org_unit_id": site, "config": config});
        let created = self.call("POST", "/api/kiosks", Some(body)).await?;
        Ok(created["enrollment_code"].as_str().context("no enrollment code")?.to_owned())
    }

    /// Creates a kiosk and enrolls it with `public_key`, as the kiosk's client does.
    pub async fn enroll(
        &self,
        site: OrgUnitId,
        name: &str,
        config: &KioskConfig,
        public_key: PublicKey,
    ) -> anyhow::Result<EnrollResponse> {
        let code = self.enrollment_code(site, name, config).await?;
        let client = Client::new(&self.base, None)?;
        Ok(client.enroll(&EnrollRequest { code, public_key }).await?)
    }
}
