//! The typed job-building API: [`DataStream`], [`KeyedStream`] and [`Job`].

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{KeyedProcessFunction, Sink};
use crate::env_config::EnvConfig;
use crate::error::Result;
use crate::executor::Job;
use crate::graph::{AsyncNode, ChainNode, ExchangeNode, KeyedProcessNode, Node, SinkNode};
use crate::runtime::async_task::AsyncOptions;
use crate::runtime::output::{ChainFn, FilterFn, FlatMapFn, MapFn};
use crate::stage::StageInfo;

type Rechain<T> = Arc<dyn Fn(usize) -> DataStream<T> + Send + Sync>;

/// A stream of records of type `T` being defined.
pub struct DataStream<T> {
    config: Arc<EnvConfig>,
    node: Arc<dyn Node<T>>,
    stages: Vec<StageInfo>,
    /// For chained operators: the same operator moved behind a rebalance to another
    /// parallelism (used by [`DataStream::set_parallelism`]).
    rechain: Option<Rechain<T>>,
}

impl<T> Clone for DataStream<T> {
    fn clone(&self) -> Self {
        DataStream {
            config: self.config.clone(),
            node: self.node.clone(),
            stages: self.stages.clone(),
            rechain: self.rechain.clone(),
        }
    }
}

impl<T: Send + 'static> DataStream<T> {
    pub(crate) fn new(config: Arc<EnvConfig>, node: Arc<dyn Node<T>>, stages: Vec<StageInfo>) -> Self {
        DataStream { config, node, stages, rechain: None }
    }

    fn parallelism(&self) -> usize {
        self.stages.last().map(|s| s.parallelism).unwrap_or(1)
    }

    fn next_stage(&self, name: &str, parallelism: usize) -> StageInfo {
        StageInfo::new(format!("{}-{name}", self.stages.len()), name, parallelism, true)
    }

    /// Set the parallelism of the last operator. A chained `map`/`filter`/`flat_map`
    /// given a parallelism different from its input's runs in its own stage behind a
    /// rebalance. A value of 0 is reported by [`Job::execute`].
    pub fn set_parallelism(mut self, parallelism: usize) -> Self {
        if parallelism == self.parallelism() {
            return self;
        }
        if let Some(rechain) = &self.rechain {
            return rechain(parallelism);
        }
        if let Some(last) = self.stages.last_mut() {
            last.parallelism = parallelism;
        }
        // Source, exchange and process nodes size themselves from their outputs.
        self
    }

    fn chain<U: Send + 'static, F: ChainFn<T, U>>(self, f: Arc<F>) -> DataStream<U> {
        let upstream = self.clone();
        let f2 = f.clone();
        let rechain: Rechain<U> = Arc::new(move |p| upstream.clone().rebalance(p).chain(f2.clone()));
        DataStream {
            config: self.config,
            node: Arc::new(ChainNode { upstream: self.node, f }),
            stages: self.stages,
            rechain: Some(rechain),
        }
    }

    /// Give the operator that made this stream (its source, `rebalance`, `async_map`
    /// or keyed `process`) a stable id its state is stored under, as in Flink: a
    /// checkpoint or savepoint then restores into a changed graph (an operator added
    /// or removed elsewhere) by uid rather than by place. State whose uid the new job
    /// lacks fails the restore naming it, unless the environment allows dropping it
    /// ([`StreamEnvironmentBuilder::allow_non_restored_state`](crate::StreamEnvironmentBuilder::allow_non_restored_state)).
    /// Stateful operators without a uid keep their state under their place in the
    /// graph, and the job warns at start. A chained `map`, `filter` or `flat_map`
    /// keeps no state: a uid given to it is not used. Uids must be unique, non-empty
    /// and free of `/` (checked when the job starts).
    ///
    /// ```
    /// # use stream_core::prelude::*;
    /// # let env = StreamEnvironment::builder().build()?;
    /// let job = env
    ///     .from_source(CollectionSource::new(vec![1u64, 2, 3]), "numbers")
    ///     .uid("numbers-v1")
    ///     .key_by(|x: &u64| x % 2)
    ///     .process("count", process_fn(|_k: &u64, n: &mut u64, _x: u64, out: &mut Collector<u64>| {
    ///         *n += 1;
    ///         out.collect(*n);
    ///         Ok(())
    ///     }))
    ///     .uid("count-v1")
    ///     .sink_to(PrintSink::new(), "print")
    ///     .uid("print-v1");
    /// # Ok::<(), stream_core::StreamError>(())
    /// ```
    pub fn uid(mut self, uid: &str) -> Self {
        if self.rechain.is_some() {
            tracing::debug!(uid, "a chained operator keeps no state; its uid is not used");
            return self;
        }
        if let Some(last) = self.stages.last_mut() {
            last.uid = Some(uid.to_string());
        }
        self
    }

    /// Transform each record (chained into the producing task).
    pub fn map<U: Send + 'static>(self, f: impl Fn(T) -> U + Send + Sync + 'static) -> DataStream<U> {
        self.chain(Arc::new(MapFn(f)))
    }

    /// Keep the records for which `f` is true (chained).
    pub fn filter(self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> DataStream<T> {
        self.chain(Arc::new(FilterFn(f)))
    }

    /// Turn each record into zero or more records (chained).
    pub fn flat_map<U, I>(self, f: impl Fn(T) -> I + Send + Sync + 'static) -> DataStream<U>
    where
        U: Send + 'static,
        I: IntoIterator<Item = U> + 'static,
    {
        self.chain(Arc::new(FlatMapFn(f)))
    }

    /// Spread batches round robin over `parallelism` subtasks of a new stage.
    pub fn rebalance(self, parallelism: usize) -> DataStream<T> {
        let stage = StageInfo { stateful: false, ..self.next_stage("rebalance", parallelism) };
        let node = Arc::new(ExchangeNode {
            upstream: self.node.clone(),
            upstream_parallelism: self.parallelism(),
            stage: stage.clone(),
        });
        let mut stages = self.stages;
        stages.push(stage);
        DataStream { config: self.config, node, stages, rechain: None }
    }

    /// Enrich each record with an asynchronous call (a lookup in a database or a
    /// service) in a stage called `name` with the input's parallelism: up to
    /// `options.capacity` calls in flight per subtask, each bounded by
    /// `options.timeout`, results in input order or as they complete. The inputs of
    /// calls not yet emitted are part of each checkpoint and are called again after a
    /// restore, so with exactly-once checkpoints every input yields exactly one output
    /// downstream (the call itself may run more than once: make it a lookup).
    pub fn async_map<U, F, Fut>(self, name: &str, options: AsyncOptions, f: F) -> DataStream<U>
    where
        T: Clone + Serialize + DeserializeOwned + Sync,
        U: Send + 'static,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<U>> + Send + 'static,
    {
        let stage = self.next_stage(name, self.parallelism());
        let node = Arc::new(AsyncNode {
            upstream: self.node.clone(),
            upstream_parallelism: self.parallelism(),
            options,
            func: Arc::new(f),
            stage: stage.clone(),
        });
        let mut stages = self.stages;
        stages.push(stage);
        DataStream::new(self.config, node, stages)
    }

    /// Partition by key; every record of a key goes to the same subtask.
    pub fn key_by<K, KF>(self, key: KF) -> KeyedStream<K, T, KF>
    where
        K: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
        KF: Fn(&T) -> K + Send + Sync + 'static,
    {
        KeyedStream { stream: self, key_fn: Arc::new(key), _key: PhantomData }
    }

    /// End the stream in `sink`, in a stage called `name` with the input's parallelism.
    pub fn sink_to<S: Sink<T>>(self, sink: S, name: &str) -> Job {
        let stage = self.next_stage(name, self.parallelism());
        let mut stages = self.stages.clone();
        stages.push(stage.clone());
        let upstream_parallelism = self.parallelism();
        let node = Arc::new(SinkNode { upstream: self.node, upstream_parallelism, sink: Arc::new(sink), stage });
        Job { config: self.config, stages, build: Arc::new(move |ctx, parallelism| node.build(ctx, parallelism)) }
    }
}

/// A stream partitioned by key, ready for a [`KeyedProcessFunction`].
pub struct KeyedStream<K, T, KF> {
    stream: DataStream<T>,
    key_fn: Arc<KF>,
    _key: PhantomData<fn() -> K>,
}

impl<K, T, KF> KeyedStream<K, T, KF>
where
    K: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    T: Send + 'static,
    KF: Fn(&T) -> K + Send + Sync + 'static,
{
    /// Run `func` with per-key checkpointed state in a stage called `name` (the
    /// input's parallelism; change it with [`DataStream::set_parallelism`]).
    pub fn process<F: KeyedProcessFunction<K, T>>(self, name: &str, func: F) -> DataStream<F::Output> {
        let up = self.stream;
        let stage = up.next_stage(name, up.parallelism());
        let node = Arc::new(KeyedProcessNode {
            upstream: up.node.clone(),
            upstream_parallelism: up.parallelism(),
            key_fn: self.key_fn,
            func: Arc::new(func),
            stage: stage.clone(),
            _key: PhantomData,
        });
        let mut stages = up.stages;
        stages.push(stage);
        DataStream::new(up.config, node, stages)
    }
}
