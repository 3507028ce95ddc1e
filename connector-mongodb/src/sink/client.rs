//! One batch of writes: runs of inserts go in one unordered `insert_many`, other
//! writes one document each (`replace_one`, `update_one`, `delete_one`: what a 7.x
//! server has; the client-level `bulk_write` needs 8.0), at most
//! [`CONCURRENT_WRITES`] at once, writes to the same document one after the other.
//! Each document's outcome is classified on its own: only the failed ones are sent
//! again (Flink sends the whole batch again, and a duplicate key then loops for ever:
//! FLINK-39398).

use std::collections::HashMap;

use connector_base::async_sink::{AsyncSinkClient, SubmitResult};
use connector_base::schema::{BadRecordPolicy, BadRecords};
use futures::StreamExt;
use mongodb::Collection;
use mongodb::bson::Document;
use mongodb::error::ErrorKind;
use stream_core::StreamError;

use super::outcome::{self, Outcome};
use crate::error::MongoError;
use crate::model::MongoWrite;

/// Single-document writes in flight per batch.
const CONCURRENT_WRITES: usize = 64;

/// Sends batches to one collection.
pub struct MongoClient {
    pub(crate) name: String,
    pub(crate) collection: Collection<Document>,
    pub(crate) ordered: bool,
    pub(crate) policy: BadRecordPolicy,
    pub(crate) bad: BadRecords,
}

/// A write and its place in the batch.
type Indexed = (usize, MongoWrite);

/// Consecutive writes of one kind (inserts, or the others), in batch order.
fn runs(batch: Vec<MongoWrite>, ordered: bool) -> Vec<Vec<Indexed>> {
    let indexed = batch.into_iter().enumerate();
    if !ordered {
        let (inserts, others): (Vec<Indexed>, Vec<Indexed>) = indexed.partition(|(_, w)| w.is_insert());
        return [inserts, others].into_iter().filter(|run| !run.is_empty()).collect();
    }
    let mut runs: Vec<Vec<Indexed>> = Vec::new();
    for (i, write) in indexed {
        match runs.last_mut() {
            Some(run) if run[0].1.is_insert() == write.is_insert() => run.push((i, write)),
            _ => runs.push(vec![(i, write)]),
        }
    }
    runs
}

/// Writes grouped by the document they touch, each group in order (one group per
/// write when order does not matter).
fn chains(run: Vec<Indexed>, ordered: bool) -> Vec<Vec<Indexed>> {
    if !ordered {
        return run.into_iter().map(|w| vec![w]).collect();
    }
    let mut chains: Vec<Vec<Indexed>> = Vec::new();
    let mut by_key: HashMap<Vec<u8>, usize> = HashMap::new();
    for (i, write) in run {
        match write.key() {
            Some(key) => match by_key.get(&key) {
                Some(&chain) => chains[chain].push((i, write)),
                None => {
                    by_key.insert(key, chains.len());
                    chains.push(vec![(i, write)]);
                }
            },
            None => chains.push(vec![(i, write)]),
        }
    }
    chains
}

impl MongoClient {
    async fn insert_run(&self, run: Vec<Indexed>) -> Vec<(Indexed, Outcome)> {
        let documents: Vec<&Document> = run
            .iter()
            .filter_map(|(_, w)| match w {
                MongoWrite::Insert { document } => Some(document),
                _ => None,
            })
            .collect();
        let error = match self.collection.insert_many(documents).ordered(false).await {
            Ok(_) => return run.into_iter().map(|w| (w, Outcome::Written)).collect(),
            Err(error) => error,
        };
        let mut outcomes = vec![Outcome::Written; run.len()];
        match error.kind.as_ref() {
            ErrorKind::InsertMany(failure) => {
                for indexed in failure.write_errors.iter().flatten() {
                    if let Some(slot) = outcomes.get_mut(indexed.index) {
                        *slot = outcome::of_code(indexed.code, &indexed.message, true);
                    }
                }
                // Applied but not acknowledged as asked: send the rest again (their
                // duplicates then count as written).
                if failure.write_concern_error.is_some() {
                    outcomes.iter_mut().filter(|o| **o == Outcome::Written).for_each(|o| *o = Outcome::Retry);
                }
            }
            _ if crate::error::transient(&error) => outcomes.fill(Outcome::Retry),
            _ => outcomes.fill(Outcome::Fatal(Box::new(error))),
        }
        run.into_iter().zip(outcomes).collect()
    }

    async fn write_one(&self, write: &MongoWrite) -> Outcome {
        let result = match write {
            MongoWrite::Insert { document } => self.collection.insert_one(document).await.map(drop),
            MongoWrite::Replace { filter, replacement, upsert } => {
                self.collection.replace_one(filter.clone(), replacement).upsert(*upsert).await.map(drop)
            }
            MongoWrite::Update { filter, update, upsert } => {
                self.collection.update_one(filter.clone(), update.clone()).upsert(*upsert).await.map(drop)
            }
            MongoWrite::Delete { filter } => self.collection.delete_one(filter.clone()).await.map(drop),
        };
        match result {
            Ok(()) => Outcome::Written,
            Err(error) => outcome::of_error(&error, write.is_insert()),
        }
    }

