//! A bulk answer, item by item: the answer is 200 even when items failed, so each
//! item is classified: written, already written, retry, or refused for good.

use serde::Deserialize;

use crate::action::{Action, Operation};

/// The parts of a bulk answer the sink reads.
#[derive(Deserialize)]
pub(crate) struct BulkAnswer {
    #[serde(default)]
    pub items: Vec<std::collections::HashMap<String, Item>>,
}

/// Whether any item failed, without reading the items.
#[derive(Deserialize)]
pub(crate) struct BulkSummary {
    #[serde(default)]
    pub errors: bool,
}

/// One item's result.
#[derive(Deserialize)]
pub(crate) struct Item {
    pub status: u16,
    #[serde(default)]
    pub error: Option<Cause>,
}

/// An item's error.
#[derive(Deserialize)]
pub(crate) struct Cause {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// What became of one action.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Written,
    /// Refused because it was written before (a replay): a create on an existing
    /// deterministic id, or an external version that is not newer.
    AlreadyWritten,
    /// Worth sending again: 429, 5xx, a concurrent update.
    Retry {
        status: u16,
        reason: String,
    },
    /// Refused for good: goes to the failure policy.
    Refused {
        status: u16,
        error_type: String,
        reason: String,
    },
}

/// The outcome of `action` from its `item`.
pub(crate) fn classify(action: &Action, item: &Item) -> Outcome {
    let status = item.status;
    let (error_type, reason) = match &item.error {
        Some(cause) => (cause.kind.clone(), cause.reason.clone().unwrap_or_default()),
        None => (String::new(), String::new()),
    };
    match status {
        200..=299 => Outcome::Written,
        // Deleting what is not there leaves the index as wanted (a replayed delete).
        404 if action.operation == Operation::Delete && item.error.is_none() => Outcome::Written,
        409 if action.operation == Operation::Create && action.id.is_some() => Outcome::AlreadyWritten,
        409 if action.version.is_some() => Outcome::AlreadyWritten,
        // Another writer changed the document meanwhile.
        409 if action.operation == Operation::Update => Outcome::Retry { status, reason },
        429 | 500..=599 => Outcome::Retry { status, reason: if reason.is_empty() { error_type } else { reason } },
        _ => Outcome::Refused { status, error_type, reason },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::action::VersionType;

    fn item(status: u16, kind: Option<&str>) -> Item {
        Item { status, error: kind.map(|k| Cause { kind: k.into(), reason: Some(format!("{k} reason")) }) }
    }

    #[test]
    fn items_are_classified_by_status_operation_and_id() {
        let doc = serde_json::json!({});
        let index = Action::index("i", &doc).unwrap().id("1");
        let create = Action::create("i", "1", &doc).unwrap();
        let versioned = index.clone().version(3, VersionType::External);
        let update = Action::update("i", "1", &doc).unwrap();
        let delete = Action::delete("i", "1");
        assert_eq!(classify(&index, &item(201, None)), Outcome::Written);
        assert_eq!(classify(&delete, &item(404, None)), Outcome::Written);
        assert_eq!(classify(&create, &item(409, Some("version_conflict_engine_exception"))), Outcome::AlreadyWritten);
        assert_eq!(
            classify(&versioned, &item(409, Some("version_conflict_engine_exception"))),
            Outcome::AlreadyWritten
        );
        assert!(matches!(
            classify(&update, &item(409, Some("version_conflict_engine_exception"))),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(&index, &item(429, Some("es_rejected_execution_exception"))),
            Outcome::Retry { status: 429, .. }
        ));
        assert!(matches!(classify(&index, &item(503, Some("unavailable_shards_exception"))), Outcome::Retry { .. }));
        let refused = classify(&index, &item(400, Some("mapper_parsing_exception")));
        assert_eq!(
            refused,
            Outcome::Refused {
                status: 400,
                error_type: "mapper_parsing_exception".into(),
                reason: "mapper_parsing_exception reason".into()
            }
        );
        assert!(matches!(
            classify(&index, &item(409, Some("version_conflict_engine_exception"))),
            Outcome::Refused { .. }
        ));
        assert!(matches!(classify(&update, &item(404, Some("document_missing_exception"))), Outcome::Refused { .. }));
        assert!(matches!(classify(&delete, &item(404, Some("index_not_found_exception"))), Outcome::Refused { .. }));
    }
}
