//! Helpers shared by the connector-redis tests: the test server, unique key names,
//! raw commands to prepare and read back data.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_redis::redis::{self, AsyncCommands, Value};
use connector_redis::{
    CommandKind, RedisCommand, RedisEndpoint, RedisSink, RedisSinkBuilder, RedisStreamsSource, StreamEntry,
};
use connector_testkit::{SinkTarget, SourceTarget, TestkitError};
use connector_testkit::{TestServer, servers};

/// The test server's URL, or `None` to skip (a failure with
/// `CONNECTOR_TESTS_REQUIRE_SERVICES=1`).
pub async fn server() -> Option<String> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    Some(TestServer::discover(&servers::REDIS).await.unwrap()?.endpoint.clone())
}

/// A key name no other test (or earlier run) uses.
pub fn unique(name: &str) -> String {
    format!("test-{name}-{}-{}", std::process::id(), fastrand::u32(..))
}

/// A plain connection for preparing and checking data.
pub async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap()
}

/// Append entries `id=<id>` for `ids` to stream `key`, in one pipeline.
pub async fn xadd_ids(url: &str, key: &str, ids: &[u64]) {
    let mut conn = raw(url).await;
    for chunk in ids.chunks(500) {
        let mut pipe = redis::pipe();
        for id in chunk {
            pipe.cmd("XADD").arg(key).arg("*").arg("id").arg(id.to_string()).ignore();
        }
        let () = pipe.query_async(&mut conn).await.unwrap();
    }
}

