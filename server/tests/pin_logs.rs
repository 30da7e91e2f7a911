//! A PIN never reaches the logs: set, refused as malformed, or removed, at every level.
//! Alone in its test binary, because a thread-local subscriber shares callsite state with
//! whatever else runs in the process.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::json;

use common::TestServer;

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
async fn no_pin_reaches_any_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::new();
    let (_, ann, _, _, _) = server.enrolled().await;
    let path = format!("/api/employees/{ann}/pin");
    let (good, bad, number) = ("93527148", "9352a714", 93_527_149);
    let (status, _) = server.call("PUT", &path, Some(json!({"pin": good}))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server.call("PUT", &path, Some(json!({"pin": bad}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server.call("PUT", &path, Some(json!({"pin": number}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = server.call("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("employee PIN set"), "the change itself was logged");
    assert!(logs.contains("employee PIN removed"));
    for secret in [good, bad, &number.to_string()] {
        assert!(!logs.contains(secret), "{secret} reached the logs");
    }
}
