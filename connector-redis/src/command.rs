//! The commands the sink writes, and which of them are idempotent.
//!
//! Exactly-once by idempotence: after a crash, the sink re-sends what the restored
//! checkpoint did not cover, in the original order (one request in flight at a time, a
//! failed request retried before anything newer). A command qualifies when applying it
//! again, in that order, leaves the data as applying it once did:
//! - `SET` (with or without TTL: a repeat only renews the TTL), `HSET`, `SADD`, `ZADD`:
//!   they write a value, not a change.
//! - `XADD` with an explicit id: a repeated id is refused by the server and the sink
//!   then checks that the stream holds that id (so it was written before) and moves on.
//!
//! Not idempotent, so at-least-once only: `INCRBY` (counts twice), `LPUSH`/`RPUSH`
//! (appends twice), `PUBLISH` (delivers twice), `XADD` with a server-generated id
//! (appends twice).

use serde::{Deserialize, Serialize};

/// One write. Bytes are binary-safe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RedisCommand {
    /// `SET key value [PX ttl_ms]`.
    Set {
        /// Key.
        key: String,
        /// Value.
        value: Vec<u8>,
        /// Time to live in milliseconds.
        ttl_ms: Option<u64>,
    },
    /// `HSET key field value`.
    HSet {
        /// Key of the hash.
        key: String,
        /// Field.
        field: String,
        /// Value.
        value: Vec<u8>,
    },
    /// `LPUSH key value`.
    LPush {
        /// Key of the list.
        key: String,
        /// Value.
        value: Vec<u8>,
    },
    /// `RPUSH key value`.
    RPush {
        /// Key of the list.
        key: String,
        /// Value.
        value: Vec<u8>,
    },
    /// `SADD key member`.
    SAdd {
        /// Key of the set.
        key: String,
        /// Member.
        member: Vec<u8>,
    },
    /// `ZADD key score member`.
    ZAdd {
        /// Key of the sorted set.
        key: String,
        /// Score.
        score: f64,
        /// Member.
        member: Vec<u8>,
    },
    /// `INCRBY key by`.
    IncrBy {
        /// Key of the counter.
        key: String,
        /// Increment.
        by: i64,
    },
    /// `PUBLISH channel message`.
    Publish {
        /// Channel.
        channel: String,
        /// Message.
        message: Vec<u8>,
    },
    /// `XADD key id field value ...`; `id` `None` lets the server choose (`*`).
    XAdd {
        /// Key of the stream.
        key: String,
        /// Explicit entry id (`<ms>-<seq>`), needed for exactly-once.
        id: Option<String>,
        /// Fields in order.
        fields: Vec<(String, Vec<u8>)>,
    },
}

/// The kind of command a sink writes (declared up front, checked per record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandKind {
    /// `SET`.
    Set,
    /// `HSET`.
    HSet,
    /// `LPUSH`.
    LPush,
    /// `RPUSH`.
    RPush,
    /// `SADD`.
    SAdd,
    /// `ZADD`.
    ZAdd,
    /// `INCRBY`.
    IncrBy,
    /// `PUBLISH`.
    Publish,
    /// `XADD` with server-generated ids.
    XAdd,
    /// `XADD` with explicit ids (idempotent).
    XAddWithIds,
}

impl CommandKind {
    /// Whether repeating it in order changes nothing (see the module docs).
    pub fn is_idempotent(self) -> bool {
        matches!(
            self,
            CommandKind::Set | CommandKind::HSet | CommandKind::SAdd | CommandKind::ZAdd | CommandKind::XAddWithIds
        )
    }

    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Set => "SET",
            CommandKind::HSet => "HSET",
            CommandKind::LPush => "LPUSH",
            CommandKind::RPush => "RPUSH",
            CommandKind::SAdd => "SADD",
            CommandKind::ZAdd => "ZADD",
            CommandKind::IncrBy => "INCRBY",
            CommandKind::Publish => "PUBLISH",
            CommandKind::XAdd => "XADD",
            CommandKind::XAddWithIds => "XADD with ids",
        }
    }
}

