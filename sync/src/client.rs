//! HTTPS to the server's device routes, with reqwest and rustls.

use std::time::Duration;

use mtime_core::ids::KioskId;
use mtime_core::protocol::{EnrollRequest, EnrollResponse};

use crate::SyncError;

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What the server said to an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadReply {
    /// A signed receipt (new or resent).
    Receipt(Vec<u8>),
    /// The batch conflicts with what the server holds.
    Fork(String),
    /// The server expects another seq.
    Gap {
        /// The seq expected.
        expected: u64,
    },
}

/// A client of one server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
    expected_seq: Option<u64>,
}

impl Client {
    /// A client for `server_url` trusting the system's roots and, if given, `ca_pem`.
    pub fn new(server_url: &str, ca_pem: Option<&str>) -> Result<Self, SyncError> {
        // One crypto provider for the process; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("mtime-kiosk/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_pem {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| SyncError::Config(format!("server CA certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| SyncError::Config(format!("HTTP client: {e}")))?;

        let base = server_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(SyncError::Config(format!(
                "server URL {server_url:?} must start with https:// (or http:// for a local test)"
            )));
        }
        Ok(Self { http, base })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api{path}", self.base)
    }

    async fn refusal(response: reqwest::Response) -> SyncError {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| format!("{}: {}", b.error.code, b.error.message))
            .unwrap_or_else(|_| text.chars().take(200).collect());
        if status.is_server_error() {
            SyncError::Transient(format!("server answered {status}: {message}"))
        } else {
            SyncError::Refused { status: status.as_u16(), message }
        }
    }

    /// Enrolls with a one-time code.
    pub async fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse, SyncError> {
        let response = self
            .http
            .post(self.url("/kiosk/enroll"))
            .json(request)
            .send()
            .await
            .map_err(|e| SyncError::Transient(error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(Self::refusal(response).await);
        }
        response.json().await.map_err(|e| SyncError::Protocol(format!("enrollment answer: {e}")))
    }

    async fn post_signed(
        &self,
        kiosk: KioskId,
        route: &str,
        body: Vec<u8>,
    ) -> Result<reqwest::Response, SyncError> {
        self.http
            .post(self.url(&format!("/kiosk/{kiosk}/{route}")))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| SyncError::Transient(error_chain(&e)))
    }

    async fn signed_reply(
        &self,
        kiosk: KioskId,
        route: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, SyncError> {
        let response = self.post_signed(kiosk, route, body).await?;
        if !response.status().is_success() {
            return Err(Self::refusal(response).await);
        }
        let bytes = response.bytes().await.map_err(|e| SyncError::Transient(error_chain(&e)))?;
        Ok(bytes.to_vec())
    }

    /// Sends a sealed batch.
    pub async fn upload(&self, kiosk: KioskId, batch: Vec<u8>) -> Result<UploadReply, SyncError> {
        let response = self.post_signed(kiosk, "batches", batch).await?;
        let status = response.status();
        if status.is_success() {
            let bytes =
                response.bytes().await.map_err(|e| SyncError::Transient(error_chain(&e)))?;
            return Ok(UploadReply::Receipt(bytes.to_vec()));
        }
        if status == reqwest::StatusCode::CONFLICT {
            let text = response.text().await.unwrap_or_default();
            if let Ok(body) = serde_json::from_str::<ErrorBody>(&text) {
                match (body.error.code.as_str(), body.error.expected_seq) {
                    ("sequence_gap", Some(expected)) => return Ok(UploadReply::Gap { expected }),
                    ("fork", _) => return Ok(UploadReply::Fork(body.error.message)),
                    _ => {}
                }
            }
            return Err(SyncError::Refused {
                status: 409,
                message: text.chars().take(200).collect(),
            });
        }
        Err(Self::refusal(response).await)
    }

    /// Asks for the roster with a sealed request; returns the sealed roster.
    pub async fn roster(&self, kiosk: KioskId, request: Vec<u8>) -> Result<Vec<u8>, SyncError> {
        self.signed_reply(kiosk, "roster", request).await
    }

    /// Sends a sealed heartbeat; returns the sealed reply.
    pub async fn heartbeat(&self, kiosk: KioskId, beat: Vec<u8>) -> Result<Vec<u8>, SyncError> {
        self.signed_reply(kiosk, "heartbeat", beat).await
    }

    /// Sends a key rotation request; returns the sealed reply.
    pub async fn rotate_key(&self, kiosk: KioskId, request: Vec<u8>) -> Result<Vec<u8>, SyncError> {
        self.signed_reply(kiosk, "key", request).await
    }
}

/// An error with its causes, which reqwest keeps in its source chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
