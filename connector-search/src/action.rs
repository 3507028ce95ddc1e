//! One bulk action, as an emitter makes it from a record: index, create, update or
//! delete a document, with its index, id, routing and external version.

use serde::{Deserialize, Serialize};
use stream_core::{Result, StreamError};

use crate::error::SearchError;

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Write the document, replacing one with the same id.
    Index,
    /// Write the document unless one with the same id exists (409 then).
    Create,
    /// Change fields of an existing document (or insert an upsert document).
    Update,
    /// Remove the document.
    Delete,
}

impl Operation {
    /// The bulk API's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Index => "index",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// External versioning: the server keeps a document's version from the action, and
/// refuses (409) one that is not newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionType {
    /// Applied only when greater than the stored version.
    External,
    /// Applied when greater than or equal to the stored version.
    ExternalGte,
}

impl VersionType {
    fn name(self) -> &'static str {
        match self {
            VersionType::External => "external",
            VersionType::ExternalGte => "external_gte",
        }
    }
}

/// One bulk action. Make it with [`Action::index`], [`Action::create`],
/// [`Action::update`] or [`Action::delete`], then set what else it needs:
///
/// ```
/// use connector_search::{Action, VersionType};
/// # fn f() -> stream_core::Result<()> {
/// let order = serde_json::json!({"id": 42, "total": 9.5});
/// let put = Action::index("orders-2026.12.05", &order)?.id("42").version(7, VersionType::External);
/// let bump = Action::update("orders", "42", &serde_json::json!({"total": 10.0}))?.doc_as_upsert();
/// let gone = Action::delete("orders", "41");
/// # let _ = (put, bump, gone); Ok(()) }
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub(crate) operation: Operation,
    pub(crate) index: String,
    pub(crate) id: Option<String>,
    pub(crate) routing: Option<String>,
    pub(crate) version: Option<(u64, VersionType)>,
    /// Index and create: the document; update: the partial document. Compact JSON.
    #[serde(with = "connector_base::state_bytes::optional")]
    pub(crate) document: Option<Vec<u8>>,
    /// Update: the document inserted when none exists. Compact JSON.
    #[serde(with = "connector_base::state_bytes::optional")]
    pub(crate) upsert: Option<Vec<u8>>,
    pub(crate) doc_as_upsert: bool,
    pub(crate) retry_on_conflict: Option<u32>,
    /// Sends that failed in a retryable way so far.
    #[serde(default)]
    pub(crate) failures: u32,
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Documents can be large and private: their size only.
        f.debug_struct("Action")
            .field("operation", &self.operation)
            .field("index", &self.index)
            .field("id", &self.id)
            .field("routing", &self.routing)
            .field("version", &self.version)
            .field("document_bytes", &self.document.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// `value` as compact JSON.
fn json(value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| SearchError::Document(e).into())
}

/// `raw` checked to be one JSON object and made compact (a bulk line must not hold a
/// newline: a pretty-printed document would break the whole request).
fn raw_json(raw: Vec<u8>) -> Result<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_slice(&raw).map_err(SearchError::Document)?;
    if !value.is_object() {
        return Err(SearchError::NotAnObject.into());
    }
    if raw.contains(&b'\n') { json(&value) } else { Ok(raw) }
}

impl Action {
    fn new(operation: Operation, index: impl Into<String>) -> Action {
        Action {
            operation,
            index: index.into(),
            id: None,
            routing: None,
            version: None,
            document: None,
            upsert: None,
            doc_as_upsert: false,
            retry_on_conflict: None,
            failures: 0,
        }
    }

    /// Index `document` (any serde value that is a JSON object) into `index`; without
    /// an [`Action::id`] the server makes one up (not allowed with exactly-once).
    pub fn index(index: impl Into<String>, document: &impl Serialize) -> Result<Action> {
        Ok(Action { document: Some(json(document)?), ..Action::new(Operation::Index, index) })
    }

    /// [`Action::index`] with the document as JSON bytes already (checked, and made
    /// compact if it holds newlines).
    pub fn index_json(index: impl Into<String>, document: impl Into<Vec<u8>>) -> Result<Action> {
        Ok(Action { document: Some(raw_json(document.into())?), ..Action::new(Operation::Index, index) })
    }

    /// Create `document` with `id` in `index`: refused (409) if it exists, which
    /// counts as already written.
    pub fn create(index: impl Into<String>, id: impl Into<String>, document: &impl Serialize) -> Result<Action> {
        Ok(Action { document: Some(json(document)?), ..Action::new(Operation::Create, index).id(id) })
    }