impl RedisCommand {
    /// Its kind.
    pub fn kind(&self) -> CommandKind {
        match self {
            RedisCommand::Set { .. } => CommandKind::Set,
            RedisCommand::HSet { .. } => CommandKind::HSet,
            RedisCommand::LPush { .. } => CommandKind::LPush,
            RedisCommand::RPush { .. } => CommandKind::RPush,
            RedisCommand::SAdd { .. } => CommandKind::SAdd,
            RedisCommand::ZAdd { .. } => CommandKind::ZAdd,
            RedisCommand::IncrBy { .. } => CommandKind::IncrBy,
            RedisCommand::Publish { .. } => CommandKind::Publish,
            RedisCommand::XAdd { id: None, .. } => CommandKind::XAdd,
            RedisCommand::XAdd { id: Some(_), .. } => CommandKind::XAddWithIds,
        }
    }

    /// The key (channel for PUBLISH) it targets.
    pub fn key(&self) -> &str {
        match self {
            RedisCommand::Set { key, .. }
            | RedisCommand::HSet { key, .. }
            | RedisCommand::LPush { key, .. }
            | RedisCommand::RPush { key, .. }
            | RedisCommand::SAdd { key, .. }
            | RedisCommand::ZAdd { key, .. }
            | RedisCommand::IncrBy { key, .. }
            | RedisCommand::XAdd { key, .. } => key,
            RedisCommand::Publish { channel, .. } => channel,
        }
    }

    /// Bytes it carries (for batch size limits).
    pub(crate) fn size(&self) -> usize {
        let payload = match self {
            RedisCommand::Set { value, .. }
            | RedisCommand::HSet { value, .. }
            | RedisCommand::LPush { value, .. }
            | RedisCommand::RPush { value, .. } => value.len(),
            RedisCommand::SAdd { member, .. } | RedisCommand::ZAdd { member, .. } => member.len() + 8,
            RedisCommand::IncrBy { .. } => 8,
            RedisCommand::Publish { message, .. } => message.len(),
            RedisCommand::XAdd { fields, .. } => fields.iter().map(|(f, v)| f.len() + v.len()).sum(),
        };
        self.key().len() + payload + 16
    }

    /// The wire command.
    pub(crate) fn to_cmd(&self) -> redis::Cmd {
        let mut cmd;
        match self {
            RedisCommand::Set { key, value, ttl_ms } => {
                cmd = redis::cmd("SET");
                cmd.arg(key).arg(value);
                if let Some(ttl) = ttl_ms {
                    cmd.arg("PX").arg(*ttl);
                }
            }
            RedisCommand::HSet { key, field, value } => {
                cmd = redis::cmd("HSET");
                cmd.arg(key).arg(field).arg(value);
            }
            RedisCommand::LPush { key, value } => {
                cmd = redis::cmd("LPUSH");
                cmd.arg(key).arg(value);
            }
            RedisCommand::RPush { key, value } => {
                cmd = redis::cmd("RPUSH");
                cmd.arg(key).arg(value);
            }
            RedisCommand::SAdd { key, member } => {
                cmd = redis::cmd("SADD");
                cmd.arg(key).arg(member);
            }
            RedisCommand::ZAdd { key, score, member } => {
                cmd = redis::cmd("ZADD");
                cmd.arg(key).arg(*score).arg(member);
            }
            RedisCommand::IncrBy { key, by } => {
                cmd = redis::cmd("INCRBY");
                cmd.arg(key).arg(*by);
            }
            RedisCommand::Publish { channel, message } => {
                cmd = redis::cmd("PUBLISH");
                cmd.arg(channel).arg(message);
            }
            RedisCommand::XAdd { key, id, fields } => {
                cmd = redis::cmd("XADD");
                cmd.arg(key).arg(id.as_deref().unwrap_or("*"));
                for (field, value) in fields {
                    cmd.arg(field).arg(value);
                }
            }
        }
        cmd
    }
}
