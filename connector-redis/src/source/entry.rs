//! What the source emits, and reading it out of `XREAD` / `XREADGROUP` replies.

use redis::Value;
use stream_core::Result;

use crate::error::RedisError;
use crate::stream_id::StreamId;

/// One stream entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamEntry {
    /// The stream key.
    pub key: String,
    /// The entry id.
    pub id: StreamId,
    /// Field-value pairs in order.
    pub fields: Vec<(String, Vec<u8>)>,
}

impl StreamEntry {
    /// The value of the first field named `name`.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        self.fields.iter().find(|(f, _)| f == name).map(|(_, v)| v.as_slice())
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::BulkString(b) => Some(b.clone()),
        Value::SimpleString(s) => Some(s.as_bytes().to_vec()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// The entries of one stream in a read reply (RESP2 arrays or RESP3 maps). Entries
/// deleted while pending come back without fields; they are returned with
/// `fields` empty and `deleted = true` in the second element.
pub(crate) fn parse_read_reply(operation: &'static str, reply: &Value) -> Result<Vec<(StreamEntry, bool)>> {
    let streams: Vec<(&Value, &Value)> = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Array(pair) if pair.len() == 2 => Ok((&pair[0], &pair[1])),
                other => Err(RedisError::reply(operation, other)),
            })
            .collect::<Result<_>>()?,
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        other => return Err(RedisError::reply(operation, other)),
    };
    let mut out = Vec::new();
    for (key, entries) in streams {
        let key = text(key).ok_or_else(|| RedisError::reply(operation, key))?;
        let Value::Array(entries) = entries else { return Err(RedisError::reply(operation, entries)) };
        for entry in entries {
            let Value::Array(parts) = entry else { return Err(RedisError::reply(operation, entry)) };
            let id = parts.first().and_then(text).and_then(|t| StreamId::parse(&t));
            let Some(id) = id else { return Err(RedisError::reply(operation, entry)) };
            let (fields, deleted) = match parts.get(1) {
                Some(Value::Array(kv)) => {
                    let mut fields = Vec::with_capacity(kv.len() / 2);
                    for pair in kv.chunks(2) {
                        match (pair.first().and_then(text), pair.get(1).and_then(bytes)) {
                            (Some(f), Some(v)) => fields.push((f, v)),
                            _ => return Err(RedisError::reply(operation, entry)),
                        }
                    }
                    (fields, false)
                }
                Some(Value::Map(kv)) => {
                    let mut fields = Vec::with_capacity(kv.len());
                    for (f, v) in kv {
                        match (text(f), bytes(v)) {
                            (Some(f), Some(v)) => fields.push((f, v)),
                            _ => return Err(RedisError::reply(operation, entry)),
                        }
                    }
                    (fields, false)
                }
                Some(Value::Nil) | None => (Vec::new(), true),
                Some(other) => return Err(RedisError::reply(operation, other)),
            };
            out.push((StreamEntry { key: key.clone(), id, fields }, deleted));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn reads_resp2_replies_and_deleted_pending_entries() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![
                Value::Array(vec![bulk("1-0"), Value::Array(vec![bulk("a"), bulk("x"), bulk("b"), bulk("y")])]),
                Value::Array(vec![bulk("1-1"), Value::Nil]),
            ]),
        ])]);
        let out = parse_read_reply("XREAD", &reply).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0.fields, vec![("a".into(), b"x".to_vec()), ("b".into(), b"y".to_vec())]);
        assert_eq!(out[0].0.field("b"), Some(&b"y"[..]));
        assert!(!out[0].1 && out[1].1);
        assert!(parse_read_reply("XREAD", &Value::Int(3)).is_err());
        assert!(parse_read_reply("XREAD", &Value::Nil).unwrap().is_empty());
    }
}
