//! The one error type of the API and the one body every error has.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// An error answered to a client: a status, a stable machine code and a sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    expected_seq: Option<u64>,
    required_permission: Option<&'static str>,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// For a sequence gap: the seq the server expects next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
    /// For a refusal: the permission the operation requires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_permission: Option<String>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            expected_seq: None,
            required_permission: None,
        }
    }

    /// 400: the request is malformed or invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the caller lacks `permission`.
    pub fn forbidden(permission: &'static str) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this operation requires the permission {permission}"),
        );
        error.required_permission = Some(permission);
        error
    }

    /// 409 for a sequence gap, naming the seq expected.
    pub fn gap(expected: u64) -> Self {
        let mut error = Self::conflict(
            "sequence_gap",
            format!("batch skips sequence numbers; the server expects seq {expected} next"),
        );
        error.expected_seq = Some(expected);
        error
    }

    /// 500, with the cause logged once and not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; see its log")
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(message) => Self::conflict("conflict", message),
            StoreError::NotFound(message) => Self::not_found(message),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                expected_seq: self.expected_seq,
                required_permission: self.required_permission.map(str::to_owned),
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// The result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
