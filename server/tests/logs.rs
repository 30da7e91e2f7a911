//! Secrets never reach logs: no API key appears in any log line at any level, even when a
//! key is sent in the query string. Alone in its test binary, because a thread-local
//! subscriber shares callsite state with whatever else runs in the process.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use common::TestServer;

async fn key_for_reader(server: &TestServer) -> String {
    let user = server
        .ok("POST", "/api/service-users", json!({"name": "reader", "role": "integration_reader"}))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let key = server.ok("POST", &format!("/api/service-users/{id}/api-keys"), json!({})).await;
    key["api_key"].as_str().unwrap().to_owned()
}

async fn get_as(server: &TestServer, key: &str, path: &str) {
    let request = Request::get(path).header("authorization", format!("Bearer {key}"));
    server.raw(request.body(Body::empty()).unwrap()).await;
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_api_key_reaches_any_log_line_even_from_the_query_string() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::new();
    let key = key_for_reader(&server).await;
    get_as(&server, &key, "/api/employees").await;
    get_as(&server, &key, "/api/settings/reasons").await;
    let in_query = format!("/api/employees?api_key={key}&x={}", server.key);
    server.raw(Request::get(in_query).body(Body::empty()).unwrap()).await;
    server.raw(Request::get(format!("/api/employees/{key}")).body(Body::empty()).unwrap()).await;
    let wrong = Request::get("/api/employees").header("authorization", format!("Bearer {key}x"));
    server.raw(wrong.body(Body::empty()).unwrap()).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request"), "the requests were logged");
    assert!(logs.contains("caller.key_id"), "with the key's id");
    for secret in [&key, &server.key] {
        assert!(!logs.contains(secret.as_str()), "a key reached the logs");
        assert!(!logs.contains(&secret["mtime_ak_".len()..]), "part of a key reached the logs");
    }
}