    /// A chain in order; once one write must be sent again, so must the rest.
    async fn write_chain(&self, chain: Vec<Indexed>) -> Vec<(Indexed, Outcome)> {
        let mut outcomes = Vec::with_capacity(chain.len());
        let mut held = false;
        for write in chain {
            let outcome = if held { Outcome::Retry } else { self.write_one(&write.1).await };
            held |= outcome == Outcome::Retry;
            outcomes.push((write, outcome));
        }
        outcomes
    }

    async fn other_run(&self, run: Vec<Indexed>) -> Vec<(Indexed, Outcome)> {
        let chains = chains(run, self.ordered);
        let done: Vec<Vec<(Indexed, Outcome)>> = futures::stream::iter(chains)
            .map(|chain| self.write_chain(chain))
            .buffer_unordered(CONCURRENT_WRITES)
            .collect()
            .await;
        done.into_iter().flatten().collect()
    }

    /// A refused document by the policy: `Err` (the job fails) under `Fail`.
    fn refused(&self, write: &MongoWrite, code: i32, message: String) -> Result<(), StreamError> {
        metrics::counter!("mongodb_sink_writes_failed_total", "collection" => self.name.clone()).increment(1);
        let rejected = MongoError::Rejected { collection: self.name.clone(), id: write.id_text(), code, message };
        if matches!(self.policy, BadRecordPolicy::Fail) {
            return Err(rejected.into());
        }
        let origin = format!("{} _id {}", self.name, write.id_text());
        self.bad.settle::<()>(Err(rejected.to_string()), &write.to_json_bytes(), origin)?;
        Ok(())
    }
}

impl AsyncSinkClient for MongoClient {
    type Entry = MongoWrite;

    fn entry_size(&self, entry: &MongoWrite) -> usize {
        entry.size()
    }

    async fn submit(&self, batch: Vec<MongoWrite>) -> SubmitResult<MongoWrite> {
        let mut retry: Vec<Indexed> = Vec::new();
        for run in runs(batch, self.ordered) {
            if self.ordered && !retry.is_empty() {
                // Later writes wait behind the ones sent again.
                retry.extend(run);
                continue;
            }
            let outcomes = match run[0].1.is_insert() {
                true => self.insert_run(run).await,
                false => self.other_run(run).await,
            };
            for (write, outcome) in outcomes {
                match outcome {
                    Outcome::Written => {}
                    Outcome::AlreadyWritten => {
                        metrics::counter!("mongodb_sink_writes_already_written_total", "collection" => self.name.clone())
                            .increment(1);
                    }
                    Outcome::Retry => retry.push(write),
                    Outcome::Refused { code, message } => {
                        if let Err(message) = self.refused(&write.1, code, message) {
                            return SubmitResult::Fatal(message);
                        }
                    }
                    Outcome::Fatal(source) => {
                        return SubmitResult::Fatal(MongoError::Write { collection: self.name.clone(), source }.into());
                    }
                }
            }
        }
        if retry.is_empty() {
            return SubmitResult::Success;
        }
        retry.sort_by_key(|(i, _)| *i);
        tracing::debug!(collection = %self.name, retry = retry.len(), "sending writes again");
        SubmitResult::Retry(retry.into_iter().map(|(_, w)| w).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    fn kinds(runs: &[Vec<Indexed>]) -> Vec<Vec<usize>> {
        runs.iter().map(|run| run.iter().map(|(i, _)| *i).collect()).collect()
    }

    #[test]
    fn ordered_batches_keep_runs_and_chains_in_order() {
        let batch = vec![
            MongoWrite::insert(doc! { "_id": 1 }),
            MongoWrite::insert(doc! { "_id": 2 }),
            MongoWrite::delete(doc! { "_id": 1 }),
            MongoWrite::update(doc! { "_id": 2 }, doc! { "$set": { "v": 1 } }, false),
            MongoWrite::delete(doc! { "_id": 2 }),
            MongoWrite::insert(doc! { "_id": 3 }),
        ];
        let ordered = runs(batch.clone(), true);
        assert_eq!(kinds(&ordered), vec![vec![0, 1], vec![2, 3, 4], vec![5]]);
        let chained = chains(ordered[1].clone(), true);
        assert_eq!(kinds(&chained), vec![vec![2], vec![3, 4]]);
        let unordered = runs(batch, false);
        assert_eq!(kinds(&unordered), vec![vec![0, 1, 5], vec![2, 3, 4]]);
        assert_eq!(chains(unordered[1].clone(), false).len(), 3);
    }
}
