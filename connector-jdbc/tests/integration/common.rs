//! Helpers shared by the connector-jdbc tests: the server, fresh table names.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use connector_testkit::{TestServer, servers};

/// The PostgreSQL server's URL (`POSTGRES_URL`, host services or a container), or
/// `None` when there is none and none is required.
pub async fn server() -> Option<String> {
    Some(TestServer::discover(&servers::POSTGRES).await.unwrap()?.endpoint.clone())
}

/// A fresh table name.
pub fn table_name(test: &str) -> String {
    format!("{test}_{}_{}", std::process::id(), fastrand::u32(..))
}

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_jdbc::tokio_postgres::Client;
use connector_jdbc::{JdbcSink, JdbcSinkBuilder, PgConnection, params};
use connector_testkit::{SinkTarget, TestkitError};

/// A session for the tests' own statements.
pub async fn client(url: &str) -> Client {
    PgConnection::new(url).connect().await.unwrap()
}

/// A fresh table `(id bigint)` without a key: plain inserts, so that any replay
/// shows as a duplicate.
#[derive(Clone)]
pub struct ToTable {
    pub url: String,
    /// Where the sink connects: `url`, or a fault proxy in front of it.
    pub via: String,
    pub table: String,
    pub guarantee: DeliveryGuarantee,
    pub prefix: String,
    pub batch_size: usize,
    /// Upserts by a primary key instead of plain inserts into a table without one.
    pub upsert: bool,
}

impl ToTable {
    /// A fresh table `(id bigint PRIMARY KEY)` written by upserts.
    pub async fn upserting(test: &str, guarantee: DeliveryGuarantee) -> Option<Arc<ToTable>> {
        let mut target = Arc::unwrap_or_clone(ToTable::new(test, guarantee).await?);
        client(&target.url)
            .await
            .batch_execute(&format!("ALTER TABLE {} ADD PRIMARY KEY (id)", target.table))
            .await
            .unwrap();
        target.upsert = true;
        Some(Arc::new(target))
    }

    pub async fn new(test: &str, guarantee: DeliveryGuarantee) -> Option<Arc<ToTable>> {
        let url = server().await?;
        let table = table_name(test);
        client(&url).await.batch_execute(&format!("CREATE TABLE {table} (id bigint NOT NULL)")).await.unwrap();
        Some(Arc::new(ToTable {
            via: url.clone(),
            url,
            prefix: table.replace('_', "-"),
            table,
            guarantee,
            batch_size: 100,
            upsert: false,
        }))
    }

    /// Our prepared transactions still on the server.
    pub async fn prepared_left(&self) -> Vec<String> {
        let rows = client(&self.url).await.query("SELECT gid FROM pg_prepared_xacts", &[]).await.unwrap();
        rows.iter().map(|r| r.get::<_, String>(0)).filter(|g| g.starts_with(&format!("{}:", self.prefix))).collect()
    }
}

impl SinkTarget for ToTable {
    type Record = u64;
    type Sink = JdbcSink<u64>;

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }

    fn record(&self, id: u64) -> u64 {
        id
    }

    fn sink(&self) -> JdbcSink<u64> {
        let statement = match self.upsert {
            false => format!("INSERT INTO {} (id) VALUES ($1)", self.table),
            true => {
                format!("INSERT INTO {} (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id", self.table)
            }
        };
        JdbcSinkBuilder::new(PgConnection::new(&self.via), statement, |id: &u64| params![*id as i64])
            .delivery_guarantee(self.guarantee)
            .transaction_prefix(&self.prefix)
            .batch_size(self.batch_size)
            .build()
            .unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        let rows = client(&self.url).await.query(&format!("SELECT id FROM {}", self.table), &[]).await.unwrap();
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }
}

/// A record of the source suite: a row `(id, body)`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Stored {
    pub id: i64,
    pub body: String,
}

/// A fresh table `(id bigint PRIMARY KEY, body text)` read by a `JdbcSource`.
#[derive(Clone)]
pub struct FromTable {
    pub url: String,
    /// Where the source connects: `url`, or a fault proxy in front of it.
    pub via: String,
    pub table: String,
    pub splits: usize,
    pub page_size: u32,
}

impl FromTable {
    pub async fn new(test: &str, splits: usize) -> Option<Arc<FromTable>> {
        let url = server().await?;
        let table = table_name(test);
        let sql = format!("CREATE TABLE {table} (id bigint PRIMARY KEY, body text NOT NULL)");
        client(&url).await.batch_execute(&sql).await.unwrap();
        Some(Arc::new(FromTable { via: url.clone(), url, table, splits, page_size: 50 }))
    }
}

impl connector_testkit::SourceTarget for FromTable {
    type Source = connector_jdbc::JdbcSource<Stored>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        let client = client(&self.url).await;
        for chunk in ids.chunks(1_000) {
            let rows: Vec<String> = chunk.iter().map(|id| format!("({id}, 'body-{id}')")).collect();
            let sql = format!("INSERT INTO {} (id, body) VALUES {}", self.table, rows.join(", "));
            client.batch_execute(&sql).await.unwrap();
        }
        Ok(())
    }

    fn source(&self, _bounded: bool) -> connector_jdbc::JdbcSource<Stored> {
        let query = format!("SELECT id, body FROM {}", self.table);
        let decode =
            |row: &connector_jdbc::tokio_postgres::Row| -> Result<Stored, connector_jdbc::tokio_postgres::Error> {
                Ok(Stored { id: row.try_get("id")?, body: row.try_get("body")? })
            };
        connector_jdbc::JdbcSourceBuilder::new(PgConnection::new(&self.via), query, "id", decode)
            .splits(self.splits)
            .page_size(self.page_size)
            .build()
            .unwrap()
    }

    fn id_of(&self, record: &Stored) -> u64 {
        assert_eq!(record.body, format!("body-{}", record.id), "a row read back wrong");
        record.id as u64
    }
}
