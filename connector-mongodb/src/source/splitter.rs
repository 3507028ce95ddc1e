//! How a collection is cut into `_id` ranges when the source starts (Flink's split
//! strategies), and the checks before: the collection is there, and its `_id`s are of
//! one type (a range query on `_id` only matches values of the bound's type).

use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::{Client, Collection};

use super::split::{IdRangeSplit, IdValue};
use crate::config::SplitStrategy;
use crate::error::MongoError;

/// Splits of `database.collection` by `strategy`.
pub(crate) async fn splits(
    client: &Client,
    database: &str,
    collection: &str,
    strategy: &SplitStrategy,
    parallelism: usize,
) -> Result<Vec<IdRangeSplit>, MongoError> {
    let name = format!("{database}.{collection}");
    let problem = |reason: String| MongoError::Source { collection: name.clone(), reason };
    let read = |source| MongoError::Read { collection: name.clone(), source };
    // Only the collection is listed: listing databases can be slow (sizes) and needs a
    // privilege; it is asked only to say which of the two is missing.
    let found = client.database(database).list_collection_names().filter(doc! { "name": collection }).await;
    if found.map_err(read)?.is_empty() {
        let databases = client.list_database_names().await.map_err(read)?;
        if !databases.iter().any(|d| d == database) {
            return Err(problem(format!("there is no database {database} (found: {})", databases.join(", "))));
        }
        return Err(problem(format!("database {database} has no collection {collection}")));
    }
    let handle: Collection<Document> = client.database(database).collection(collection);
    let end = |order: i32| {
        let handle = handle.clone();
        async move {
            let first = handle.find_one(doc! {}).sort(doc! { "_id": order }).projection(doc! { "_id": 1 }).await;
            first.map(|d| d.and_then(|d| d.get("_id").cloned()))
        }
    };
    let (Some(lowest), Some(highest)) = (end(1).await.map_err(read)?, end(-1).await.map_err(read)?) else {
        return Ok(IdRangeSplit::between(Vec::new()));
    };
    if lowest.element_type() != highest.element_type() {
        let reason = format!(
            "its _ids are of several types ({:?} and {:?}); reading by _id range needs one type",
            lowest.element_type(),
            highest.element_type()
        );
        return Err(problem(reason));
    }
    let boundaries = match strategy {
        SplitStrategy::Single => Vec::new(),
        SplitStrategy::Sample { splits, samples_per_split } => {
            let splits = splits.unwrap_or(4 * parallelism.max(1));
            sample(&handle, splits, *samples_per_split).await.map_err(read)?
        }
        SplitStrategy::SplitVector { max_chunk_size_mb } => {
            match split_vector(client, database, collection, *max_chunk_size_mb).await {
                Ok(keys) => keys,
                Err(error) => {
                    tracing::warn!(collection = %name, %error,
                        "splitVector is not allowed or not supported here; splitting by $sample instead");
                    sample(&handle, 4 * parallelism.max(1), 10).await.map_err(read)?
                }
            }
        }
        SplitStrategy::Pagination { documents_per_split } => {
            paginate(&handle, *documents_per_split).await.map_err(read)?
        }
    };
    let mut boundaries: Vec<Bson> =
        boundaries.into_iter().filter(|b| b.element_type() == lowest.element_type()).collect();
    boundaries.dedup();
    tracing::info!(collection = %name, splits = boundaries.len() + 1, ?strategy, "mongodb source splits");
    Ok(IdRangeSplit::between(boundaries.into_iter().map(IdValue).collect()))
}

/// Every `samples_per_split`-th of `splits * samples_per_split` sampled `_id`s, sorted.
async fn sample(
    handle: &Collection<Document>,
    splits: usize,
    samples_per_split: usize,
) -> mongodb::error::Result<Vec<Bson>> {
    // An int32 (both widths are valid; mongoeco takes only this one).
    let size = i32::try_from(splits * samples_per_split).unwrap_or(i32::MAX);
    let pipeline = [doc! { "$sample": { "size": size } }, doc! { "$project": { "_id": 1 } }];
    let sampled: Vec<Document> = handle.aggregate(pipeline).await?.try_collect().await?;
    let mut ids: Vec<Bson> = sampled.into_iter().filter_map(|d| d.get("_id").cloned()).collect();
    ids.sort_by(compare);
    ids.dedup();
    Ok(ids.into_iter().skip(samples_per_split.max(1)).step_by(samples_per_split.max(1)).collect())
}

/// The server's split points (`splitVector`; needs a privilege on real servers).
async fn split_vector(
    client: &Client,
    database: &str,
    collection: &str,
    max_chunk_size_mb: u32,
) -> mongodb::error::Result<Vec<Bson>> {
    let command = doc! {
        "splitVector": format!("{database}.{collection}"),
        "keyPattern": { "_id": 1 },
        "maxChunkSize": i64::from(max_chunk_size_mb),
    };
    let answer = client.database(database).run_command(command).await?;
    let keys = answer.get_array("splitKeys").cloned().unwrap_or_default();
    Ok(keys.into_iter().filter_map(|k| k.as_document().and_then(|d| d.get("_id")).cloned()).collect())
}

/// The `_id` at every `documents_per_split`-th place, walking the collection in order.
async fn paginate(handle: &Collection<Document>, documents_per_split: u64) -> mongodb::error::Result<Vec<Bson>> {
    let mut boundaries = Vec::new();
    loop {
        let from = boundaries.last().map(|b: &Bson| doc! { "_id": { "$gte": b.clone() } }).unwrap_or_default();
        let next = handle
            .find_one(from)
            .sort(doc! { "_id": 1 })
            .skip(documents_per_split)
            .projection(doc! { "_id": 1 })
            .await?;
        match next.and_then(|d| d.get("_id").cloned()) {
            Some(id) => boundaries.push(id),
            None => return Ok(boundaries),
        }
    }
}

/// Order of two `_id`s of one type (numbers by value, others by their text).
fn compare(a: &Bson, b: &Bson) -> std::cmp::Ordering {
    let number = |v: &Bson| match v {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) => Some(*n),
        _ => None,
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => match (a, b) {
            (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
            (Bson::String(x), Bson::String(y)) => x.cmp(y),
            _ => a.to_string().cmp(&b.to_string()),
        },
    }
}
