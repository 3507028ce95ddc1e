//! A range of `_id`s and how far it was read: connector-base's `KeyRange` of BSON
//! values.

use connector_base::key_range::KeyRange;
use mongodb::bson::{self, Bson, doc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
pub type IdRangeSplit = KeyRange<IdValue>;

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::oid::ObjectId;

    #[test]
    fn ranges_cover_everything_between_the_boundaries_and_come_back_from_state() {
        let splits = IdRangeSplit::between(vec![IdValue(Bson::Int64(10)), IdValue(Bson::Int64(20))]);
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
