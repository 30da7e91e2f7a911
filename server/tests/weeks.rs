//! Employment terms, the plugin descriptor and the weekly overtime report.

#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use serde_json::{Value, json};

use mtime_server::watch;

use common::TestServer;

#[tokio::test]
async fn the_weekly_report_splits_regular_and_overtime_by_the_norm_in_force() {
    let server = TestServer::new();
    let site = server.site().await;
    // 37.5 hours; from the week of 2025-05-05 on, 2 hours (a norm change by a new version).
    let terms = json!({"code": "PT", "name": "Part time", "effective_from": "2025-04-01",
        "retroactive": true,
        "weekly_overtime": {"weekly_norm_minutes": 2250, "week_start": "monday"}});
    server.ok("POST", "/api/settings/employment-terms", terms).await;
    let version = json!({"effective_from": "2025-05-05", "retroactive": true,
        "weekly_overtime": {"weekly_norm_minutes": 120, "week_start": "monday"}});
    let shown = server.ok("POST", "/api/settings/employment-terms/PT/versions", version).await;
    assert_eq!(shown["versions"].as_array().unwrap().len(), 2);

    let body = json!({"number": "E01", "name": "Ann", "org_unit_id": site,
        "employment_terms": "PT", "effective_from": "2025-04-01", "retroactive": true});
    let ann = server.ok("POST", "/api/employees", body).await;
    assert_eq!(ann["current"]["employment_terms"], "PT");
    let corrections =
        format!("/api/employees/{}/timesheet/corrections", ann["id"].as_str().unwrap());
    // Week of 2025-04-28 (norm 2,250 min): Mon and Tue 08:00–16:00 (960 min) and a
    // 19-hour Wednesday (1,140 min), which pairing flags over-long: 2,100 min, no overtime.
    // Week of 2025-05-05 (norm 120 min): Monday 08:00–11:30: 210 min, 90 overtime.
    for (day, from, to) in [
        ("2025-04-28", "08:00", "16:00"),
        ("2025-04-29", "08:00", "16:00"),
        ("2025-04-30", "05:00", "24:00"),
        ("2025-05-05", "08:00", "11:30"),
    ] {
        let at = |t: &str| {
            if t == "24:00" {
                "2025-05-01T00:00:00-05:00".to_owned()
            } else {
                format!("{day}T{t}:00-05:00")
            }
        };
        server.ok("POST", &corrections, json!({"direction": "in", "at": at(from)})).await;
        server.ok("POST", &corrections, json!({"direction": "out", "at": at(to)})).await;
    }

    let (status, page) = server
        .call("GET", "/api/reports/weekly-overtime?from=2025-04-30&to=2025-05-05", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let rows: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["week_start"].as_str().unwrap().to_owned(),
                r["weekly_norm_minutes"].as_u64().unwrap(),
                r["worked_seconds"].as_u64().unwrap() / 60,
                r["regular_seconds"].as_u64().unwrap() / 60,
                r["overtime_seconds"].as_u64().unwrap() / 60,
                r["flags"].clone(),
                r["complete"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("2025-04-28".into(), 2250, 2100, 2100, 0, json!(["over_long"]), true),
            // The clock stands at 2025-05-11 12:00 Chicago: that week is not over.
            ("2025-05-05".into(), 120, 210, 120, 90, json!([]), false),
        ]
    );

    // Terms that do not exist, and a norm out of range, are refused.
    let (status, _) = server
        .call(
            "POST",
            "/api/employees",
            Some(json!({"number": "E02", "name": "Bob",
            "org_unit_id": site, "employment_terms": "NOPE"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server
        .call(
            "POST",
            "/api/settings/employment-terms",
            Some(json!({"code": "X", "name": "X",
            "weekly_overtime": {"weekly_norm_minutes": 0, "week_start": "monday"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, list) = server.call("GET", "/api/settings/employment-terms", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "nothing stored: {list}");
}

#[tokio::test]
async fn the_week_counter_is_listed_with_its_config_schema() {
    let server = TestServer::new();
    let (status, page) = server.call("GET", "/api/descriptor/plugins/", None).await;
    assert_eq!(status, StatusCode::OK);
    let plugin = &page["items"][0];
    assert_eq!(
        (plugin["registry"].as_str(), plugin["id"].as_str()),
        (Some("counters"), Some("weekly-overtime"))
    );

    let (status, schema) = server.call("GET", plugin["schema_path"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    let required: Vec<&str> =
        schema["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(required, ["weekly_norm_minutes", "week_start"]);
    assert_eq!(schema["properties"]["weekly_norm_minutes"]["maximum"], 10080);

    let (status, _) =
        server.call("GET", "/api/descriptor/plugins/counters/nothing/schema", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_week_that_ends_is_announced_in_the_feed_once() {
    let server = TestServer::new();
    let id = full_time_ann(&server).await;
    let corrections = format!("/api/employees/{id}/timesheet/corrections");
    for at in ["2025-04-29T08:00:00-05:00", "2025-05-06T08:00:00-05:00"] {
        server.ok("POST", &corrections, json!({"direction": "in", "at": at})).await;
        let out = at.replace("08:00", "12:00");
        server.ok("POST", &corrections, json!({"direction": "out", "at": out})).await;
    }

    // Sunday 2025-05-11, noon in Chicago: only the week of 2025-04-28 is over.
    assert_eq!(watch::weeks::check(&server.state).unwrap(), 1);
    assert_eq!(watch::weeks::check(&server.state).unwrap(), 0, "announced once");
    // Monday 01:00 in Chicago: the week of 2025-05-05 ended at midnight.
    server.clock.advance(std::time::Duration::from_secs(13 * 3600));
    assert_eq!(watch::weeks::check(&server.state).unwrap(), 1);

    let (_, feed) = server.call("GET", "/api/events?limit=1000", None).await;
    let closed: Vec<(Value, Value)> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "week.closed")
        .map(|e| (e["employee_id"].clone(), e["week_start"].clone()))
        .collect();
    assert_eq!(closed, vec![(json!(id), json!("2025-04-28")), (json!(id), json!("2025-05-05"))]);
}

/// A shift across an employee's move to a site in another zone counts once in the daily
/// totals and in the week: east (Chicago to Kolkata) its hours used to be counted twice,
/// west (back) some were lost.
#[tokio::test]
async fn a_shift_across_a_move_to_another_zone_counts_once_in_days_and_weeks() {
    let server = TestServer::new();
    let chicago = server.site().await;
    let kolkata = server
        .ok(
            "POST",
            "/api/org-units",
            json!({"name": "Pune", "time_zone": "Asia/Kolkata",
                "effective_from": "2025-01-01", "retroactive": true}),
        )
        .await;
    let terms = json!({"code": "FT", "name": "Full time", "effective_from": "2025-01-01",
        "retroactive": true,
        "weekly_overtime": {"weekly_norm_minutes": 600, "week_start": "monday"}});
    server.ok("POST", "/api/settings/employment-terms", terms).await;

    for (number, from, to, shift) in [
        // 01:00Z to 13:00Z on the 6th: all of it after Kolkata's 6th began (18:30Z on the 5th).
        (
            "E31",
            chicago,
            kolkata["id"].clone(),
            ["2025-05-05T20:00:00-05:00", "2025-05-06T08:00:00-05:00"],
        ),
        // 14:30Z on the 5th to 02:30Z on the 6th: all of it before Chicago's 6th began (05:00Z).
        (
            "E32",
            serde_json::from_value(kolkata["id"].clone()).unwrap(),
            json!(chicago),
            ["2025-05-05T20:00:00+05:30", "2025-05-06T08:00:00+05:30"],
        ),
    ] {
        let body = json!({"number": number, "name": "Moved", "org_unit_id": from,
            "employment_terms": "FT", "effective_from": "2025-01-01", "retroactive": true});
        let employee = server.ok("POST", "/api/employees", body).await;
        let id = employee["id"].as_str().unwrap().to_owned();
        server
            .ok(
                "POST",
                &format!("/api/employees/{id}/versions"),
                json!({"effective_from": "2025-05-06", "retroactive": true, "org_unit_id": to}),
            )
            .await;
        let corrections = format!("/api/employees/{id}/timesheet/corrections");
        server.ok("POST", &corrections, json!({"direction": "in", "at": shift[0]})).await;
        server.ok("POST", &corrections, json!({"direction": "out", "at": shift[1]})).await;
    }

    let (status, page) =
        server.call("GET", "/api/reports/daily-totals?from=2025-05-01&to=2025-05-10", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let days: Vec<(String, String, u64)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["number"].as_str().unwrap().to_owned(),
                r["date"].as_str().unwrap().to_owned(),
                r["worked_seconds"].as_u64().unwrap(),
            )
        })
        .collect();
    let day = |n: &str, d: &str, h: u64| (n.to_owned(), d.to_owned(), h * 3600);
    assert_eq!(
        days,
        [day("E31", "2025-05-06", 12), day("E32", "2025-05-05", 4), day("E32", "2025-05-06", 8),]
    );

    let (status, page) = server
        .call("GET", "/api/reports/weekly-overtime?from=2025-05-05&to=2025-05-05", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let weeks: Vec<(String, u64, u64)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["number"].as_str().unwrap().to_owned(),
                r["worked_seconds"].as_u64().unwrap() / 3600,
                r["overtime_seconds"].as_u64().unwrap() / 3600,
            )
        })
        .collect();
    assert_eq!(weeks, [("E31".to_owned(), 12, 2), ("E32".to_owned(), 12, 2)]);
}

/// A change of the day weeks start on lets the week in progress run until the new day: no
/// day counts in two weeks (they used to overlap, counting days twice).
#[tokio::test]
async fn a_change_of_week_start_counts_every_day_in_one_week() {
    let server = TestServer::new();
    let site = server.site().await;
    let terms = json!({"code": "WS", "name": "Shifts", "effective_from": "2025-01-01",
        "retroactive": true,
        "weekly_overtime": {"weekly_norm_minutes": 600, "week_start": "monday"}});
    server.ok("POST", "/api/settings/employment-terms", terms).await;
    // From Wednesday 2025-04-23, weeks start on Sunday.
    let version = json!({"effective_from": "2025-04-23", "retroactive": true,
        "weekly_overtime": {"weekly_norm_minutes": 900, "week_start": "sunday"}});
    server.ok("POST", "/api/settings/employment-terms/WS/versions", version).await;
    let body = json!({"number": "E41", "name": "Dee", "org_unit_id": site,
        "employment_terms": "WS", "effective_from": "2025-01-01", "retroactive": true});
    let dee = server.ok("POST", "/api/employees", body).await;
    let corrections =
        format!("/api/employees/{}/timesheet/corrections", dee["id"].as_str().unwrap());

    // Four hours every day from Monday 2025-04-14 to Saturday 2025-05-10: 27 days, 108 h.
    let mut day: chrono::NaiveDate = "2025-04-14".parse().unwrap();
    while day <= "2025-05-10".parse().unwrap() {
        for (direction, time) in [("in", "01:00"), ("out", "05:00")] {
            let at = format!("{day}T{time}:00-05:00");
            server.ok("POST", &corrections, json!({"direction": direction, "at": at})).await;
        }
        day = day.succ_opt().unwrap();
    }

    let (status, page) = server
        .call("GET", "/api/reports/weekly-overtime?from=2025-04-14&to=2025-05-10", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let weeks: Vec<(String, String, u64, u64)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["week_start"].as_str().unwrap().to_owned(),
                r["week_end"].as_str().unwrap().to_owned(),
                r["worked_seconds"].as_u64().unwrap() / 3600,
                r["overtime_seconds"].as_u64().unwrap() / 3600,
            )
        })
        .collect();
    let week = |from: &str, to: &str, worked, overtime| (from.into(), to.into(), worked, overtime);
    assert_eq!(
        weeks,
        [
            week("2025-04-14", "2025-04-20", 28, 18),
            // Monday's week runs to Saturday, by the norm it began under (10 h).
            week("2025-04-21", "2025-04-26", 24, 14),
            week("2025-04-27", "2025-05-03", 28, 13),
            week("2025-05-04", "2025-05-10", 28, 13),
        ]
    );
    let worked: u64 = weeks.iter().map(|w| w.2).sum();
    assert_eq!(worked, 108);
}

/// A check-in with no check-out ever after: while within the most an interval may stay open
/// (16 hours for API punches) it is open; past it, the interval list and the weekly report
/// show it missing its check-out, so that payroll sees the forgotten check-out rather than
/// an interval open for days with no time and no flag.
#[tokio::test]
async fn a_forgotten_check_out_is_flagged_once_the_interval_is_open_past_its_maximum() {
    let server = TestServer::new();
    let ann = full_time_ann(&server).await;
    // The server's clock stands at 2025-05-11 12:00 in Chicago, a Sunday.
    server.ok("POST", &format!("/api/employees/{ann}/timesheet/clock-in"), json!({})).await;

    server.clock.advance(std::time::Duration::from_secs(16 * 3600));
    assert_eq!(only_interval(&server, &ann).await, (json!(true), json!([])));
    assert_eq!(week_flags(&server).await, Value::Null, "no row: no time yet, nothing wrong");

    server.clock.advance(std::time::Duration::from_secs(60));
    assert_eq!(only_interval(&server, &ann).await, (json!(false), json!(["missing_check_out"])));
    assert_eq!(week_flags(&server).await, json!(["missing_check_out"]));

    // The check-out comes after all: the interval closes, flagged over-long.
    server.ok("POST", &format!("/api/employees/{ann}/timesheet/clock-out"), json!({})).await;
    assert_eq!(only_interval(&server, &ann).await, (json!(false), json!(["over_long"])));
}

/// Whether the employee's one interval is open, and its flags.
async fn only_interval(server: &TestServer, employee: &str) -> (Value, Value) {
    let path = format!(
        "/api/employees/{employee}/timesheet/presence?from=2025-05-11T00:00:00Z&to=2025-05-20T00:00:00Z"
    );
    let (status, page) = server.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    (page["items"][0]["open"].clone(), page["items"][0]["flags"].clone())
}

/// The flags of the first row of the weekly report for the week of 2025-05-05.
async fn week_flags(server: &TestServer) -> Value {
    let path = "/api/reports/weekly-overtime?from=2025-05-05&to=2025-05-11";
    let (status, page) = server.call("GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"][0]["flags"].clone()
}

/// Ann, E01, on full-time terms (40 hours from Monday) since 2025-04-01; her id.
async fn full_time_ann(server: &TestServer) -> String {
    let site = server.site().await;
    let terms = json!({"code": "FT", "name": "Full time", "effective_from": "2025-04-01",
        "retroactive": true,
        "weekly_overtime": {"weekly_norm_minutes": 2400, "week_start": "monday"}});
    server.ok("POST", "/api/settings/employment-terms", terms).await;
    let body = json!({"number": "E01", "name": "Ann", "org_unit_id": site,
        "employment_terms": "FT", "effective_from": "2025-04-01", "retroactive": true});
    let ann = server.ok("POST", "/api/employees", body).await;
    ann["id"].as_str().unwrap().to_owned()
}
