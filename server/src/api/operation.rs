//! The API's operations, declared once each: method, path, tag, permission, schemas and
//! handler. The router and the OpenAPI document are both built from this one list, so
//! the document cannot drift from what is served, and every operation's permission is
//! checked by the same code before its handler runs.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::MethodRouter;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::auth;
use super::error::ApiError;
use crate::access::Permission;
use crate::state::AppState;

/// Makes the JSON Schema of a type, registering the types it refers to.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the health check).
    Public,
    /// A kiosk, proving itself by its signature (or its one-time code when enrolling).
    Device,
    /// A caller with an API key holding this permission.
    Key(Permission),
}

/// What an operation takes or gives as its body.
#[derive(Clone, Copy)]
pub enum Content {
    /// Nothing.
    None,
    /// JSON of this schema.
    Json(SchemaFn),
    /// Signed bytes of the kiosk protocol.
    Signed,
    /// Plain text.
    Text,
    /// YAML text.
    Yaml,
    /// A CSV file.
    Csv,
    /// Server-sent events.
    EventStream,
}

/// One operation of the API.
pub struct Operation {
    /// HTTP method.
    pub method: Method,
    /// Path, with `{name}` parameters.
    pub path: &'static str,
    /// The operationId.
    pub id: &'static str,
    /// The area (tag) from the API orientation page.
    pub tag: &'static str,
    /// One line about it.
    pub summary: &'static str,
    /// More about it, for the document; none when the summary says it all.
    pub description: Option<&'static str>,
    /// Who may call it.
    pub access: Access,
    /// Its query parameters, as the schema of an object.
    pub query: Option<SchemaFn>,
    /// Its request body.
    pub request: Content,
    /// Whether the body may be left out.
    pub request_optional: bool,
    /// Its success status.
    pub status: u16,
    /// Its success body.
    pub response: Content,
    /// The error statuses it may answer besides those of authentication.
    pub errors: &'static [u16],
    /// Operations that take what this one returns: (operationId, parameter expressions).
    pub links: Vec<(&'static str, &'static [(&'static str, &'static str)])>,
    /// The handler.
    pub handler: MethodRouter<AppState>,
}

/// Starts declaring an operation.
pub fn op(
    method: Method,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
) -> Operation {
    Operation {
        method,
        path,
        id,
        tag,
        summary,
        description: None,
        access,
        query: None,
        request: Content::None,
        request_optional: false,
        status: 200,
        response: Content::None,
        errors: &[],
        links: Vec::new(),
        handler,
    }
}

impl Operation {
    /// A longer description than the summary.
    pub fn describe(mut self, description: &'static str) -> Self {
        self.description = Some(description);
        self
    }

    /// Query parameters described by `T`.
    pub fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(schema::<T>);
        self
    }

    /// A JSON body of `T`.
    pub fn json_body<T: JsonSchema>(mut self) -> Self {
        self.request = Content::Json(schema::<T>);
        self
    }

    /// A JSON body of `T` that may be left out (empty means all defaults).
    pub fn optional_json_body<T: JsonSchema>(mut self) -> Self {
        self.request = Content::Json(schema::<T>);
        self.request_optional = true;
        self
    }

    /// A signed body of the kiosk protocol.
    pub fn signed_body(mut self) -> Self {
        self.request = Content::Signed;
        self
    }

    /// Answers `status` with JSON of `T`.
    pub fn returns<T: JsonSchema>(mut self, status: u16) -> Self {
        self.status = status;
        self.response = Content::Json(schema::<T>);
        self
    }

    /// Answers `status` with JSON described by `schema`.
    pub fn returns_with(mut self, status: u16, schema: SchemaFn) -> Self {
        self.status = status;
        self.response = Content::Json(schema);
        self
    }

    /// Answers `status` with this kind of body.
    pub fn returns_content(mut self, status: u16, content: Content) -> Self {
        self.status = status;
        self.response = content;
        self
    }

    /// Says that `operation` can follow this one, its parameters taken from this
    /// one's request or response (OpenAPI runtime expressions).
    pub fn link(
        mut self,
        operation: &'static str,
        parameters: &'static [(&'static str, &'static str)],
    ) -> Self {
        self.links.push((operation, parameters));
        self
    }

    /// The error statuses it may answer.
    pub fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }
}

#[derive(Clone)]
struct Guard {
    state: AppState,
    permission: Permission,
}

async fn guard(
    State(guard): State<Guard>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    auth::authorize(&guard.state, guard.permission, request, next).await
}

/// The router serving `operations`, each behind its own access check.
pub fn router(state: &AppState, operations: Vec<Operation>) -> Router<AppState> {
    let mut router = Router::new();
    for operation in operations {
        let handler = match operation.access {
            Access::Public | Access::Device => operation.handler,
            Access::Key(permission) => {
                let guard_state = Guard { state: state.clone(), permission };
                operation.handler.route_layer(middleware::from_fn_with_state(guard_state, guard))
            }
        };
        router = router.route(operation.path, handler);
    }
    router
}
