//! The CQL server of the tests (`CASSANDRA_CONTACT_POINTS`, or one the testkit
//! starts: kassandra here), fresh tables on it, and the sink suite's target.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_cassandra::scylla::client::session::Session;
use connector_cassandra::scylla::client::session_builder::SessionBuilder;
use connector_cassandra::{CassandraSink, CassandraSinkBuilder, CassandraSource, WriteAhead};
use connector_testkit::{SinkTarget, SourceTarget, TestServer, TestkitError, servers};

pub const KEYSPACE: &str = "flink_connectors_rs";

/// The suite's rows: id and body.
pub type Row = (i64, String);

/// The server's `host:port`, or `None` to skip.
pub async fn server() -> Option<String> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    Some(TestServer::discover(&servers::CASSANDRA).await.unwrap()?.endpoint.clone())
}

/// A session for the tests' own statements (metadata off, as kassandra needs).
pub async fn session(contact_point: &str) -> Session {
    SessionBuilder::new()
        .known_node(contact_point)
        .fetch_schema_metadata(false)
        .refresh_metadata_on_auto_schema_agreement(false)
        .build()
        .await
        .unwrap()
}

/// A fresh table `(id bigint PRIMARY KEY, body text)`; its name.
pub async fn table(contact_point: &str, test: &str) -> String {
    let session = session(contact_point).await;
    let replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
    let keyspace = format!("CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = {replication}");
    session.query_unpaged(keyspace, &[]).await.unwrap();
    let table = format!("{test}_{}_{}", std::process::id(), fastrand::u32(..));
    let create = format!("CREATE TABLE {KEYSPACE}.{table} (id bigint PRIMARY KEY, body text)");
    session.query_unpaged(create, &[]).await.unwrap();
    table
}

/// Run `records` into `sink` in a job of parallelism 1 with 100 ms checkpoints and no
/// restart; the job's error as text.
pub async fn run_into<T>(sink: CassandraSink<T>, records: Vec<T>) -> Result<(), String>
where
    T: connector_cassandra::scylla::serialize::row::SerializeRow + Clone + Send + Sync + 'static,
{
    use stream_core::prelude::*;
    let env = StreamEnvironment::builder()
        .parallelism(1)
        .checkpointing(CheckpointConfig::builder().interval(std::time::Duration::from_millis(100)).build().unwrap())
        .restart_strategy(RestartStrategy::None)
        .build()
        .unwrap();
    let job = env.from_source(CollectionSource::new(records), "in").sink_to(sink, "cassandra").execute("into");
    let limit = std::time::Duration::from_secs(60);
    tokio::time::timeout(limit, job).await.expect("no hang").map(drop).map_err(|e| e.to_string())
}

/// Every row of `table`, sorted by id.
pub async fn rows(contact_point: &str, table: &str) -> Vec<Row> {
    use futures::TryStreamExt;
    let session = session(contact_point).await;
    let select = format!("SELECT id, body FROM {KEYSPACE}.{table}");
    let pager = session.query_iter(select, &[]).await.unwrap();
    let mut rows: Vec<Row> = pager.rows_stream::<Row>().unwrap().try_collect().await.unwrap();
    rows.sort();
    rows
}

/// The ids in `table`, sorted.
pub async fn ids(contact_point: &str, table: &str) -> Vec<i64> {
    rows(contact_point, table).await.into_iter().map(|(id, _)| id).collect()
}

/// A sink suite target: upserts by id into a fresh table, read back with a SELECT.
#[derive(Clone)]
pub struct ToTable {
    pub contact_point: String,
    /// Where the sink connects: `contact_point`, or a fault proxy in front of it.
    pub via: String,
    pub table: String,
    pub guarantee: DeliveryGuarantee,
    pub configure: fn(CassandraSinkBuilder<Row>) -> CassandraSinkBuilder<Row>,
    /// The write-ahead mode with this many rows per part (progress under the
    /// table's name, in the tests' keyspace).
    pub write_ahead: Option<usize>,
}

impl ToTable {
    pub async fn new(test: &str, guarantee: DeliveryGuarantee) -> Option<Arc<ToTable>> {
        let contact_point = server().await?;
        let table = table(&contact_point, test).await;
        let via = contact_point.clone();
        Some(Arc::new(ToTable { via, contact_point, table, guarantee, configure: |b| b, write_ahead: None }))
    }

    /// A target whose sink writes ahead, `part_rows` rows per part.
    pub async fn write_ahead(test: &str, guarantee: DeliveryGuarantee, part_rows: usize) -> Option<Arc<ToTable>> {
        let mut target = Arc::unwrap_or_clone(Self::new(test, guarantee).await?);
        target.write_ahead = Some(part_rows);
        Some(Arc::new(target))
    }

    /// A target whose sink connects through `via` (a fault proxy).
    pub async fn through(test: &str, guarantee: DeliveryGuarantee, via: String) -> Arc<ToTable> {
        let mut target = Arc::unwrap_or_clone(Self::new(test, guarantee).await.expect("the server"));
        target.via = via;
        Arc::new(target)
    }
}

