//! Cursor pagination: a page of items after an opaque cursor, and the cursor of the next.

use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};

/// The default and largest page sizes.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page a client may ask for.
pub const MAX_LIMIT: usize = 1000;

/// Paging parameters of a list request.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PageParams {
    /// Items per page: 1 to 1000, 100 when absent.
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page. Items that existed when the first page was
    /// read come back exactly once, whatever is added meanwhile.
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "PageOf{T}")]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Pages through `items` in the order of the key `key` gives; a cursor is the key of the
/// last item of a page, so a page stays correct when items are added before it. Keys must
/// be unique.
pub fn paginate<T, K: Ord>(
    mut items: Vec<T>,
    params: &PageParams,
    key: impl Fn(&T) -> K,
    encode: impl Fn(&K) -> String,
    decode: impl Fn(&str) -> Option<K>,
) -> ApiResult<Page<T>> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let after = match &params.cursor {
        Some(text) => Some(decode(text).ok_or_else(|| ApiError::invalid("cursor is not valid"))?),
        None => None,
    };

    items.sort_by_key(|item| key(item));
    let mut rest: Vec<T> =
        items.into_iter().filter(|item| after.as_ref().is_none_or(|a| key(item) > *a)).collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next_cursor = if more { rest.last().map(|last| encode(&key(last))) } else { None };
    Ok(Page { items: rest, next_cursor })
}

/// Pages through items ordered by a text key (a name and an id, say); the cursor is the
/// key in hex, opaque to clients.
pub fn paginate_by_text<T>(
    items: Vec<T>,
    params: &PageParams,
    key: impl Fn(&T) -> String,
) -> ApiResult<Page<T>> {
    paginate(items, params, key, |k| hex::encode(k.as_bytes()), text_cursor)
}

/// The key a cursor of [`paginate_by_text`] holds, if it is one.
pub fn text_cursor(text: &str) -> Option<String> {
    hex::decode(text).ok().and_then(|bytes| String::from_utf8(bytes).ok())
}

/// An instant as text that sorts as the instants do, for keys.
pub fn sortable_instant(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{:020}", i128::from(at.timestamp_micros()) - i128::from(i64::MIN))
}
