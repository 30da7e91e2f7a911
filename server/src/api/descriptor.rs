//! The rule engine's plugins and their configuration schemas, so an integrator can read
//! what a policy takes before configuring one.

use axum::Json;
use axum::extract::State;
use schemars::generate::SchemaSettings;
use serde::{Deserialize, Serialize};

use mtime_core::weeks::WeeklyNorm;

use super::error::{ApiError, ApiResult};
use super::extract::{PathParams, QueryParams};
use super::page::{Page, PageParams, paginate_by_text};
use crate::state::AppState;

/// One plugin.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PluginView {
    /// The registry it belongs to, such as `counters`.
    pub registry: String,
    /// Its id within the registry.
    pub id: String,
    /// What it does.
    pub description: String,
    /// Where its configuration schema is served.
    pub schema_path: String,
    /// Where its configuration lives.
    pub configured_in: String,
}

struct Plugin {
    registry: &'static str,
    id: &'static str,
    description: &'static str,
    configured_in: &'static str,
    schema: fn() -> serde_json::Map<String, serde_json::Value>,
}

fn schema_of<T: schemars::JsonSchema>() -> serde_json::Map<String, serde_json::Value> {
    let schema = SchemaSettings::draft2020_12().into_generator().into_root_schema_for::<T>();
    match serde_json::to_value(schema) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// Every plugin there is.
const PLUGINS: &[Plugin] = &[Plugin {
    registry: "counters",
    id: "weekly-overtime",
    description: "Norm-aware week counter: worked time per local week, regular up to the \
                  weekly norm and overtime beyond it; flagged intervals count as recorded.",
    configured_in: "/api/settings/employment-terms (weekly_overtime)",
    schema: schema_of::<WeeklyNorm>,
}];

fn view(plugin: &Plugin) -> PluginView {
    PluginView {
        registry: plugin.registry.to_owned(),
        id: plugin.id.to_owned(),
        description: plugin.description.to_owned(),
        schema_path: format!("/api/descriptor/plugins/{}/{}/schema", plugin.registry, plugin.id),
        configured_in: plugin.configured_in.to_owned(),
    }
}

/// `GET /api/descriptor/plugins/`
pub async fn list(
    State(_): State<AppState>,
    QueryParams(query): QueryParams<PageParams>,
) -> ApiResult<Json<Page<PluginView>>> {
    let views: Vec<PluginView> = PLUGINS.iter().map(view).collect();
    Ok(Json(paginate_by_text(views, &query, |v| format!("{}/{}", v.registry, v.id))?))
}

/// Path of one plugin.
#[derive(Debug, Deserialize)]
pub struct PluginPath {
    registry: String,
    plugin_id: String,
}

/// `GET /api/descriptor/plugins/{registry}/{plugin_id}/schema`: a JSON Schema (2020-12).
pub async fn schema(
    State(_): State<AppState>,
    PathParams(path): PathParams<PluginPath>,
) -> ApiResult<Json<serde_json::Map<String, serde_json::Value>>> {
    PLUGINS
        .iter()
        .find(|p| p.registry == path.registry && p.id == path.plugin_id)
        .map(|p| Json((p.schema)()))
        .ok_or_else(|| {
            ApiError::not_found(format!("no plugin {}/{}", path.registry, path.plugin_id))
        })
}