    /// Set the fields of `partial` on document `id` of `index`.
    pub fn update(index: impl Into<String>, id: impl Into<String>, partial: &impl Serialize) -> Result<Action> {
        Ok(Action { document: Some(json(partial)?), ..Action::new(Operation::Update, index).id(id) })
    }

    /// Delete document `id` of `index` (deleting a missing document succeeds).
    pub fn delete(index: impl Into<String>, id: impl Into<String>) -> Action {
        Action::new(Operation::Delete, index).id(id)
    }

    /// The document's id.
    pub fn id(mut self, id: impl Into<String>) -> Action {
        self.id = Some(id.into());
        self
    }

    /// The shard routing value.
    pub fn routing(mut self, routing: impl Into<String>) -> Action {
        self.routing = Some(routing.into());
        self
    }

    /// An external version (index and delete only): the server keeps it and refuses
    /// an older one (409), which counts as already written.
    pub fn version(mut self, version: u64, version_type: VersionType) -> Action {
        self.version = Some((version, version_type));
        self
    }

    /// Update: insert `document` when the document does not exist.
    pub fn upsert(mut self, document: &impl Serialize) -> Result<Action> {
        self.upsert = Some(json(document)?);
        Ok(self)
    }

    /// Update: insert the partial document itself when none exists.
    pub fn doc_as_upsert(mut self) -> Action {
        self.doc_as_upsert = true;
        self
    }

    /// Update: retry this many times on a concurrent change (on the server).
    pub fn retry_on_conflict(mut self, times: u32) -> Action {
        self.retry_on_conflict = Some(times);
        self
    }

    /// What it does.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Its index.
    pub fn index_name(&self) -> &str {
        &self.index
    }

    /// Its document id, if set.
    pub fn document_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Its document (index, create) or partial document (update), as JSON.
    pub fn document(&self) -> Option<&[u8]> {
        self.document.as_deref()
    }

    /// Whether replaying it leaves the index as one delivery would: it names its
    /// document by id (index, create, update with a partial document, delete).
    pub(crate) fn idempotent(&self) -> bool {
        self.id.is_some()
    }

    /// Check what the server would refuse for the whole request, or what breaks the
    /// guarantee; the error names the action.
    pub(crate) fn check(&self, exactly_once: bool) -> Result<()> {
        let bad = |why: &str| -> StreamError { StreamError::invalid("action", self.describe(), why.to_string()) };
        if let Some(reason) = invalid_index_name(&self.index) {
            return Err(bad(&format!("index name {reason}")));
        }
        if self.id.as_deref() == Some("") {
            return Err(bad("an empty id; leave it unset for a generated one"));
        }
        if self.version.is_some() && !matches!(self.operation, Operation::Index | Operation::Delete) {
            return Err(bad("external versions apply to index and delete actions only"));
        }
        if exactly_once && !self.idempotent() {
            return Err(bad(
                "exactly-once needs a deterministic id on every action (a generated id writes a replayed document \
                 twice): set Action::id from the record, or use at-least-once",
            ));
        }
        Ok(())
    }

    /// `index action on orders id 42` (no document content).
    pub(crate) fn describe(&self) -> String {
        match &self.id {
            Some(id) => format!("{} on index `{}` id `{id}`", self.operation.name(), self.index),
            None => format!("{} on index `{}` (generated id)", self.operation.name(), self.index),
        }
    }

    /// Append the action's bulk lines: the action and metadata line, then the source
    /// line for index, create and update.
    pub(crate) fn write_ndjson(&self, out: &mut Vec<u8>) {
        let meta = Meta {
            index: &self.index,
            id: self.id.as_deref(),
            routing: self.routing.as_deref(),
            version: self.version.map(|(v, _)| v),
            version_type: self.version.map(|(_, t)| t.name()),
            retry_on_conflict: self.retry_on_conflict,
        };
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(self.operation.name().as_bytes());
        out.extend_from_slice(b"\":");
        // Strings and numbers into a Vec: this cannot fail.
        let _ = serde_json::to_writer(&mut *out, &meta);
        out.extend_from_slice(b"}\n");
        match self.operation {
            Operation::Index | Operation::Create => {
                out.extend_from_slice(self.document.as_deref().unwrap_or(b"{}"));
                out.push(b'\n');
            }
            Operation::Update => {
                out.extend_from_slice(b"{\"doc\":");
                out.extend_from_slice(self.document.as_deref().unwrap_or(b"{}"));
                if let Some(upsert) = &self.upsert {
                    out.extend_from_slice(b",\"upsert\":");
                    out.extend_from_slice(upsert);
                }
                if self.doc_as_upsert {
                    out.extend_from_slice(b",\"doc_as_upsert\":true");
                }
                out.extend_from_slice(b"}\n");
            }
            Operation::Delete => {}
        }
    }