impl SinkTarget for ToTable {
    type Record = (i64, String);
    type Sink = CassandraSink<(i64, String)>;

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }

    fn two_phase(&self) -> bool {
        self.write_ahead.is_some()
    }

    fn record(&self, id: u64) -> (i64, String) {
        (id as i64, format!("body-{id}"))
    }

    fn sink(&self) -> CassandraSink<(i64, String)> {
        let statement = format!("INSERT INTO {KEYSPACE}.{} (id, body) VALUES (?, ?)", self.table);
        let builder = CassandraSink::builder([self.via.clone()], statement)
            .delivery_guarantee(self.guarantee)
            .cluster_metadata(false);
        let builder = match self.write_ahead {
            Some(rows) => builder.write_ahead(WriteAhead::new(&self.table, KEYSPACE).part_rows(rows)),
            None => builder,
        };
        (self.configure)(builder).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        use futures::TryStreamExt;
        let failed = |e: &dyn std::fmt::Display| TestkitError::Target(e.to_string());
        let session = session(&self.contact_point).await;
        let select = format!("SELECT id, body FROM {KEYSPACE}.{}", self.table);
        let pager = session.query_iter(select, &[]).await.map_err(|e| failed(&e))?;
        let rows: Vec<(i64, String)> = pager
            .rows_stream::<(i64, String)>()
            .map_err(|e| failed(&e))?
            .try_collect()
            .await
            .map_err(|e| failed(&e))?;
        let mut ids = Vec::new();
        for (id, body) in rows {
            if body != format!("body-{id}") {
                return Err(TestkitError::Target(format!("row {id} holds {body:?}")));
            }
            ids.push(id as u64);
        }
        Ok(ids)
    }
}

/// Insert `(id, body-id)` for each id, 64 at a time.
pub async fn insert(contact_point: &str, table: &str, ids: &[u64]) -> Result<(), TestkitError> {
    let failed = |e: &dyn std::fmt::Display| TestkitError::Target(e.to_string());
    let session = Arc::new(session(contact_point).await);
    let insert = format!("INSERT INTO {KEYSPACE}.{table} (id, body) VALUES (?, ?)");
    let prepared = session.prepare(insert).await.map_err(|e| failed(&e))?;
    for chunk in ids.chunks(64) {
        let mut writes = tokio::task::JoinSet::new();
        for &id in chunk {
            let (session, prepared) = (session.clone(), prepared.clone());
            writes.spawn(async move { session.execute_unpaged(&prepared, (id as i64, format!("body-{id}"))).await });
        }
        while let Some(outcome) = writes.join_next().await {
            outcome.map_err(|e| failed(&e))?.map_err(|e| failed(&e))?;
        }
    }
    Ok(())
}

/// A source suite target: rows `(id, body)` of a fresh table, read back by the source.
#[derive(Clone)]
pub struct FromTable {
    pub contact_point: String,
    /// Where the source connects: `contact_point`, or a fault proxy in front of it.
    pub via: String,
    pub table: String,
    /// Token-range splits (1: the whole table, the only way kassandra reads).
    pub splits: usize,
    pub page_size: i32,
}

impl FromTable {
    pub async fn new(test: &str, splits: usize) -> Option<Arc<FromTable>> {
        let contact_point = server().await?;
        let table = table(&contact_point, test).await;
        let via = contact_point.clone();
        Some(Arc::new(FromTable { contact_point, via, table, splits, page_size: 100 }))
    }

    pub fn query(&self) -> String {
        format!("SELECT id, body FROM {KEYSPACE}.{}", self.table)
    }
}

impl SourceTarget for FromTable {
    type Source = CassandraSource<Row>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        insert(&self.contact_point, &self.table, ids).await
    }

    fn source(&self, _bounded: bool) -> CassandraSource<Row> {
        CassandraSource::builder([self.via.clone()], self.query())
            .partition_key(["id"])
            .splits(self.splits)
            .page_size(self.page_size)
            .cluster_metadata(false)
            .build()
            .unwrap()
    }

    fn id_of(&self, record: &Row) -> u64 {
        assert_eq!(record.1, format!("body-{}", record.0), "a row read back wrong");
        record.0 as u64
    }
}

/// Whether the server can restrict a query by token range (kassandra cannot).
pub async fn splits_by_token(contact_point: &str, table: &str) -> bool {
    let session = session(contact_point).await;
    let query = format!("SELECT id FROM {KEYSPACE}.{table} WHERE token(id) > ? AND token(id) <= ?");
    let can = match session.prepare(query).await {
        Ok(prepared) => session.execute_unpaged(&prepared, (i64::MIN, i64::MAX)).await.is_ok(),
        Err(_) => false,
    };
    if !can {
        eprintln!("skipped: the server at {contact_point} cannot select by token range (kassandra cannot)");
    }
    can
}
