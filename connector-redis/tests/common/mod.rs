//! Helpers shared by the connector-redis tests: the test server, unique key names,
//! raw commands to prepare and read back data.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use connector_redis::redis::{self, AsyncCommands, Value};
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
