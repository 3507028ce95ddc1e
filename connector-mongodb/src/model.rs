//! What the sink writes: one write model per record (Flink's `WriteModel`s), kept in
//! checkpoint state as BSON bytes so that every type survives a restore exactly.

use mongodb::bson::{self, Bson, Document, doc, oid::ObjectId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::MongoError;

/// One write of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum MongoWrite {
    /// Insert a document (an `_id` is given to it when it has none).
    Insert {
        /// The document.
        document: Document,
    },
    /// Replace the document matching `filter` (insert it when none does and `upsert`).
    Replace {
        /// Which document.
        filter: Document,
        /// The new document (no update operators).
        replacement: Document,
        /// Insert when nothing matches.
        upsert: bool,
    },
    /// Update the first document matching `filter` with update operators (`$set`, ...).
    Update {
        /// Which document.
        filter: Document,
        /// The update operators.
        update: Document,
        /// Insert when nothing matches.
        upsert: bool,
    },
    /// Delete the first document matching `filter`.
    Delete {
        /// Which document.
        filter: Document,
    },
}

/// Update operators whose effect on a replay differs from one application.
const NOT_IDEMPOTENT: &[&str] = &["$inc", "$mul", "$push", "$pop", "$bit", "$currentDate"];

impl MongoWrite {
    /// Insert `document`.
    pub fn insert(document: Document) -> Self {
        MongoWrite::Insert { document }
    }

    /// Insert `value` converted through serde (a struct or a map).
    pub fn insert_serde<T: Serialize>(value: &T) -> Result<Self, MongoError> {
        Ok(MongoWrite::insert(to_document(value)?))
    }

    /// Replace the document with the `_id` of `document` by it, or insert it (an
    /// upsert by `_id`: a replay leaves the collection as one delivery would).
    pub fn replace_by_id(document: Document) -> Result<Self, MongoError> {
        let id = document.get("_id").cloned().ok_or_else(|| {
            MongoError::Encode("replace_by_id needs a document with an _id (use insert, or give it an _id)".into())
        })?;
        Ok(MongoWrite::Replace { filter: doc! { "_id": id }, replacement: document, upsert: true })
    }

    /// [`MongoWrite::replace_by_id`] of `value` converted through serde.
    pub fn replace_by_id_serde<T: Serialize>(value: &T) -> Result<Self, MongoError> {
        MongoWrite::replace_by_id(to_document(value)?)
    }

    /// Update the first document matching `filter` with `update` (operators).
    pub fn update(filter: Document, update: Document, upsert: bool) -> Self {
        MongoWrite::Update { filter, update, upsert }
    }

    /// Delete the first document matching `filter`.
    pub fn delete(filter: Document) -> Self {
        MongoWrite::Delete { filter }
    }

    /// Give an insert without `_id` one now, so that a write sent again after a lost
    /// answer is the same document (and its duplicate is recognised).
    pub(crate) fn with_id(mut self) -> Self {
        if let MongoWrite::Insert { document } = &mut self
            && !document.contains_key("_id")
        {
            let mut with_id = doc! { "_id": ObjectId::new() };
            with_id.extend(std::mem::take(document));
            *document = with_id;
        }
        self
    }

    /// The document's `_id`, when the write names one.
    pub(crate) fn id(&self) -> Option<&Bson> {
        match self {
            MongoWrite::Insert { document } => document.get("_id"),
            MongoWrite::Replace { filter, .. } | MongoWrite::Update { filter, .. } | MongoWrite::Delete { filter } => {
                filter.get("_id")
            }
        }
    }

    /// The `_id` as extended JSON, for messages.
    pub(crate) fn id_text(&self) -> String {
        self.id().map(|id| id.clone().into_relaxed_extjson().to_string()).unwrap_or_else(|| "none".into())
    }

    /// Writes with equal keys must keep their order (the same filter, or an insert and
    /// a write naming the same `_id`); `None` for an insert without `_id`.
    pub(crate) fn key(&self) -> Option<Vec<u8>> {
        let key = match self {
            MongoWrite::Insert { document } => doc! { "_id": document.get("_id")?.clone() },
            MongoWrite::Replace { filter, .. } | MongoWrite::Update { filter, .. } | MongoWrite::Delete { filter } => {
                filter.clone()
            }
        };
        bson::to_vec(&key).ok()
    }

    pub(crate) fn is_insert(&self) -> bool {
        matches!(self, MongoWrite::Insert { .. })
    }

    /// Why a replay of this write could leave the collection different from one
    /// delivery, or `None`.
    pub(crate) fn not_idempotent(&self) -> Option<String> {
        match self {
            MongoWrite::Insert { document } if !document.contains_key("_id") => {
                Some("an insert without an _id gets a new document on a replay: give it an _id from the record".into())
            }
            MongoWrite::Update { update, .. } => update
                .keys()
                .find(|k| NOT_IDEMPOTENT.contains(&k.as_str()))
                .map(|operator| format!("the update uses {operator}, which changes the document again on a replay")),
            _ => None,
        }
    }

