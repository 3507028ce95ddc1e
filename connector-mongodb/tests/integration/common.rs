//! The MongoDB server of the tests (`MONGODB_URI`, or one the testkit finds: mongoeco
//! here), fresh collections on it, and the sink suite's target.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use connector_base::DeliveryGuarantee;
use connector_mongodb::mongodb::bson::{Document, doc};
use connector_mongodb::mongodb::{Client, Collection};
use connector_mongodb::{
    MongoConnection, MongoSink, MongoSinkBuilder, MongoSource, MongoSourceBuilder, MongoWrite, SplitStrategy,
};
use connector_testkit::{SinkTarget, SourceTarget, TestServer, TestkitError, servers};

pub const DATABASE: &str = "flink_connectors_rs";

/// The server's connection string, or `None` to skip.
pub async fn server() -> Option<String> {
    let _ = tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init();
    Some(TestServer::discover(&servers::MONGODB).await.unwrap()?.endpoint.clone())
}

/// A client for the tests' own reads and writes.
pub async fn client(uri: &str) -> Client {
    Client::with_uri_str(uri).await.unwrap()
}

/// A fresh collection name.
pub fn collection_name(test: &str) -> String {
    format!("{test}_{}_{}", std::process::id(), fastrand::u32(..))
}

/// Every document of `collection`, by `_id`.
pub async fn documents(uri: &str, collection: &str) -> Vec<Document> {
    use futures::TryStreamExt;
    let collection: Collection<Document> = client(uri).await.database(DATABASE).collection(collection);
    let cursor = collection.find(doc! {}).sort(doc! { "_id": 1 }).batch_size(100).await.unwrap();
    cursor.try_collect().await.unwrap()
}

/// How the suite's records are written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Writes {
    /// `replace_by_id` (an upsert by `_id`).
    Upserts,
    /// Inserts with the record's id as `_id`.
    Inserts,
}

/// A sink suite target: documents `{_id: id, body: "body-id"}` in a fresh collection.
#[derive(Clone)]
pub struct ToCollection {
    pub uri: String,
    /// Where the sink connects: `uri`, or a fault proxy in front of it.
    pub via: String,
    pub collection: String,
    pub guarantee: DeliveryGuarantee,
    pub writes: Writes,
    pub configure: fn(MongoSinkBuilder<u64>) -> MongoSinkBuilder<u64>,
}

impl ToCollection {
    pub async fn new(test: &str, guarantee: DeliveryGuarantee, writes: Writes) -> Option<Arc<ToCollection>> {
        let uri = server().await?;
        let (via, collection) = (uri.clone(), collection_name(test));
        Some(Arc::new(ToCollection { uri, via, collection, guarantee, writes, configure: |b| b }))
    }
}

impl SinkTarget for ToCollection {
    type Record = u64;
    type Sink = MongoSink<u64>;

    fn guarantee(&self) -> DeliveryGuarantee {
        self.guarantee
    }

    fn record(&self, id: u64) -> u64 {
        id
    }

    fn sink(&self) -> MongoSink<u64> {
        let writes = self.writes;
        let convert = move |id: u64| {
            let document = doc! { "_id": id as i64, "body": format!("body-{id}") };
            match writes {
                Writes::Upserts => MongoWrite::replace_by_id(document),
                Writes::Inserts => Ok(MongoWrite::insert(document)),
            }
        };
        let builder = MongoSinkBuilder::new(MongoConnection::new(&self.via), DATABASE, &self.collection, convert)
            .delivery_guarantee(self.guarantee);
        (self.configure)(builder).build().unwrap()
    }

    async fn read_back(&self) -> Result<Vec<u64>, TestkitError> {
        let mut ids = Vec::new();
        for document in documents(&self.uri, &self.collection).await {
            let id = document.get_i64("_id").map_err(|e| TestkitError::Target(e.to_string()))?;
            let body = document.get_str("body").map_err(|e| TestkitError::Target(e.to_string()))?;
            if body != format!("body-{id}") {
                return Err(TestkitError::Target(format!("document {id} holds {body:?}")));
            }
            ids.push(id as u64);
        }
        Ok(ids)
    }
}

/// Insert `{_id: id, body: "body-id"}` for each id, 500 per `insert_many`.
pub async fn insert(uri: &str, collection: &str, ids: &[u64]) -> Result<(), TestkitError> {
    let handle: Collection<Document> = client(uri).await.database(DATABASE).collection(collection);
    for chunk in ids.chunks(500) {
        let documents = chunk.iter().map(|id| doc! { "_id": *id as i64, "body": format!("body-{id}") });
        handle.insert_many(documents).await.map_err(|e| TestkitError::Target(e.to_string()))?;
    }
    Ok(())
}

/// A record of the source suite.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Stored {
    #[serde(rename = "_id")]
    pub id: i64,
    pub body: String,
}

/// A source suite target: documents `{_id, body}` of a fresh collection.
#[derive(Clone)]
pub struct FromCollection {
    pub uri: String,
    /// Where the source connects: `uri`, or a fault proxy in front of it.
    pub via: String,
    pub collection: String,
    pub strategy: SplitStrategy,
    pub page_size: u32,
}

impl FromCollection {
    pub async fn new(test: &str, strategy: SplitStrategy) -> Option<Arc<FromCollection>> {
        let uri = server().await?;
        let (via, collection) = (uri.clone(), collection_name(test));
        Some(Arc::new(FromCollection { uri, via, collection, strategy, page_size: 50 }))
    }
}

impl SourceTarget for FromCollection {
    type Source = MongoSource<Stored>;

    fn guarantee(&self) -> DeliveryGuarantee {
        DeliveryGuarantee::ExactlyOnce
    }

    async fn prepare(&self, ids: &[u64]) -> Result<(), TestkitError> {
        insert(&self.uri, &self.collection, ids).await
    }

    fn source(&self, _bounded: bool) -> MongoSource<Stored> {
        MongoSourceBuilder::new(MongoConnection::new(&self.via), DATABASE, &self.collection)
            .split_strategy(self.strategy.clone())
            .page_size(self.page_size)
            .build()
            .unwrap()
    }

    fn id_of(&self, record: &Stored) -> u64 {
        assert_eq!(record.body, format!("body-{}", record.id), "a document read back wrong");
        record.id as u64
    }
}
