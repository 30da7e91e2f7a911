//! The public API as the demo uses it: JSON over HTTPS with the admin's bearer key.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An API client.
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    /// A client of `base` (`https://127.0.0.1:PORT`) trusting the certificate at `ca`.
    pub fn new(base: &str, ca: &Path, key: &str) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pem = std::fs::read(ca)?;
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .build()?;
        Ok(Self { http, base: base.to_owned(), key: key.to_owned() })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> anyhow::Result<T> {
        let response =
            request.bearer_auth(&self.key).send().await.with_context(|| what.to_owned())?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{what}: {status}: {text}");
        }
        serde_json::from_str(&text).with_context(|| format!("{what}: unexpected answer {text}"))
    }

    /// `POST path` with a JSON body.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        let what = format!("POST {path}");
        self.send(self.http.post(format!("{}{path}", self.base)).json(body), &what).await
    }

    /// `GET path` with query parameters.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let what = format!("GET {path}");
        self.send(self.http.get(format!("{}{path}", self.base)).query(query), &what).await
    }
}