    /// Bytes on the wire (BSON of its documents).
    pub(crate) fn size(&self) -> usize {
        let len = |d: &Document| bson::to_vec(d).map(|v| v.len()).unwrap_or(0);
        match self {
            MongoWrite::Insert { document } => len(document),
            MongoWrite::Replace { filter, replacement: d, .. } | MongoWrite::Update { filter, update: d, .. } => {
                len(filter) + len(d)
            }
            MongoWrite::Delete { filter } => len(filter),
        }
    }

    /// The document as extended JSON bytes (for a side output).
    pub(crate) fn to_json_bytes(&self) -> Vec<u8> {
        Bson::Document(self.to_stored_document()).into_relaxed_extjson().to_string().into_bytes()
    }

    fn to_stored_document(&self) -> Document {
        match self.clone() {
            MongoWrite::Insert { document } => doc! { "insert": document },
            MongoWrite::Replace { filter, replacement, upsert } => {
                doc! { "replace": replacement, "filter": filter, "upsert": upsert }
            }
            MongoWrite::Update { filter, update, upsert } => {
                doc! { "update": update, "filter": filter, "upsert": upsert }
            }
            MongoWrite::Delete { filter } => doc! { "delete": 1, "filter": filter },
        }
    }

    fn from_stored_document(stored: Document) -> Result<Self, String> {
        let filter = || stored.get_document("filter").cloned().map_err(|e| e.to_string());
        let upsert = || stored.get_bool("upsert").unwrap_or(false);
        if let Ok(document) = stored.get_document("insert") {
            return Ok(MongoWrite::Insert { document: document.clone() });
        }
        if let Ok(replacement) = stored.get_document("replace") {
            return Ok(MongoWrite::Replace { filter: filter()?, replacement: replacement.clone(), upsert: upsert() });
        }
        if let Ok(update) = stored.get_document("update") {
            return Ok(MongoWrite::Update { filter: filter()?, update: update.clone(), upsert: upsert() });
        }
        if stored.contains_key("delete") {
            return Ok(MongoWrite::Delete { filter: filter()? });
        }
        Err(format!("not a stored write: {stored}"))
    }
}

/// `value` through serde as a document.
fn to_document<T: Serialize>(value: &T) -> Result<Document, MongoError> {
    bson::to_document(value).map_err(|e| MongoError::Encode(e.to_string()))
}

#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(with = "connector_base::state_bytes")]
    bson: Vec<u8>,
}

impl Serialize for MongoWrite {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bson = bson::to_vec(&self.to_stored_document()).map_err(serde::ser::Error::custom)?;
        Stored { bson }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for MongoWrite {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(d)?;
        let document: Document = bson::from_slice(&stored.bson).map_err(serde::de::Error::custom)?;
        MongoWrite::from_stored_document(document).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{DateTime, Decimal128};

    #[test]
    fn writes_come_back_from_checkpoint_state_with_their_types() {
        let document = doc! {
            "_id": ObjectId::new(), "small": 1i32, "big": 1i64 << 40, "when": DateTime::from_millis(5),
            "price": "1.10".parse::<Decimal128>().unwrap(), "nested": { "list": [1i32, "two"] },
        };
        let writes = [
            MongoWrite::insert(document.clone()),
            MongoWrite::replace_by_id(document.clone()).unwrap(),
            MongoWrite::update(doc! { "k": 1i32 }, doc! { "$set": { "v": 2i64 } }, true),
            MongoWrite::delete(doc! { "_id": 3i32 }),
        ];
        for write in writes {
            let json = serde_json::to_string(&write).unwrap();
            assert_eq!(serde_json::from_str::<MongoWrite>(&json).unwrap(), write, "{json}");
        }
    }

    #[test]
    fn writes_a_replay_would_change_are_named() {
        assert!(MongoWrite::insert(doc! { "v": 1 }).not_idempotent().unwrap().contains("without an _id"));
        assert!(MongoWrite::insert(doc! { "_id": 1, "v": 1 }).not_idempotent().is_none());
        let inc = MongoWrite::update(doc! { "_id": 1 }, doc! { "$inc": { "n": 1 } }, true);
        assert!(inc.not_idempotent().unwrap().contains("$inc"));
        let set = MongoWrite::update(doc! { "_id": 1 }, doc! { "$set": { "n": 1 } }, true);
        assert!(set.not_idempotent().is_none());
        assert!(MongoWrite::replace_by_id(doc! { "v": 1 }).is_err());
    }

    #[test]
    fn an_insert_gets_an_id_once_and_keys_follow_ids() {
        let write = MongoWrite::insert(doc! { "v": 1 }).with_id();
        let id = write.id().cloned().unwrap();
        assert_eq!(write.clone().with_id().id(), Some(&id));
        assert_eq!(write.key(), MongoWrite::delete(doc! { "_id": id }).key());
        assert_eq!(MongoWrite::insert(doc! { "v": 1 }).key(), None);
    }
}
