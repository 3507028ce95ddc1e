//! Every built-in state goes through checkpoint format 2 and back unchanged: the
//! collection source's splits, the collecting sink's committables, keyed state and
//! async I/O's in-flight inputs (the sink state around writer states and committables
//! is checked in `runtime/sink_output.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Serialize;
use serde::de::DeserializeOwned;
use stream_core::builtin::{CollectBatch, CollectionSplit};
use stream_core::state::StateBlob;

/// `value` encoded and decoded again is the same, compared in its JSON form.
fn round_trips<T: Serialize + DeserializeOwned>(value: &T) {
    let blob = StateBlob::encode("state", value).unwrap();
    let back: T = blob.decode("state").unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(value).unwrap());
    // And a format-1 (JSON) state of it decodes too.
    let json = StateBlob::Json(serde_json::to_value(value).unwrap());
    let from_json: T = json.decode("state").unwrap();
    assert_eq!(serde_json::to_value(&from_json).unwrap(), serde_json::to_value(value).unwrap());
}

#[test]
fn every_built_in_state_round_trips_through_format_2() {
    round_trips(&vec![
        CollectionSplit { start: 0, next: 17, end: 100 },
        CollectionSplit { start: 100, next: 100, end: 200 },
    ]);
    let batch: Vec<CollectBatch<(u64, u64)>> =
        serde_json::from_value(serde_json::json!([{"id": "a-0-3", "checkpoint_id": 3, "records": [[1, 2], [3, 4]]}]))
            .unwrap();
    round_trips(&batch);
    // Keyed state as a keyed task snapshots it: (key, state) pairs.
    round_trips(&vec![("word".to_string(), 3u64), ("other".to_string(), 1u64)]);
    // Async I/O's in-flight inputs.
    round_trips(&vec![Some(1u64), None, Some(3)]);
}
