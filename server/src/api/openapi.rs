//! The OpenAPI 3.1 document, generated from the operation list and the types' JSON
//! Schemas (draft 2020-12, which OpenAPI 3.1 uses as is).

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::error::{ApiError, ErrorBody};
use super::operation::{Access, Content, Operation, schema};

/// The areas of the API, in the order the orientation page lists them.
pub const TAGS: &[(&str, &str)] = &[
    ("Settings", "Configuration: reasons."),
    ("Organization", "Employees, employments and the org-unit hierarchy."),
    ("Users", "Roles, interactive users, service users and API keys."),
    ("Timesheet", "Clock in and out, presence intervals, corrections."),
    ("Reports", "Presence now or at an instant; review queues."),
    ("Kiosks", "Shared check-in terminals: admin routes and device routes."),
    ("Me", "The signed-in interactive user."),
    ("Events", "The durable feed of domain events, its live stream, and outbound webhooks."),
    ("Meta", "The API itself: health check and this document."),
];

fn content(kind: Content, generator: &mut schemars::SchemaGenerator) -> Option<Value> {
    match kind {
        Content::None => None,
        Content::Json(schema) => Some(json!({"application/json": {"schema": schema(generator)}})),
        Content::Signed => Some(json!({"application/octet-stream": {
            "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
        }})),
        Content::Text => Some(json!({"text/plain": {"schema": {"type": "string"}}})),
        Content::EventStream => Some(json!({"text/event-stream": {"schema": {"type": "string"}}})),
        Content::Csv => Some(json!({"text/csv": {"schema": {"type": "string"}}})),
        Content::Yaml => Some(json!({"application/yaml": {"schema": {
            "type": "object",
            "description": "The same document as openapi.json, as YAML."
        }}})),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "Done; no content.",
        400 => "The request is malformed or invalid; nothing changed.",
        401 => "No valid credentials: a missing, unknown, revoked or expired key or signature.",
        403 => {
            "The caller lacks the permission this operation requires, or the change reaches \
             beyond the org units it is limited to; nothing changed."
        }
        404 => "No such resource.",
        409 => "Conflicts with the current state; nothing changed.",
        413 => "The body is too large.",
        429 => "Too many failed attempts; wait before trying again.",
        _ => "Error",
    }
}

fn parameters(operation: &Operation, generator: &mut schemars::SchemaGenerator) -> Vec<Value> {
    let mut out = Vec::new();
    for segment in operation.path.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            // Ids are UUIDs; settings are named by their code.
            let schema = if name == "id" || name.ends_with("_id") {
                json!({"type": "string", "format": "uuid"})
            } else {
                json!({"type": "string", "pattern": "^[A-Z0-9_-]{1,32}$"})
            };
            out.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
        }
    }

    if let Some(query) = operation.query {
        // Query parameters are the properties of the query type's schema, inlined.
        let mut inline = schemars::SchemaGenerator::new(SchemaSettings::draft2020_12().with(|s| {
            s.inline_subschemas = true;
        }));
        let schema = query(&mut inline).to_value();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                let mut property = property.clone();
                let description = property.as_object_mut().and_then(|p| p.remove("description"));
                let mut parameter = json!({
                    "name": name, "in": "query", "required": required.contains(&name.as_str()),
                    "schema": property
                });
                if let Some(description) = description {
                    parameter["description"] = description;
                }
                out.push(parameter);
            }
        }
        let _ = generator;
    }
    out
}

/// Builds the document for `operations`.
pub fn document(operations: &[Operation]) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let error_schema = schema::<ErrorBody>(&mut generator);

    let mut paths: Map<String, Value> = Map::new();
    for operation in operations {
        let mut responses = Map::new();
        let mut success = json!({"description": reason(operation.status)});
        if let Some(body) = content(operation.response, &mut generator) {
            success["content"] = body;
        }
        if !operation.links.is_empty() {
            let links: Map<String, Value> = operation
                .links
                .iter()
                .map(|(target, parameters)| {
                    let parameters: Map<String, Value> =
                        parameters.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
                    (target.to_string(), json!({"operationId": target, "parameters": parameters}))
                })
                .collect();
            success["links"] = Value::Object(links);
        }
        responses.insert(operation.status.to_string(), success);

        let mut errors: Vec<u16> = operation.errors.to_vec();
        if operation.path.contains('{') {
            errors.push(404); // an id that is malformed or unknown
        }
        match operation.access {
            Access::Key(_) => errors.extend([401, 403]),
            Access::Device => errors.push(401),
            Access::Public => {}
        }
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            responses.insert(
                status.to_string(),
                json!({"description": reason(status), "content": {"application/json": {"schema": error_schema}}}),
            );
        }

        let mut entry = json!({
            "operationId": operation.id,
            "summary": operation.summary,
            "tags": [operation.tag],
            "parameters": parameters(operation, &mut generator),
            "responses": responses,
        });
        if let Some(description) = operation.description {
            entry["description"] = json!(description);
        }
        if let Some(body) = content(operation.request, &mut generator) {
            entry["requestBody"] =
                json!({"required": !operation.request_optional, "content": body});
        }
        match operation.access {
            Access::Key(permission) => {
                entry["x-required-permission"] = json!(permission);
                entry["security"] = json!([{"apiKey": []}]);
            }
            Access::Device => {
                entry["x-required-permission"] = json!("kiosk:device");
                entry["security"] = json!([]);
            }
            Access::Public => {
                entry["x-required-permission"] = json!("none");
                entry["security"] = json!([]);
            }
        }

        let item = paths.entry(operation.path.to_owned()).or_insert_with(|| json!({}));
        item[operation.method.as_str().to_ascii_lowercase()] = entry;
    }

    let schemas = generator.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "mtime",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Time and attendance. Every operation names the permission it \
                            requires in x-required-permission."
        },
        "servers": [{"url": "/"}],
        "tags": TAGS.iter().map(|(name, d)| json!({"name": name, "description": d})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {
                "type": "http", "scheme": "bearer", "bearerFormat": "mtime_ak_…",
                "description": "A service user's API key."
            }}
        },
        "security": [{"apiKey": []}]
    })
}

/// The schema of the document itself, as operations answer it.
pub fn document_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "description": "An OpenAPI 3.1 document."
    })
}

/// The document of this build's operations, made once.
pub fn served() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| document(&super::operations()))
}

/// `GET /api/openapi.json`
pub async fn json() -> Response {
    axum::Json(served()).into_response()
}

/// `GET /api/openapi.yaml`
pub async fn yaml() -> Result<Response, ApiError> {
    let text = serde_norway::to_string(served()).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/yaml")], text).into_response())
}
