//! A range of `_id`s and how far it was read.

use mongodb::bson::{self, Bson, doc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use stream_core::api::SourceSplit;

/// One BSON value in checkpoint state, as BSON bytes (every type comes back exactly).
#[derive(Debug, Clone, PartialEq)]
pub struct IdValue(pub Bson);

#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(with = "connector_base::state_bytes")]
    bson: Vec<u8>,
}

impl Serialize for IdValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bson = bson::to_vec(&doc! { "v": self.0.clone() }).map_err(serde::ser::Error::custom)?;
        Stored { bson }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for IdValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(d)?;
        let document: bson::Document = bson::from_slice(&stored.bson).map_err(serde::de::Error::custom)?;
        document.get("v").cloned().map(IdValue).ok_or_else(|| serde::de::Error::custom("no value"))
    }
}

/// Documents with `lower <= _id < upper` (open where `None`), read in `_id` order;
/// `last` is the `_id` of the last document emitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdRangeSplit {
    /// Its place among the splits (its id).
    pub index: u32,
    /// The first `_id` of the range (inclusive).
    pub lower: Option<IdValue>,
    /// The end of the range (exclusive).
    pub upper: Option<IdValue>,
    /// The last `_id` read: the next page starts after it.
    pub last: Option<IdValue>,
    /// The last page was read.
    pub done: bool,
}

impl IdRangeSplit {
    /// Ranges between `boundaries` (sorted): below the first, between each two, from
    /// the last on.
    pub(crate) fn between(boundaries: Vec<Bson>) -> Vec<IdRangeSplit> {
        let mut bounds: Vec<Option<IdValue>> = vec![None];
        bounds.extend(boundaries.into_iter().map(|b| Some(IdValue(b))));
        bounds.push(None);
        bounds
            .windows(2)
            .zip(0u32..)
            .map(|(pair, index)| IdRangeSplit {
                index,
                lower: pair[0].clone(),
                upper: pair[1].clone(),
                last: None,
                done: false,
            })
            .collect()
    }
}

impl SourceSplit for IdRangeSplit {
    fn split_id(&self) -> String {
        format!("ids-{}", self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::oid::ObjectId;

    #[test]
    fn ranges_cover_everything_between_the_boundaries_and_come_back_from_state() {
        let splits = IdRangeSplit::between(vec![Bson::Int64(10), Bson::Int64(20)]);
        assert_eq!(splits.len(), 3);
        assert_eq!((splits[0].lower.clone(), splits[0].upper.clone()), (None, Some(IdValue(Bson::Int64(10)))));
        assert_eq!(splits[2].upper, None);
        let mut split = splits[1].clone();
        split.last = Some(IdValue(Bson::ObjectId(ObjectId::new())));
        let json = serde_json::to_string(&split).unwrap();
        assert_eq!(serde_json::from_str::<IdRangeSplit>(&json).unwrap(), split);
        assert_eq!(IdRangeSplit::between(Vec::new()).len(), 1);
    }
}