    /// The size of its bulk lines.
    pub(crate) fn ndjson_len(&self) -> usize {
        let mut out = Vec::with_capacity(128 + self.document.as_ref().map_or(0, Vec::len));
        self.write_ndjson(&mut out);
        out.len()
    }
}

/// The action and metadata of a bulk line, in a fixed order.
#[derive(Serialize)]
struct Meta<'a> {
    #[serde(rename = "_index")]
    index: &'a str,
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routing: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_on_conflict: Option<u32>,
}

/// Why `name` is not a valid index name, if it is not (the server's rules).
fn invalid_index_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.len() > 255 {
        return Some(format!("`{name}` is longer than 255 bytes"));
    }
    if name.chars().any(|c| c.is_uppercase()) {
        return Some(format!("`{name}` has upper-case letters"));
    }
    if let Some(c) = name.chars().find(|c| r#"\/*?"<>| ,#:"#.contains(*c)) {
        return Some(format!("`{name}` holds `{c}`"));
    }
    if name.starts_with(['-', '_', '+']) || name == "." || name == ".." {
        return Some(format!("`{name}` starts with `-`, `_` or `+`, or is `.` or `..`"));
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lines(action: &Action) -> String {
        let mut out = Vec::new();
        action.write_ndjson(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_operation_writes_its_bulk_lines() {
        let doc = serde_json::json!({"a": 1});
        let index = Action::index("i", &doc).unwrap().id("7").routing("r").version(3, VersionType::External);
        assert_eq!(
            lines(&index),
            "{\"index\":{\"_index\":\"i\",\"_id\":\"7\",\"routing\":\"r\",\"version\":3,\"version_type\":\"external\"}}\n{\"a\":1}\n"
        );
        let update = Action::update("i", "7", &doc).unwrap().doc_as_upsert().retry_on_conflict(2);
        assert_eq!(
            lines(&update),
            "{\"update\":{\"_index\":\"i\",\"_id\":\"7\",\"retry_on_conflict\":2}}\n{\"doc\":{\"a\":1},\"doc_as_upsert\":true}\n"
        );
        let upsert = Action::update("i", "7", &doc).unwrap().upsert(&serde_json::json!({"a": 0})).unwrap();
        assert!(lines(&upsert).ends_with("{\"doc\":{\"a\":1},\"upsert\":{\"a\":0}}\n"));
        assert_eq!(lines(&Action::delete("i", "7")), "{\"delete\":{\"_index\":\"i\",\"_id\":\"7\"}}\n");
        assert_eq!(Action::delete("i", "7").ndjson_len(), lines(&Action::delete("i", "7")).len());
    }

    #[test]
    fn raw_documents_are_checked_and_made_one_line() {
        let pretty = b"{\n  \"a\": 1\n}".to_vec();
        assert_eq!(Action::index_json("i", pretty).unwrap().document(), Some(&b"{\"a\":1}"[..]));
        assert!(Action::index_json("i", b"{\"a\":".to_vec()).is_err());
        let err = Action::index_json("i", b"[1]".to_vec()).unwrap_err().to_string();
        assert!(err.contains("JSON object"), "{err}");
    }

    #[test]
    fn bad_actions_are_named_and_exactly_once_needs_ids() {
        let doc = serde_json::json!({});
        let err = Action::index("Orders", &doc).unwrap().id("1").check(false).unwrap_err().to_string();
        assert!(err.contains("index `Orders` id `1`") && err.contains("upper-case"), "{err}");
        let generated = Action::index("orders", &doc).unwrap();
        assert!(generated.check(false).is_ok());
        let err = generated.check(true).unwrap_err().to_string();
        assert!(err.contains("(generated id)") && err.contains("deterministic id"), "{err}");
        let versioned = Action::update("o", "1", &doc).unwrap().version(1, VersionType::External);
        assert!(versioned.check(false).unwrap_err().to_string().contains("index and delete"));
        assert!(Action::delete("o", "1").check(true).is_ok());
    }
}
