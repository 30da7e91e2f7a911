//! API request bodies through the server's own extractors: the first byte picks the
//! operation (and whether the body is declared JSON), the rest is the body.
//!
//! The extractors run on a request without the router: through the router, every body
//! that decodes would be stored, so each run would depend on all the runs before it and
//! wait on a durable commit. The checks a handler makes after decoding are not reached.

#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

use mtime_core::protocol::EnrollRequest;
use mtime_server::api::error::ApiError;
use mtime_server::api::extract::{JsonBody, OptionalJson};
use mtime_server::api::{
    employees, interactive_users, kiosks, org, quarantine, reports, settings, terms, timesheet,
    users, webhooks,
};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let json = which & 0x80 == 0;
    match which & 0x7f {
        0 => json_body::<EnrollRequest>(body, json),
        1 => json_body::<employees::NewEmployee>(body, json),
        2 => json_body::<employees::NewVersion>(body, json),
        3 => json_body::<interactive_users::NewUser>(body, json),
        4 => json_body::<interactive_users::UserChange>(body, json),
        5 => json_body::<kiosks::NewKiosk>(body, json),
        6 => json_body::<kiosks::KioskSettings>(body, json),
        7 => json_body::<org::NewOrgUnit>(body, json),
        8 => json_body::<quarantine::Acceptance>(body, json),
        9 => json_body::<reports::AssignBadge>(body, json),
        10 => json_body::<settings::NewReason>(body, json),
        11 => json_body::<settings::NewDimension>(body, json),
        12 => json_body::<settings::NewActivity>(body, json),
        13 => json_body::<terms::NewTerms>(body, json),
        14 => json_body::<terms::NewTermsVersion>(body, json),
        15 => json_body::<timesheet::CorrectionRequest>(body, json),
        16 => json_body::<users::NewServiceUser>(body, json),
        17 => json_body::<webhooks::NewWebhook>(body, json),
        18 => optional_json::<timesheet::ClockRequest>(body, json),
        _ => optional_json::<users::NewApiKey>(body, json),
    }
});

fn request(body: &[u8], json: bool) -> Request {
    let mut request = Request::builder().method("POST").uri("/api/fuzz");
    if json {
        request = request.header("content-type", "application/json");
    }
    request.body(Body::from(body.to_vec())).expect("a fixed method, path and header")
}

fn json_body<T: DeserializeOwned>(body: &[u8], json: bool) {
    let result = now(JsonBody::<T>::from_request(request(body, json), &()));
    answer(result.map(drop));
}

fn optional_json<T: DeserializeOwned + Default>(body: &[u8], json: bool) {
    let result = now(OptionalJson::<T>::from_request(request(body, json), &()));
    answer(result.map(drop));
}

/// A refusal becomes the API's error response, as the router would send it.
fn answer(result: Result<(), ApiError>) {
    if let Err(error) = result {
        let response = error.into_response();
        assert!(response.status().is_client_error(), "a bad body is the client's error");
    }
}

/// Runs an extractor to its end: the whole body is in memory, so it never waits.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an extractor waited on a body held in memory"),
    }
}
