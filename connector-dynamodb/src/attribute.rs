//! Attribute values as the sink buffers them: buffered requests are part of checkpoint
//! state, and the SDK's `AttributeValue` cannot be serialized, so this mirror of it
//! can. Conversion from any `serde::Serialize` type goes through `serde_dynamo`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::error::DynamoDbError;

/// One DynamoDB attribute value (the types of the `AttributeValue` API shape).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Attr {
    /// String.
    S(String),
    /// Number, as DynamoDB sends it: a decimal string.
    N(String),
    /// Binary.
    B(Vec<u8>),
    /// Boolean.
    Bool(bool),
    /// Null.
    Null,
    /// List.
    L(Vec<Attr>),
    /// Map.
    M(BTreeMap<String, Attr>),
    /// String set.
    Ss(Vec<String>),
    /// Number set.
    Ns(Vec<String>),
    /// Binary set.
    Bs(Vec<Vec<u8>>),
}

/// An item or a key: attribute name to value.
pub type Item = BTreeMap<String, Attr>;

impl Attr {
    /// The SDK's value.
    pub fn to_sdk(&self) -> AttributeValue {
        match self {
            Attr::S(s) => AttributeValue::S(s.clone()),
            Attr::N(n) => AttributeValue::N(n.clone()),
            Attr::B(b) => AttributeValue::B(Blob::new(b.clone())),
            Attr::Bool(b) => AttributeValue::Bool(*b),
            Attr::Null => AttributeValue::Null(true),
            Attr::L(l) => AttributeValue::L(l.iter().map(Attr::to_sdk).collect()),
            Attr::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), v.to_sdk())).collect()),
            Attr::Ss(s) => AttributeValue::Ss(s.clone()),
            Attr::Ns(n) => AttributeValue::Ns(n.clone()),
            Attr::Bs(b) => AttributeValue::Bs(b.iter().map(|b| Blob::new(b.clone())).collect()),
        }
    }

    /// From the SDK's value; `None` for a type this version of the SDK added later.
    pub fn from_sdk(value: &AttributeValue) -> Option<Attr> {
        Some(match value {
            AttributeValue::S(s) => Attr::S(s.clone()),
            AttributeValue::N(n) => Attr::N(n.clone()),
            AttributeValue::B(b) => Attr::B(b.as_ref().to_vec()),
            AttributeValue::Bool(b) => Attr::Bool(*b),
            AttributeValue::Null(_) => Attr::Null,
            AttributeValue::L(l) => Attr::L(l.iter().map(Attr::from_sdk).collect::<Option<_>>()?),
            AttributeValue::M(m) => {
                Attr::M(m.iter().map(|(k, v)| Some((k.clone(), Attr::from_sdk(v)?))).collect::<Option<_>>()?)
            }
            AttributeValue::Ss(s) => Attr::Ss(s.clone()),
            AttributeValue::Ns(n) => Attr::Ns(n.clone()),
            AttributeValue::Bs(b) => Attr::Bs(b.iter().map(|b| b.as_ref().to_vec()).collect()),
            _ => return None,
        })
    }

    /// Bytes DynamoDB counts for this value (its item-size rules, rounded up).
    pub fn size(&self) -> usize {
        match self {
            Attr::S(s) => s.len(),
            Attr::N(n) => n.len().div_ceil(2) + 1,
            Attr::B(b) => b.len(),
            Attr::Bool(_) | Attr::Null => 1,
            Attr::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            Attr::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            Attr::Ss(s) | Attr::Ns(s) => s.iter().map(String::len).sum(),
            Attr::Bs(b) => b.iter().map(Vec::len).sum(),
        }
    }
}

/// Bytes DynamoDB counts for an item: names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value.size()).sum()
}

/// The SDK's form of an item.
pub fn item_to_sdk(item: &Item) -> HashMap<String, AttributeValue> {
    item.iter().map(|(k, v)| (k.clone(), v.to_sdk())).collect()
}

/// An item from any value that serializes to a map (a struct, a map), through
/// `serde_dynamo`: numbers become `N`, strings `S`, sequences `L`, `None` `Null`.
pub fn to_item<T: Serialize>(value: &T) -> Result<Item, DynamoDbError> {
    let sdk: HashMap<String, AttributeValue> =
        serde_dynamo::to_item(value).map_err(|e| DynamoDbError::Conversion(e.to_string()))?;
    sdk.iter()
        .map(|(k, v)| {
            Attr::from_sdk(v)
                .map(|a| (k.clone(), a))
                .ok_or_else(|| DynamoDbError::Conversion(format!("attribute `{k}` has a type this sink cannot keep")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Order {
        id: String,
        quantity: u32,
        tags: Vec<String>,
        note: Option<String>,
    }

    #[test]
    fn serde_values_become_typed_attributes_and_survive_checkpoint_json() {
        let order = Order { id: "o-1".into(), quantity: 3, tags: vec!["a".into()], note: None };
        let item = to_item(&order).unwrap_or_default();
        assert_eq!(item.get("id"), Some(&Attr::S("o-1".into())));
        assert_eq!(item.get("quantity"), Some(&Attr::N("3".into())));
        assert_eq!(item.get("tags"), Some(&Attr::L(vec![Attr::S("a".into())])));
        assert_eq!(item.get("note"), Some(&Attr::Null));
        let json = serde_json::to_string(&item).unwrap_or_default();
        let back: Item = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, item);
        let sdk = item_to_sdk(&item);
        assert_eq!(sdk.get("quantity"), Some(&AttributeValue::N("3".into())));
    }

    #[test]
    fn a_value_that_is_not_a_map_is_an_error() {
        assert!(matches!(to_item(&42), Err(DynamoDbError::Conversion(_))));
    }

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let mut item = Item::new();
        item.insert("pk".into(), Attr::S("abc".into()));
        item.insert("n".into(), Attr::N("12345".into()));
        assert_eq!(item_size(&item), 2 + 3 + 1 + 4);
    }
}