/// Keys matching `pattern` (SCAN, so the server is not blocked).
pub async fn keys(url: &str, pattern: &str) -> Vec<String> {
    let mut conn = raw(url).await;
    let mut out = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .unwrap();
        out.extend(batch);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

/// Every value of the list at `key`.
pub async fn list(url: &str, key: &str) -> Vec<String> {
    raw(url).await.lrange(key, 0, -1).await.unwrap()
}

/// The `id` field of every entry of stream `key`.
pub async fn stream_ids(url: &str, key: &str) -> Vec<u64> {
    let reply: Value = redis::cmd("XRANGE").arg(key).arg("-").arg("+").query_async(&mut raw(url).await).await.unwrap();
    let Value::Array(entries) = reply else { panic!("XRANGE gave {reply:?}") };
    entries
        .iter()
        .map(|e| {
            let Value::Array(parts) = e else { panic!("{e:?}") };
            let Value::Array(fields) = &parts[1] else { panic!("{e:?}") };
            let Value::BulkString(v) = &fields[1] else { panic!("{e:?}") };
            String::from_utf8_lossy(v).parse().unwrap()
        })
        .collect()
}

/// What a sink target writes.
#[derive(Clone, Copy, PartialEq)]
pub enum Write {
    /// `SET <prefix>:<id> <id>`: exactly-once.
    Set,
    /// `HSET <prefix>:<id % 7> <id> <id>`: exactly-once.
    HSet,
    /// `SADD <prefix> <id>`: exactly-once.
    SAdd,
    /// `ZADD <prefix> <id> <id>`: exactly-once.
    ZAdd,
    /// `XADD <prefix>:<id/10> <id+1>-0 id <id>`: exactly-once (explicit, increasing ids
    /// per stream; a record range of one source split is written in order).
    XAddWithIds,
    /// `RPUSH <prefix> <id>`: at-least-once.
    RPush,
    /// `LPUSH <prefix> <id>`: at-least-once.
    LPush,
    /// `INCRBY <prefix>:<id> 1`: at-least-once; a count of 2 reads back as a duplicate.
    IncrBy,
}

/// A sink suite target: a fresh key prefix on a server.
pub struct Written {
    /// The server.
    pub url: String,
    /// Keys written start with it.
    pub prefix: String,
    /// What is written.
    pub write: Write,
    /// Where the sink connects, if not to `url` (a fault proxy in front of it).
    pub via: Option<String>,
    /// The sink's request_timeout, if not the default.
    pub request_timeout: Option<std::time::Duration>,
}

impl Written {
    /// A target on the test server, or `None` to skip.
    pub async fn new(write: Write) -> Option<Arc<Written>> {
        Some(Written::at(server().await?, write))
    }

    /// A target on the server at `url`.
    pub fn at(url: String, write: Write) -> Arc<Written> {
        Arc::new(Written { url, prefix: unique("sink"), write, via: None, request_timeout: None })
    }

    /// A target on the server at `url` whose sink connects through `via`.
    pub fn through(url: String, via: String, write: Write) -> Written {
        Written { url, prefix: unique("sink"), write, via: Some(via), request_timeout: None }
    }
}

impl SinkTarget for Written {
    type Record = u64;
    type Sink = RedisSink<u64>;

    fn guarantee(&self) -> DeliveryGuarantee {
        match self.write {
            Write::RPush | Write::LPush | Write::IncrBy => DeliveryGuarantee::AtLeastOnce,
            _ => DeliveryGuarantee::ExactlyOnce,
        }
    }

    fn record(&self, id: u64) -> u64 {
        id
    }

    fn sink(&self) -> RedisSink<u64> {
        let endpoint = RedisEndpoint::standalone(self.via.as_ref().unwrap_or(&self.url));
        let prefix = self.prefix.clone();
        let builder =
            match self.write {
                Write::Set => RedisSinkBuilder::new(endpoint, CommandKind::Set, move |id: u64| RedisCommand::Set {
                    key: format!("{prefix}:{id}"),
                    value: id.to_string().into_bytes(),
                    ttl_ms: None,
                }),
                Write::XAddWithIds => {
                    RedisSinkBuilder::new(endpoint, CommandKind::XAddWithIds, move |id: u64| RedisCommand::XAdd {
                        key: format!("{prefix}:{}", id / 10),
                        id: Some(format!("{}-0", id + 1)),
                        fields: vec![("id".into(), id.to_string().into_bytes())],
                    })
                }
                Write::RPush => RedisSinkBuilder::new(endpoint, CommandKind::RPush, move |id: u64| {
                    RedisCommand::RPush { key: prefix.clone(), value: id.to_string().into_bytes() }
                }),
                Write::LPush => RedisSinkBuilder::new(endpoint, CommandKind::LPush, move |id: u64| {
                    RedisCommand::LPush { key: prefix.clone(), value: id.to_string().into_bytes() }
                }),
                Write::HSet => RedisSinkBuilder::new(endpoint, CommandKind::HSet, move |id: u64| RedisCommand::HSet {
                    key: format!("{prefix}:{}", id % 7),
                    field: id.to_string(),
                    value: id.to_string().into_bytes(),
                }),
                Write::SAdd => RedisSinkBuilder::new(endpoint, CommandKind::SAdd, move |id: u64| RedisCommand::SAdd {
                    key: prefix.clone(),
                    member: id.to_string().into_bytes(),
                }),
                Write::ZAdd => RedisSinkBuilder::new(endpoint, CommandKind::ZAdd, move |id: u64| RedisCommand::ZAdd {
                    key: prefix.clone(),
                    score: id as f64,
                    member: id.to_string().into_bytes(),
                }),
                Write::IncrBy => RedisSinkBuilder::new(endpoint, CommandKind::IncrBy, move |id: u64| {
                    RedisCommand::IncrBy { key: format!("{prefix}:{id}"), by: 1 }
                }),
            };
        let builder = builder.delivery_guarantee(self.guarantee()).max_batch_size(50);
        match self.request_timeout {
            Some(timeout) => builder.request_timeout(timeout).build().unwrap(),
            None => builder.build().unwrap(),
        }
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        Ok(match self.write {
            Write::Set => {
                let keys = keys(&self.url, &format!("{}:*", self.prefix)).await;
                let mut conn = raw(&self.url).await;
                let mut ids = Vec::new();
                for key in keys {
                    let value: String = conn.get(&key).await.unwrap();
                    assert_eq!(key.rsplit(':').next(), Some(value.as_str()), "value of {key}");
                    ids.push(value.parse().unwrap());
                }
                ids
            }
            Write::XAddWithIds => {
                let mut ids = Vec::new();
                for key in keys(&self.url, &format!("{}:*", self.prefix)).await {
                    ids.extend(stream_ids(&self.url, &key).await);
                }
                ids
            }
            Write::RPush | Write::LPush => {
                list(&self.url, &self.prefix).await.iter().map(|v| v.parse().unwrap()).collect()
            }
            Write::HSet => {
                let mut conn = raw(&self.url).await;
                let mut ids = Vec::new();
                for key in keys(&self.url, &format!("{}:*", self.prefix)).await {
                    let fields: Vec<(u64, u64)> = conn.hgetall(&key).await.unwrap();
                    for (field, value) in fields {
                        assert_eq!(field, value, "{key}");
                        ids.push(field);
                    }
                }
                ids
            }
            Write::SAdd => raw(&self.url).await.smembers(&self.prefix).await.unwrap(),
            Write::ZAdd => {
                let scored: Vec<(u64, f64)> =
                    raw(&self.url).await.zrange_withscores(&self.prefix, 0, -1).await.unwrap();
                scored.into_iter().inspect(|(m, score)| assert_eq!(*m as f64, *score)).map(|(m, _)| m).collect()
            }
            Write::IncrBy => {
                let mut conn = raw(&self.url).await;
                let mut ids = Vec::new();
                for key in keys(&self.url, &format!("{}:*", self.prefix)).await {
                    let count: usize = conn.get(&key).await.unwrap();
                    let id: u64 = key.rsplit(':').next().unwrap().parse().unwrap();
                    ids.extend(std::iter::repeat_n(id, count));
                }
                ids
            }
        })
    }
}

/// A source suite target: three fresh streams on a server, read by position or
/// through a consumer group.
#[derive(Clone)]
pub struct Streams {
    /// The server.
    pub url: String,
    /// The stream keys.
    pub keys: Vec<String>,
    /// The consumer group, in group mode.
    pub group: Option<String>,
    /// Entries per read.
    pub batch_size: usize,
    /// Where the source connects, if not to `url` (a fault proxy in front of it).
    pub via: Option<String>,
    /// The endpoint's response timeout, if not the default.
    pub response_timeout: Option<std::time::Duration>,
    /// The source's retry policy, if not the default.
    pub retry: Option<stream_core::retry::RetryPolicy>,
}

impl Streams {
    /// Streams on the test server, or `None` to skip.
    pub async fn new(name: &str, group: bool) -> Option<Arc<Streams>> {
        Some(Streams::at(server().await?, name, group))
    }

    /// Streams on the server at `url`.
    pub fn at(url: String, name: &str, group: bool) -> Arc<Streams> {
        let keys = (0..3).map(|i| unique(&format!("{name}-{i}"))).collect();
        let group = group.then(|| unique("group"));
        Arc::new(Streams { url, keys, group, batch_size: 50, via: None, response_timeout: None, retry: None })
    }

    /// Streams on the server at `url`, read through `via`.
    pub fn through(url: String, via: String, name: &str, group: bool) -> Arc<Streams> {
        let mut streams = Arc::unwrap_or_clone(Streams::at(url, name, group));
        streams.via = Some(via);
        Arc::new(streams)
    }
}

impl SourceTarget for Streams {
    type Source = RedisStreamsSource;

    fn guarantee(&self) -> DeliveryGuarantee {
        if self.group.is_some() { DeliveryGuarantee::AtLeastOnce } else { DeliveryGuarantee::ExactlyOnce }
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        for (i, key) in self.keys.iter().enumerate() {
            let mine: Vec<u64> = ids.iter().copied().filter(|id| *id as usize % self.keys.len() == i).collect();
            xadd_ids(&self.url, key, &mine).await;
        }
        Ok(())
    }

    fn source(&self, bounded: bool) -> RedisStreamsSource {
        let mut endpoint = RedisEndpoint::standalone(self.via.as_ref().unwrap_or(&self.url));
        if let Some(timeout) = self.response_timeout {
            endpoint = endpoint.response_timeout(timeout);
        }
        let mut builder = RedisStreamsSource::builder(endpoint).streams(self.keys.clone()).batch_size(self.batch_size);
        if let Some(retry) = &self.retry {
            builder = builder.retry(retry.clone());
        }
        let builder = match &self.group {
            Some(group) => builder.consumer_group(group, "test"),
            None if bounded => builder.bounded(),
            None => builder,
        };
        builder.build().unwrap()
    }

    fn id_of(&self, entry: &StreamEntry) -> u64 {
        std::str::from_utf8(entry.field("id").unwrap()).unwrap().parse().unwrap()
    }
}
