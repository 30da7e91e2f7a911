//! A server and its kiosk, as processes on the replay clock: set up through the API,
//! killed and started again on the same data, and read back through the API.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::json;

use mtime_core::ids::EmployeeId;
use mtime_harness::api::Api;
use mtime_harness::processes::{self, Kiosk};
use mtime_harness::server::{self, Server};
use mtime_server::api::employees::EmployeeView;
use mtime_server::api::kiosks::EnrollmentCodeView;
use mtime_server::api::org::OrgUnitView;
use mtime_server::api::timesheet::{EventView, IntervalView};

use crate::compare::{Span, Tap};
use crate::schedule::{Person, ZONE};

/// One server and one kiosk.
pub struct Pair {
    /// `chaos` or `twin`, in file names and messages.
    pub name: &'static str,
    clock: PathBuf,
    root: PathBuf,
    /// The running server, if it runs.
    pub server: Option<Server>,
    listen: String,
    /// The admin's client of the server.
    pub api: Api,
    /// The running kiosk, if it runs.
    pub kiosk: Option<Kiosk>,
    employees: Vec<(String, EmployeeId)>,
    starts: usize,
}

impl Pair {
    /// Starts a server, creates the site, its reason, the roster and a kiosk through the
    /// API; returns the pair and the kiosk's enrollment code.
    pub async fn set_up(
        name: &'static str,
        root: &Path,
        clock: &Path,
        roster: &[Person],
    ) -> anyhow::Result<(Self, String)> {
        let data = root.join(format!("{name}-server"));
        let key = server::init(clock, &data, &root.join(format!("{name}-init.log"))).await?;
        let log = root.join(format!("{name}-server-0.log"));
        let server = Server::serve(clock, &data, "127.0.0.1:0", None, &log).await?;
        let api = Api::new(&server.base, None, &key)?;
        let site: OrgUnitView =
            api.post("/api/org-units", &json!({"name": "Plant", "time_zone": ZONE.name()})).await?;
        let reason = json!({"code": "WORK", "name": "Work", "default": true});
        let _: serde_json::Value = api.post("/api/settings/reasons", &reason).await?;
        let mut employees = Vec::new();
        for person in roster {
            let body = json!({"number": person.number, "name": person.number,
                "org_unit_id": site.id, "badges": [person.badge]});
            let created: EmployeeView = api.post("/api/employees", &body).await?;
            employees.push((person.number.clone(), created.id));
        }
        let kiosk = json!({"name": format!("{name} kiosk"), "org_unit_id": site.id});
        let created: EnrollmentCodeView = api.post("/api/kiosks", &kiosk).await?;

        let listen = server.addr.to_string();
        let pair = Self {
            name,
            clock: clock.to_owned(),
            root: root.to_owned(),
            server: Some(server),
            listen,
            api,
            kiosk: None,
            employees,
            starts: 0,
        };
        Ok((pair, created.enrollment_code))
    }

    /// Where the server listens, the same across restarts.
    pub fn server_addr(&self) -> anyhow::Result<std::net::SocketAddr> {
        Ok(self.listen.parse()?)
    }

    fn kiosk_data(&self) -> PathBuf {
        self.root.join(format!("{}-kiosk", self.name))
    }

    /// Enrolls the kiosk with the server at `url` (directly or through a relay).
    pub async fn enroll(&self, url: &str, code: &str) -> anyhow::Result<()> {
        let log = self.root.join(format!("{}-enroll.log", self.name));
        processes::enroll(&self.clock, &self.kiosk_data(), url, code, None, &log).await
    }

    /// Starts the kiosk on its data; each start logs to a file of its own.
    pub async fn start_kiosk(&mut self) -> anyhow::Result<()> {
        self.starts += 1;
        let log = self.root.join(format!("{}-kiosk-{}.log", self.name, self.starts));
        let mut run = processes::role("kiosk", &self.clock, &log)?;
        run.args(["run", "--script", "-", "--linger-secs", "0", "--data-dir"]);
        run.arg(self.kiosk_data());
        self.kiosk = Some(Kiosk::start(self.name, run).await?);
        Ok(())
    }

    /// The running kiosk.
    pub fn kiosk(&mut self) -> anyhow::Result<&mut Kiosk> {
        self.kiosk.as_mut().with_context(|| format!("the {} kiosk is not running", self.name))
    }

    /// Kills the server with SIGKILL.
    pub async fn kill_server(&mut self) -> anyhow::Result<()> {
        match self.server.take() {
            Some(server) => server.kill().await,
            None => Ok(()),
        }
    }

    /// Starts the server again on the same data and port.
    pub async fn start_server(&mut self, restarts: usize) -> anyhow::Result<()> {
        let data = self.root.join(format!("{}-server", self.name));
        let log = self.root.join(format!("{}-server-{restarts}.log", self.name));
        let server = Server::serve(&self.clock, &data, &self.listen, None, &log)
            .await
            .with_context(|| format!("restarting the {} server on the same data", self.name))?;
        self.server = Some(server);
        Ok(())
    }

    /// Every kiosk event the server holds and every interval, through the public API.
    pub async fn read_back(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<(Vec<Tap>, Vec<Span>)> {
        let query =
            [("from", from.to_rfc3339()), ("to", to.to_rfc3339()), ("limit", "1000".to_owned())];
        let (mut taps, mut spans) = (Vec::new(), Vec::new());
        for (number, id) in &self.employees {
            let path = format!("/api/employees/{id}/timesheet/events");
            let events: Vec<EventView> = self.api.get_all(&path, &query).await?;
            taps.extend(events.into_iter().map(|e| Tap {
                seq: e.kiosk_seq,
                employee: number.clone(),
                direction: e.direction.to_string(),
                at: e.punch.at.with_timezone(&Utc),
            }));
            let path = format!("/api/employees/{id}/timesheet/presence");
            let intervals: Vec<IntervalView> = self.api.get_all(&path, &query).await?;
            spans.extend(intervals.into_iter().map(|i| Span {
                employee: number.clone(),
                start: i.start.map(|t| t.with_timezone(&Utc)),
                end: i.end.map(|t| t.with_timezone(&Utc)),
                open: i.open,
                flags: i.flags.iter().map(|f| format!("{f:?}")).collect(),
            }));
        }
        Ok((taps, spans))
    }
}
