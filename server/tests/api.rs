//! The API as consumers and admins use it: authentication, effective dates, presence
//! through clock-in, clock-out and corrections, paging, and the presence report.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use mtime_core::clock::Clock;
use mtime_core::ids::{EmployeeId, OrgUnitId};
use mtime_server::model::{EmployeeRecord, EmployeeVersion};

use common::TestServer;

#[tokio::test]
async fn the_root_is_a_plain_health_check_without_a_key() {
    let server = TestServer::new();
    let (status, body) = server.raw(Request::get("/api/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).starts_with("mtime "));
}

#[tokio::test]
async fn data_routes_need_a_valid_bearer_key_in_the_header() {
    let server = TestServer::new();
    let (status, body) =
        server.raw(Request::get("/api/employees").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");

    let wrong = format!("Bearer mtime_ak_{}", "0".repeat(64));
    let request =
        Request::get("/api/employees").header("authorization", wrong).body(Body::empty()).unwrap();
    assert_eq!(server.raw(request).await.0, StatusCode::UNAUTHORIZED);

    let in_query = format!("/api/employees?api_key={}", server.key);
    let (status, body) = server.raw(Request::get(in_query).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "api_key_in_query");

    let (status, page) = server.call("GET", "/api/employees", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let server = TestServer::new();
    let site = server.site().await;
    let (status, v) = server
        .call("POST", "/api/org-units", Some(json!({"name": "X", "time_zone": "Mars/Base"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("Mars/Base"));

    let (status, v) = server
        .call(
            "POST",
            "/api/employees",
            Some(json!({"number": "E1", "name": "A", "org_unit_id": site, "badges": ["04:A1:B"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("odd number"), "{v}");

    server.employee(site, "E1", "04A1B2C3").await;
    let (status, _) = server
        .call(
            "POST",
            "/api/employees",
            Some(json!({"number": "E2", "name": "B", "org_unit_id": site, "badges": ["04a1b2c3"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a badge belongs to one employee");
    let (status, _) = server
        .call(
            "POST",
            "/api/employees",
            Some(json!({"number": "E1", "name": "C", "org_unit_id": site})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "numbers are unique");
    for number in ["E\t4", "E\n4", "E\u{7f}4", " "] {
        let body = json!({"number": number, "name": "D", "org_unit_id": site});
        let (status, v) = server.call("POST", "/api/employees", Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{number:?}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().starts_with("number must"), "{v}");
    }
    let (_, page) = server.call("GET", "/api/employees", None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    let (status, _) = server.call("POST", "/api/employees", Some(json!({"number": "E3"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) =
        server.call("POST", "/api/settings/reasons", Some(json!(["ARR", "From an array"]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "only objects: {body}");
    let (status, _) = server.call("GET", "/api/employees/not-an-id", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn records_are_effective_dated_and_the_past_changes_only_retroactively() {
    let server = TestServer::new();
    let site = server.site().await;
    // The clock stands at 2025-05-11 12:00 in Chicago.
    let (status, v) = server
        .call("POST", "/api/employees", Some(json!({"number": "E1", "name": "Ann", "org_unit_id": site, "effective_from": "2025-05-01"})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("retroactive"), "{v}");

    let created = server
        .ok("POST", "/api/employees", json!({"number": "E1", "name": "Ann", "org_unit_id": site, "effective_from": "2025-05-01", "retroactive": true}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    server
        .ok(
            "POST",
            &format!("/api/employees/{id}/versions"),
            json!({"effective_from": "2025-06-01", "name": "Ann Smith"}),
        )
        .await;
    server
        .ok(
            "POST",
            &format!("/api/employees/{id}/versions"),
            json!({"effective_from": "2025-05-05", "name": "Ann B.", "retroactive": true}),
        )
        .await;

    let name_at = |at: &'static str| {
        let path = format!("/api/employees/{id}?at={at}");
        let server = &server;
        async move {
            server.call("GET", &path, None).await.1["current"]["name"].as_str().map(str::to_owned)
        }
    };
    assert_eq!(name_at("2025-05-02").await.as_deref(), Some("Ann"));
    assert_eq!(name_at("2025-05-20").await.as_deref(), Some("Ann B."));
    assert_eq!(name_at("2025-06-02").await.as_deref(), Some("Ann Smith"));
    let (_, today) = server.call("GET", &format!("/api/employees/{id}"), None).await;
    assert_eq!(today["at"], "2025-05-11");
    assert_eq!(today["current"]["name"], "Ann B.");
    assert_eq!(today["versions"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn clock_in_out_and_corrections_pair_into_intervals_with_author_and_note() {
    let server = TestServer::new();
    let site = server.site().await;
    let id = server.employee(site, "E04", "04EA5CB9694A8C").await;
    let timesheet = format!("/api/employees/{id}/timesheet");

    // An out entered before the in it closes: pairing sorts it out.
    server
        .ok("POST", &format!("{timesheet}/corrections"), json!({"direction": "out", "at": "2025-05-11T11:30:00-05:00", "note": "forgot to punch out"}))
        .await;
    server
        .ok(
            "POST",
            &format!("{timesheet}/corrections"),
            json!({"direction": "in", "at": "2025-05-11T07:54:00-05:00"}),
        )
        .await;
    server.ok("POST", &format!("{timesheet}/clock-in"), json!({})).await; // 12:00 Chicago
    server.clock.advance(Duration::from_secs(90 * 60));
    let out =
        server.ok("POST", &format!("{timesheet}/clock-out"), json!({"note": "left early"})).await;
    assert_eq!(out["punch"]["at"], "2025-05-11T13:30:00-05:00");
    assert_eq!(out["punch"]["author"], "admin");

    let (status, page) = server
        .call(
            "GET",
            &format!(
                "{timesheet}/presence?from=2025-05-11T00:00:00-05:00&to=2025-05-12T00:00:00-05:00"
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["start"], "2025-05-11T07:54:00-05:00");
    assert_eq!(items[0]["end"], "2025-05-11T11:30:00-05:00");
    assert_eq!(
        items[0]["corrections"],
        json!([
            {"punch": "start", "author": "admin", "note": null},
            {"punch": "end", "author": "admin", "note": "forgot to punch out"}
        ])
    );
    assert_eq!(items[0]["duration_seconds"], 216 * 60);
    assert_eq!(items[1]["start"], "2025-05-11T12:00:00-05:00");
    assert_eq!(items[1]["corrections"], json!([]), "a clock-out now is not a correction");
    assert_eq!(items[1]["end_punch"]["note"], "left early");

    let (status, v) = server
        .call(
            "POST",
            &format!("{timesheet}/corrections"),
            Some(json!({"direction": "in", "at": "2025-05-11T01:30:00"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a time without offset is refused: {v}");
    let (status, _) = server
        .call(
            "POST",
            &format!("{timesheet}/corrections"),
            Some(json!({"direction": "in", "at": "2030-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a correction in the future is refused");
}

#[tokio::test]
async fn presence_pages_follow_a_cursor_and_flag_what_does_not_pair() {
    let server = TestServer::new();
    let site = server.site().await;
    let created = server
        .ok(
            "POST",
            "/api/employees",
            json!({"number": "E01", "name": "Ann", "org_unit_id": site, "effective_from": "2025-04-01", "retroactive": true}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let timesheet = format!("/api/employees/{id}/timesheet");
    let punch = |dir: &str, at: String| json!({"direction": dir, "at": at});
    server
        .ok(
            "POST",
            &format!("{timesheet}/corrections"),
            punch("out", "2025-05-01T06:00:00-05:00".into()),
        )
        .await;
    for day in 2..=6 {
        server
            .ok(
                "POST",
                &format!("{timesheet}/corrections"),
                punch("in", format!("2025-05-0{day}T08:00:00-05:00")),
            )
            .await;
        if day != 4 {
            server
                .ok(
                    "POST",
                    &format!("{timesheet}/corrections"),
                    punch("out", format!("2025-05-0{day}T16:00:00-05:00")),
                )
                .await;
        }
    }

    let mut all = Vec::new();
    let mut cursor = None::<String>;
    let mut pages = 0;
    loop {
        let mut path = format!(
            "{timesheet}/presence?from=2025-04-30T00:00:00Z&to=2025-05-10T00:00:00Z&limit=2"
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = server.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        all.extend(page["items"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 6);
    assert_eq!(all[0]["flags"], json!(["missing_check_in"]));
    assert_eq!(all[0]["start"], json!(null));
    assert_eq!(all[3]["flags"], json!(["missing_check_out"]));
    assert_eq!(all[3]["start"], "2025-05-04T08:00:00-05:00");
    assert_eq!(all[5]["end"], "2025-05-06T16:00:00-05:00");

    let (status, _) = server
        .call(
            "GET",
            &format!("{timesheet}/presence?from=2025-05-10T00:00:00Z&to=2025-05-01T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server
        .call(
            "GET",
            &format!(
                "{timesheet}/presence?from=2025-05-01T00:00:00Z&to=2025-05-10T00:00:00Z&cursor=junk"
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_presence_report_lists_who_is_in() {
    let server = TestServer::new();
    let site = server.site().await;
    let ann = server.employee(site, "E01", "04E87577DE9811").await;
    let bob = server.employee(site, "E02", "04724972925B14").await;
    server.ok("POST", &format!("/api/employees/{ann}/timesheet/clock-in"), json!({})).await;
    server.ok("POST", &format!("/api/employees/{bob}/timesheet/clock-in"), json!({})).await;
    server.clock.advance(Duration::from_secs(3600));
    // Read once before the clock-out, so that the report after it shows the change at once.
    assert_eq!(server.present(None).await, [ann.to_string(), bob.to_string()]);
    server.ok("POST", &format!("/api/employees/{bob}/timesheet/clock-out"), json!({})).await;

    let (_, now) = server.call("GET", "/api/reports/presence", None).await;
    let present: Vec<&str> =
        now["present"].as_array().unwrap().iter().map(|p| p["number"].as_str().unwrap()).collect();
    assert_eq!(present, ["E01"]);
    assert_eq!(now["present"][0]["since"], "2025-05-11T12:00:00-05:00");

    let (_, earlier) =
        server.call("GET", "/api/reports/presence?at=2025-05-11T12:30:00-05:00", None).await;
    assert_eq!(earlier["present"].as_array().unwrap().len(), 2);

    // Ann never checks out: sixteen hours on (the most an interval may stay open) she still
    // counts, a minute later her check-out was forgotten and she is no longer on site.
    assert_eq!(server.present(Some("2025-05-12T04:00:00-05:00")).await, [ann.to_string()]);
    assert!(server.present(Some("2025-05-12T04:01:00-05:00")).await.is_empty());
    server.clock.advance(Duration::from_secs(20 * 3600));
    assert!(server.present(None).await.is_empty());
}

#[tokio::test]
async fn paging_returns_every_item_once_while_items_are_inserted_between_pages() {
    let server = TestServer::new();
    let site = server.site().await;
    let first: Vec<String> =
        ["E10", "E20", "E30", "E40", "E50"].iter().map(|s| s.to_string()).collect();
    for (i, number) in first.iter().enumerate() {
        server.employee(site, number, &format!("0A0B0C{i:02}")).await;
    }

    let inserts = [["E05", "E25"], ["E15", "E45"], ["E35", "E60"]];
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut page_no = 0;
    loop {
        let mut path = "/api/employees?limit=2".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = server.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["number"].as_str().unwrap().to_owned()),
        );
        // Others add employees before and after the cursor while we page.
        if let Some(batch) = inserts.get(page_no) {
            for (j, number) in batch.iter().enumerate() {
                server.employee(site, number, &format!("0D0E{page_no:02}{j:02}")).await;
            }
        }
        page_no += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }

    for number in &first {
        assert_eq!(seen.iter().filter(|s| *s == number).count(), 1, "{number} in {seen:?}");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no item twice: {seen:?}");

    let (status, _) = server.call("GET", "/api/employees?limit=1001", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the maximum page size is 1000");
}

#[tokio::test]
async fn metrics_count_requests_per_route_and_kiosks_by_state() {
    let server = TestServer::new();
    let site = server.site().await;
    server.kiosk(site).await;
    server.call("GET", "/api/employees", None).await;
    server.call("GET", "/api/employees", None).await;
    let request =
        Request::get("/api/metrics").header("authorization", format!("Bearer {}", server.key));
    let (status, body) = server.raw(request.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains(
            "mtime_http_requests_total{route=\"/api/employees\",method=\"GET\",status=\"200\"} 2"
        ),
        "{text}"
    );
    assert!(text.contains("mtime_kiosks{state=\"awaiting_enrollment\"} 1"), "{text}");
}

#[tokio::test]
async fn paging_is_exact_to_the_nanosecond() {
    let server = TestServer::new();
    let site = server.site().await;
    let id = server.employee(site, "E01", "04E87577DE9811").await;
    let timesheet = format!("/api/employees/{id}/timesheet");
    for (i, at) in ["08:00:00.123456789", "08:00:00.123456999", "09:00:00.5"].iter().enumerate() {
        let body = json!({"direction": "in", "at": format!("2025-05-11T{at}-05:00")});
        server.ok("POST", &format!("{timesheet}/corrections"), body).await;
        let out = json!({"direction": "out", "at": format!("2025-05-11T1{i}:00:00-05:00")});
        server.ok("POST", &format!("{timesheet}/corrections"), out).await;
    }
    let mut starts = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut path = format!(
            "{timesheet}/presence?from=2025-05-11T00:00:00Z&to=2025-05-12T00:00:00Z&limit=1"
        );
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (_, page) = server.call("GET", &path, None).await;
        starts.extend(page["items"].as_array().unwrap().iter().map(|i| i["start"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    // Three check-ins that each lack their check-out's pairing, and two lone check-outs.
    assert_eq!(starts.len(), 5, "{starts:?}");
    let named: Vec<&serde_json::Value> = starts.iter().filter(|s| !s.is_null()).collect();
    assert_eq!(named.len(), 3, "each check-in once: {starts:?}");
}

#[tokio::test]
async fn a_retried_punch_is_refused_as_a_repeat() {
    let server = TestServer::new();
    let site = server.site().await;
    let id = server.employee(site, "E01", "04E87577DE9811").await;
    let timesheet = format!("/api/employees/{id}/timesheet");
    server.ok("POST", &format!("{timesheet}/clock-in"), json!({})).await;
    server.clock.advance(Duration::from_secs(5));
    let (status, body) =
        server.call("POST", &format!("{timesheet}/clock-in"), Some(json!({}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "repeat");

    // A request that could never be stored says why, even where it would also be a repeat.
    for reason in ["A".repeat(33), "work".into(), "WÖRK".into(), "NOPE".into()] {
        let body = json!({ "reason": reason });
        let (status, body) =
            server.call("POST", &format!("{timesheet}/clock-in"), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reason}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("reason"), "{body}");
    }

    let correction = json!({"direction": "out", "at": "2025-05-11T08:00:00-05:00"});
    server.ok("POST", &format!("{timesheet}/corrections"), correction.clone()).await;
    let (status, _) =
        server.call("POST", &format!("{timesheet}/corrections"), Some(correction)).await;
    assert_eq!(status, StatusCode::CONFLICT, "an identical correction is not stored twice");
    let (_, page) = server
        .call(
            "GET",
            &format!("{timesheet}/presence?from=2025-05-11T00:00:00Z&to=2025-05-12T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn punches_outside_the_employees_existence_or_any_sane_range_are_refused() {
    let server = TestServer::new();
    let site = server.site().await;
    let id = server.employee(site, "E01", "04E87577DE9811").await;
    let corrections = format!("/api/employees/{id}/timesheet/corrections");
    for at in ["2025-05-10T08:00:00-05:00", "1900-01-01T00:00:00Z", "0000-01-01T00:00:00+23:59"] {
        let (status, body) =
            server.call("POST", &corrections, Some(json!({"direction": "in", "at": at}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{at}: {body}");
    }
}

#[tokio::test]
async fn who_is_in_shows_the_name_valid_on_that_day() {
    let server = TestServer::new();
    let site = server.site().await;
    let id = server.employee(site, "E30", "0A0B0C0D").await;
    server
        .ok(
            "POST",
            &format!("/api/employees/{id}/versions"),
            json!({"effective_from": "2027-06-01", "name": "Bob Future"}),
        )
        .await;
    server.ok("POST", &format!("/api/employees/{id}/timesheet/clock-in"), json!({})).await;
    let (_, report) = server.call("GET", "/api/reports/presence", None).await;
    assert_eq!(report["present"][0]["name"], "Name E30");
}

#[tokio::test]
async fn clear_errors_for_unknown_units_wrong_methods_and_kiosks_without_reasons() {
    let server = TestServer::new();
    let site = server
        .ok("POST", "/api/org-units", json!({"name": "Plant", "time_zone": "America/Chicago"}))
        .await;
    let (status, body) = server
        .call("POST", "/api/kiosks", Some(json!({"name": "Door", "org_unit_id": site["id"]})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "no_reason");

    let missing = uuid::Uuid::new_v4();
    let (status, body) = server
        .call(
            "POST",
            "/api/employees",
            Some(json!({"number": "E1", "name": "A", "org_unit_id": missing})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("does not exist"), "{body}");

    let (status, body) = server.call("DELETE", "/api/employees", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");

    let lower =
        Request::get("/api/employees").header("authorization", format!("bearer {}", server.key));
    assert_eq!(server.raw(lower.body(Body::empty()).unwrap()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_evacuation_list_covers_one_site_and_its_units() {
    let server = TestServer::new();
    let plant = server.site().await;
    let hall =
        server.ok("POST", "/api/org-units", json!({"name": "Hall", "parent_id": plant})).await;
    let mine = server
        .ok("POST", "/api/org-units", json!({"name": "Mine", "time_zone": "America/Chicago"}))
        .await;
    let in_hall = server
        .employee(serde_json::from_value(hall["id"].clone()).unwrap(), "E01", "01020304")
        .await;
    let in_mine = server
        .employee(serde_json::from_value(mine["id"].clone()).unwrap(), "E02", "05060708")
        .await;
    for id in [in_hall, in_mine] {
        server.ok("POST", &format!("/api/employees/{id}/timesheet/clock-in"), json!({})).await;
    }

    let (_, plant_list) =
        server.call("GET", &format!("/api/reports/presence?org_unit_id={plant}"), None).await;
    let numbers: Vec<&str> = plant_list["present"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["E01"]);
    let (_, all) = server.call("GET", "/api/reports/presence", None).await;
    assert_eq!(all["present"].as_array().unwrap().len(), 2);
    let (status, _) = server
        .call("GET", &format!("/api/reports/presence?org_unit_id={}", uuid::Uuid::new_v4()), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn payroll_reads_intervals_and_daily_totals_as_json_and_csv() {
    let server = TestServer::new();
    let site = server.site().await;
    server
        .ok(
            "POST",
            "/api/settings/reasons",
            json!({"code": "BREAK", "name": "Break", "counts_as_work": false}),
        )
        .await;
    let id = server.employee(site, "E01", "04E87577DE9811").await;
    let corrections = format!("/api/employees/{id}/timesheet/corrections");
    server.clock.advance(Duration::from_secs(2 * 86_400));
    for (direction, at, reason, note) in [
        ("in", "2025-05-11T08:00:00-05:00", "WORK", None),
        ("out", "2025-05-11T12:00:00-05:00", "WORK", None),
        ("in", "2025-05-11T12:00:30-05:00", "BREAK", None),
        ("out", "2025-05-11T12:30:00-05:00", "BREAK", None),
        ("in", "2025-05-11T22:00:00-05:00", "WORK", None),
        ("out", "2025-05-12T02:00:00-05:00", "WORK", Some("night shift, \"late\"")),
    ] {
        let body = json!({"direction": direction, "at": at, "reason": reason, "note": note});
        let (status, v) = server.call("POST", &corrections, Some(body)).await;
        assert!(status.is_success(), "{v}");
    }

    let (status, totals) =
        server.call("GET", "/api/reports/daily-totals?from=2025-05-11&to=2025-05-12", None).await;
    assert_eq!(status, StatusCode::OK, "{totals}");
    let days: Vec<(String, u64)> = totals["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["date"].as_str().unwrap().to_owned(), t["worked_seconds"].as_u64().unwrap()))
        .collect();
    // 4 h in the morning and 2 h before midnight; the break does not count; 2 h after.
    assert_eq!(days, [("2025-05-11".to_owned(), 6 * 3600), ("2025-05-12".to_owned(), 2 * 3600)]);

    let request = Request::get("/api/reports/daily-totals.csv?from=2025-05-11&to=2025-05-12")
        .header("authorization", format!("Bearer {}", server.key));
    let (status, body) = server.raw(request.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8(body.to_vec()).unwrap(),
        "employee,date,worked_seconds,worked_hours\nE01,2025-05-11,21600,6.00\nE01,2025-05-12,7200,2.00\n"
    );

    let range = "from=2025-05-11T00:00:00-05:00&to=2025-05-13T00:00:00-05:00";
    let (_, page) =
        server.call("GET", &format!("/api/reports/intervals?{range}&limit=2"), None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["number"], "E01");
    assert!(page["next_cursor"].is_string());

    let request = Request::get(format!("/api/reports/intervals.csv?{range}"))
        .header("authorization", format!("Bearer {}", server.key));
    let (_, body) = server.raw(request.body(Body::empty()).unwrap()).await;
    let text = String::from_utf8(body.to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    // Every row has as many fields as the header names.
    let header = lines[0].split(',').count();
    assert_eq!(header, 10, "{}", lines[0]);
    assert_eq!(lines[1].split(',').count(), header, "{}", lines[1]);
    assert_eq!(
        lines[3],
        "E01,2025-05-11T22:00:00-05:00,2025-05-12T02:00:00-05:00,14400,WORK,,admin,,admin,\"night shift, \"\"late\"\"\""
    );

    let (status, _) =
        server.call("GET", "/api/reports/daily-totals?from=2025-05-12&to=2025-05-11", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) =
        server.call("GET", "/api/reports/daily-totals?from=2024-01-01&to=2025-05-11", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "at most a year");
}

/// An employee stored straight into the store, as one whose number the API no longer takes.
fn stored_unchecked(server: &TestServer, site: OrgUnitId, number: &str) -> EmployeeId {
    let version = EmployeeVersion {
        effective_from: server.clock.now().wall.date_naive(),
        name: format!("Name {number}"),
        org_unit: site,
        badges: Vec::new(),
        active: true,
        employment_terms: None,
        author: "admin".into(),
        recorded_at: server.clock.now().wall,
    };
    let record =
        EmployeeRecord { id: EmployeeId::random(), number: number.into(), versions: vec![version] };
    server.store().put_employee(&record).unwrap();
    record.id
}

#[tokio::test]
async fn the_interval_report_hands_out_every_interval_once_at_any_page_size() {
    let server = TestServer::new();
    let site = server.site().await;
    // Numbers that prefix one another, one with a tab (which sorts before the newline that
    // ends a number in the report's keys), one with that newline inside (its rows sort
    // before those of the number it extends), and from none to four intervals each. The API
    // refuses control characters in numbers; a store written before it did may hold them.
    let people = [("E1", 2), ("E10", 1), ("E1\tB", 3), ("A2", 0), ("Z", 4), ("E", 1), ("E1\n0", 2)];
    let mut ids = Vec::new();
    for (n, (number, _)) in people.iter().enumerate() {
        if number.contains(char::is_control) {
            ids.push(stored_unchecked(&server, site, number));
        } else {
            ids.push(server.employee(site, number, &format!("04E87577DE98{n:02X}")).await);
        }
    }
    server.clock.advance(Duration::from_secs(2 * 86_400));
    for (id, (_, intervals)) in ids.iter().zip(people) {
        let corrections = format!("/api/employees/{id}/timesheet/corrections");
        for i in 0..intervals {
            for (direction, minute) in [("in", 0), ("out", 30)] {
                let at = format!("2025-05-11T{:02}:{minute:02}:00Z", 8 + i);
                let body = json!({"direction": direction, "at": at, "reason": "WORK"});
                let (status, v) = server.call("POST", &corrections, Some(body)).await;
                assert!(status.is_success(), "{v}");
            }
        }
    }
    let range = "from=2025-05-11T00:00:00Z&to=2025-05-12T00:00:00Z";
    let row = |v: &serde_json::Value| {
        (v["number"].as_str().unwrap().to_owned(), v["start"].as_str().unwrap().to_owned())
    };
    let (_, whole) =
        server.call("GET", &format!("/api/reports/intervals?{range}&limit=1000"), None).await;
    let all: Vec<(String, String)> = whole["items"].as_array().unwrap().iter().map(row).collect();
    let numbers: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    let tab = ["E1\tB"; 3];
    let newline = ["E1\n0"; 2];
    let expected = [&["E"][..], &tab, &newline, &["E1", "E1", "E10"], &["Z"; 4]].concat();
    assert_eq!(numbers, expected, "in the order of the report's keys");

    for limit in [1, 2, 3, 5, 12, 13] {
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/reports/intervals?{range}&limit={limit}&cursor={c}"),
                None => format!("/api/reports/intervals?{range}&limit={limit}"),
            };
            let (status, page) = server.call("GET", &path, None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= limit);
            paged.extend(items.iter().map(row));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(paged, all, "pages of {limit}");
    }

    let (status, _) =
        server.call("GET", &format!("/api/reports/intervals?{range}&cursor=zz"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn every_list_pages_in_a_stable_order() {
    let server = TestServer::new();
    for name in ["Zeta", "Alpha", "Mid", "Beta"] {
        server
            .ok("POST", "/api/org-units", json!({"name": name, "time_zone": "Europe/Oslo"}))
            .await;
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/org-units?limit=1&cursor={c}"),
            None => "/api/org-units?limit=1".to_owned(),
        };
        let (_, page) = server.call("GET", &path, None).await;
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["Alpha", "Beta", "Mid", "Zeta"]);
}

#[tokio::test]
async fn activities_nest_within_one_type_and_require_known_dimensions() {
    let server = TestServer::new();
    let dimension = json!({"code": "VEHICLE", "name": "Vehicle", "values": ["Truck 1", "Truck 2"]});
    server.ok("POST", "/api/settings/dimensions", dimension).await;
    let (status, _) = server
        .call(
            "POST",
            "/api/settings/dimensions",
            Some(json!({"code": "EMPTY", "name": "E", "values": []})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a dimension needs values");

    server.ok("POST", "/api/settings/activities", json!({"code": "DRIVING", "name": "Driving", "type": "work", "required_dimensions": ["VEHICLE"]})).await;
    server
        .ok(
            "POST",
            "/api/settings/activities",
            json!({"code": "DELIVERY", "name": "Delivery", "type": "work", "parent": "DRIVING"}),
        )
        .await;
    let (status, body) = server
        .call(
            "POST",
            "/api/settings/activities",
            Some(json!({"code": "SICK", "name": "Sick", "type": "timeoff", "parent": "DRIVING"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("parent's type"), "{body}");
    let (status, _) = server
        .call("POST", "/api/settings/activities", Some(json!({"code": "X", "name": "X", "type": "work", "required_dimensions": ["COLOUR"]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, one) = server.call("GET", "/api/settings/activities/DELIVERY", None).await;
    assert_eq!(one["parent"], "DRIVING");
    assert_eq!(one["type"], "work");
    let (_, all) = server.call("GET", "/api/settings/activities", None).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let (status, _) = server.call("GET", "/api/settings/activities/NOPE", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_employee_cannot_join_a_unit_before_it_exists() {
    let server = TestServer::new();
    let future = server
        .ok("POST", "/api/org-units", json!({"name": "New plant", "time_zone": "America/Chicago", "effective_from": "2099-01-01"}))
        .await;
    let (status, body) = server
        .call(
            "POST",
            "/api/employees",
            Some(json!({"number": "E09", "name": "Early", "org_unit_id": future["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("exists only from 2099-01-01"),
        "{body}"
    );
}

#[tokio::test]
async fn a_transfer_to_another_zone_does_not_rewrite_the_past() {
    let server = TestServer::new();
    let site = server.site().await;
    let berlin = server
        .ok("POST", "/api/org-units", json!({"name": "Berlin", "time_zone": "Europe/Berlin"}))
        .await;
    let id = server.employee(site, "E06", "06060606").await;
    server.clock.advance(Duration::from_secs(3 * 86_400));
    let corrections = format!("/api/employees/{id}/timesheet/corrections");
    server
        .ok("POST", &corrections, json!({"direction": "in", "at": "2025-05-12T22:00:00-05:00"}))
        .await;
    server
        .ok("POST", &corrections, json!({"direction": "out", "at": "2025-05-13T06:30:00-05:00"}))
        .await;
    server
        .ok(
            "POST",
            &format!("/api/employees/{id}/versions"),
            json!({"effective_from": "2027-03-01", "org_unit_id": berlin["id"]}),
        )
        .await;

    let (_, totals) =
        server.call("GET", "/api/reports/daily-totals?from=2025-05-12&to=2025-05-13", None).await;
    let seconds: Vec<u64> = totals["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["worked_seconds"].as_u64().unwrap())
        .collect();
    assert_eq!(seconds, [2 * 3600, 6 * 3600 + 1800], "days cut at Chicago midnight");
    let (_, page) = server
        .call("GET", &format!("/api/employees/{id}/timesheet/presence?from=2025-05-12T00:00:00Z&to=2025-05-14T00:00:00Z"), None)
        .await;
    assert_eq!(page["items"][0]["start"], "2025-05-12T22:00:00-05:00");
}

#[tokio::test]
async fn a_badge_passes_to_another_employee_from_the_day_the_first_gives_it_up() {
    let server = TestServer::new();
    let site = server.site().await;
    let first = server.employee(site, "E22", "AA000002").await;
    server
        .ok(
            "POST",
            &format!("/api/employees/{first}/versions"),
            json!({"effective_from": "2026-12-30", "badges": []}),
        )
        .await;

    let (status, body) = server
        .call(
            "POST",
            "/api/employees",
            Some(json!({"number": "E24", "name": "Early", "org_unit_id": site, "badges": ["AA000002"], "effective_from": "2026-12-29"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("employee E22 on 2026-12-29"),
        "{body}"
    );

    let second = server
        .ok(
            "POST",
            "/api/employees",
            json!({"number": "E23", "name": "Next", "org_unit_id": site, "badges": ["AA000002"], "effective_from": "2026-12-30"}),
        )
        .await;
    assert_eq!(second["versions"][0]["badges"], json!(["AA000002"]));

    // Giving it back to the first employee while the second holds it is refused.
    let (status, _) = server
        .call(
            "POST",
            &format!("/api/employees/{first}/versions"),
            Some(json!({"effective_from": "2027-02-01", "badges": ["AA000002"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}
