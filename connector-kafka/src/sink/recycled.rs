//! Producers whose transaction committed, kept for the next transaction of their id
//! in the same attempt (Flink's sink recycles its producers too). A new producer per
//! checkpoint cost a librdkafka client with its threads and connections, an
//! `InitProducerId` round trip, and on the broker a write to its transaction log.
//!
//! Only the newest producer of an id is kept: initialising another one fences it. And
//! only the attempt that committed with it reuses it: a new attempt fences and
//! recovers exactly as a new process would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rdkafka::producer::FutureProducer;

use crate::logging::Logged;

type Producer = Arc<FutureProducer<Logged>>;

#[derive(Default)]
pub(crate) struct Recycled {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By transactional id: the newest producer initialised (its address).
    newest: HashMap<String, usize>,
    /// By transactional id: the attempt that committed with it, and the producer.
    idle: HashMap<String, (String, Producer)>,
}

fn address(producer: &Producer) -> usize {
    Arc::as_ptr(producer) as usize
}

impl Recycled {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `producer` of `id` was just initialised: it fenced every earlier one.
    pub fn initialised(&self, id: &str, producer: &Producer) {
        let fenced = {
            let mut inner = self.lock();
            inner.newest.insert(id.to_string(), address(producer));
            inner.idle.remove(id)
        };
        drop_off_thread(fenced.into_iter().map(|(_, p)| p).collect());
    }

    /// Keep `producer` of `id`, whose transaction `attempt` just committed, unless a
    /// newer producer of `id` fenced it meanwhile.
    pub fn keep(&self, id: &str, attempt: &str, producer: Producer) {
        let dropped = {
            let mut inner = self.lock();
            if inner.newest.get(id) == Some(&address(&producer)) {
                inner.idle.insert(id.to_string(), (attempt.to_string(), producer)).map(|(_, p)| p)
            } else {
                Some(producer)
            }
        };
        drop_off_thread(dropped.into_iter().collect());
    }

    /// The idle producer of `id` if `attempt` committed with it; those of other
    /// (failed) attempts are let go.
    pub fn take(&self, id: &str, attempt: &str) -> Option<Producer> {
        let (taken, stale) = {
            let mut inner = self.lock();
            let stale: Vec<Producer> = inner
                .idle
                .extract_if(|_, (committed_by, _)| committed_by != attempt)
                .map(|(_, (_, producer))| producer)
                .collect();
            (inner.idle.remove(id).map(|(_, producer)| producer), stale)
        };
        drop_off_thread(stale);
        taken
    }
}

/// Destroying a librdkafka client joins its threads: not on a runtime worker.
fn drop_off_thread(producers: Vec<Producer>) {
    if producers.is_empty() {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(producers))),
        Err(_) => drop(producers),
    }
}
