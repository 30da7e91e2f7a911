//! The public API as the tools use it: JSON with the admin's bearer key.

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
    /// A client of `base` (`https://127.0.0.1:PORT`, or `http://` on loopback) trusting
    /// the certificate at `ca` if given.
    pub fn new(base: &str, ca: Option<&Path>, key: &str) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder();
        if let Some(ca) = ca {
            let pem = std::fs::read(ca)?;
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
        let http = builder.build()?;
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

impl Api {
    /// `GET path` with query parameters, every page of it, in order.
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<Vec<T>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut paged = query.to_vec();
            paged.extend(cursor.take().map(|c| ("cursor", c)));
            let page: mtime_server::api::page::Page<T> = self.get(path, &paged).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }
}
