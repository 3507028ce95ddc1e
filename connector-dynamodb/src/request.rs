//! What the sink writes: a put of a whole item or a delete by key, on the sink's table.

use serde::{Deserialize, Serialize};

use crate::attribute::{Item, item_size, to_item};
use crate::error::DynamoDbError;

/// One write of a `BatchWriteItem` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DynamoDbWriteRequest {
    /// Put (create or replace) this item.
    Put(Item),
    /// Delete the item with this primary key.
    Delete(Item),
}

impl DynamoDbWriteRequest {
    /// A put of `value` converted through serde (a struct or a map).
    pub fn put<T: Serialize>(value: &T) -> Result<Self, DynamoDbError> {
        to_item(value).map(DynamoDbWriteRequest::Put)
    }

    /// A delete of the item whose primary key is `key` (a struct or a map holding the
    /// key attributes only).
    pub fn delete<T: Serialize>(key: &T) -> Result<Self, DynamoDbError> {
        to_item(key).map(DynamoDbWriteRequest::Delete)
    }

    /// The item or key it carries.
    pub fn attributes(&self) -> &Item {
        match self {
            DynamoDbWriteRequest::Put(item) | DynamoDbWriteRequest::Delete(item) => item,
        }
    }

    /// Bytes DynamoDB counts for it.
    pub fn size(&self) -> usize {
        item_size(self.attributes())
    }
}
