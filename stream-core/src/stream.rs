//! The typed job-building API: [`DataStream`], [`KeyedStream`], [`ConnectedStreams`]
//! and [`Job`].

use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{CoAdapter, Either, KeyedCoProcessFunction, KeyedProcessFunction, OutputTag, Sink};
use crate::env_config::EnvConfig;
use crate::error::Result;
use crate::executor::{Job, SinkEntry};
use crate::graph::{
    AsyncNode, ChainNode, ExchangeNode, KeyedProcessNode, Node, Shared, SideOutputNode, SinkNode, UnionNode,
};
use crate::runtime::async_task::AsyncOptions;
use crate::runtime::output::{ChainFn, FilterFn, FlatMapFn, MapFn};
use crate::stage::StageInfo;

type Rechain<T> = Arc<dyn Fn(usize) -> DataStream<T> + Send + Sync>;

/// A stream of records of type `T` being defined.
///
/// A stream may feed several operators and sinks (a fan-out): clone it, and each
/// gets every record (which needs `T: Clone`). All of them belong to one job with
/// one checkpoint (combine their sinks' jobs with [`Job::and`]).
pub struct DataStream<T> {
    config: Arc<EnvConfig>,
    node: Arc<Shared<T>>,
    stages: Vec<StageInfo>,
    /// For chained operators: the same operator moved behind a rebalance to another
    /// parallelism (used by [`DataStream::set_parallelism`]).
    rechain: Option<Rechain<T>>,
    /// For a stream without an operator of its own (a union, a side output).
    derived: Option<Derived>,
    /// Made by a process function (so it has side outputs).
    from_process: bool,
}

/// The shape of a stream without an operator of its own.
#[derive(Clone, Copy)]
struct Derived {
    /// Outputs its node takes: one per subtask of every input.
    width: usize,
    /// The parallelism the next operator gets by default.
    parallelism: usize,
}

impl<T: Clone + Send + 'static> Clone for DataStream<T> {
    /// Another handle on the same stream: the operators of both get every record.
    fn clone(&self) -> Self {
        self.node.allow_fan_out();
        self.duplicate()
    }
}

impl<T: Send + 'static> DataStream<T> {
    pub(crate) fn new(config: Arc<EnvConfig>, node: Arc<dyn Node<T>>, stages: Vec<StageInfo>) -> Self {
        let seq = config.next_seq();
        Self::made_by(config, seq, node, stages)
    }

    fn made_by(config: Arc<EnvConfig>, seq: u64, node: Arc<dyn Node<T>>, stages: Vec<StageInfo>) -> Self {
        let name = stages.last().map(|s| s.name.clone()).unwrap_or_default();
        let node = Shared::new(seq, &name, node);
        DataStream { config, node, stages, rechain: None, derived: None, from_process: false }
    }

    /// The same stream again, for internal use (no fan-out is allowed by it).
    fn duplicate(&self) -> Self {
        DataStream {
            config: self.config.clone(),
            node: self.node.clone(),
            stages: self.stages.clone(),
            rechain: self.rechain.clone(),
            derived: self.derived,
            from_process: self.from_process,
        }
    }

    /// The parallelism the next operator gets by default.
    fn parallelism(&self) -> usize {
        match self.derived {
            Some(d) => d.parallelism,
            None => self.stages.last().map(|s| s.parallelism).unwrap_or(1),
        }
    }

    /// The number of outputs its node takes (the subtasks that produce it).
    fn width(&self) -> usize {
        self.derived.map(|d| d.width).unwrap_or_else(|| self.parallelism())
    }

    fn next_stage(&self, name: &str, parallelism: usize) -> StageInfo {
        StageInfo {
            seq: self.config.next_seq(),
            ..StageInfo::new(format!("{}-{name}", self.stages.len()), name, parallelism, true)
        }
    }

    fn same_environment<U>(&self, other: &DataStream<U>, what: &str) {
        if !Arc::ptr_eq(&self.config, &other.config) {
            self.config.graph_error(format!("{what} of streams of two environments; define a job in one"));
        }
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
        if self.derived.is_some() {
            tracing::warn!(
                parallelism,
                "a union or side output has no operator of its own: set_parallelism is ignored"
            );
            return self;
        }
        if let Some(last) = self.stages.last_mut() {
            last.parallelism = parallelism;
        }
        // Source, exchange and process nodes size themselves from their outputs.
        self
    }

    fn chain<U: Send + 'static, F: ChainFn<T, U>>(self, f: Arc<F>) -> DataStream<U> {
        let upstream = self.duplicate();
        let f2 = f.clone();
        let rechain: Rechain<U> = Arc::new(move |p| upstream.duplicate().rebalance(p).chain(f2.clone()));
        let mut stream = DataStream::new(self.config, Arc::new(ChainNode { upstream: self.node, f }), self.stages);
        stream.rechain = Some(rechain);
        stream.derived = self.derived;
        stream
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
        if self.rechain.is_some() || self.derived.is_some() {
            tracing::debug!(uid, "a chained operator, union or side output keeps no state; its uid is not used");
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
            upstream_parallelism: self.width(),
            stage: stage.clone(),
        });
        let mut stages = self.stages;
        stages.push(stage);
        DataStream::new(self.config, node, stages)
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
            upstream_parallelism: self.width(),
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
    /// A job with several sinks is one [`Job`] made with [`Job::and`].
    pub fn sink_to<S: Sink<T>>(self, sink: S, name: &str) -> Job {
        let stage = self.next_stage(name, self.parallelism());
        let mut stages = self.stages.clone();
        stages.push(stage.clone());
        let upstream_parallelism = self.width();
        let seq = stage.seq;
        let node = Arc::new(SinkNode { upstream: self.node, upstream_parallelism, sink: Arc::new(sink), stage });
        Job { config: self.config, stages, sinks: vec![SinkEntry { seq, build: Arc::new(move |ctx| node.build(ctx)) }] }
    }

    /// One stream of the records of this one and `other` (Flink's `union`), each
    /// keeping its order within its own input. The next operator reads both through
    /// one input and, with exactly-once checkpoints, aligns their barriers; its
    /// parallelism is by default the larger of the two. A union has no operator:
    /// `set_parallelism` and `uid` on it are ignored.
    ///
    /// ```
    /// # use stream_core::prelude::*;
    /// # #[tokio::main] async fn main() -> stream_core::Result<()> {
    /// let env = StreamEnvironment::builder().build()?;
    /// let sink = CollectSink::new();
    /// env.from_source(CollectionSource::new(vec![1u64, 2]), "odd")
    ///     .union(env.from_source(CollectionSource::new(vec![10u64, 20]), "even"))
    ///     .sink_to(sink.clone(), "collect")
    ///     .execute("union")
    ///     .await?;
    /// let mut all = sink.committed();
    /// all.sort();
    /// assert_eq!(all, [1, 2, 10, 20]);
    /// # Ok(()) }
    /// ```
    pub fn union(self, other: DataStream<T>) -> DataStream<T> {
        self.same_environment(&other, "a union");
        let derived =
            Derived { width: self.width() + other.width(), parallelism: self.parallelism().max(other.parallelism()) };
        let inputs: Vec<(Arc<dyn Node<T>>, usize)> =
            vec![(self.node.clone(), self.width()), (other.node.clone(), other.width())];
        let mut stages = self.stages;
        stages.extend(other.stages);
        let mut stream = DataStream::new(self.config, Arc::new(UnionNode { inputs }), stages);
        stream.derived = Some(derived);
        stream
    }

    /// Connect this stream with `other`, of another type, for a two-input function
    /// with shared keyed state (Flink's `connect`): key both with
    /// [`ConnectedStreams::key_by`], then [`KeyedConnectedStreams::process`].
    pub fn connect<U: Send + 'static>(self, other: DataStream<U>) -> ConnectedStreams<T, U> {
        self.same_environment(&other, "a connect");
        ConnectedStreams { first: self, second: other }
    }

    /// The records the process function that made this stream emitted under `tag`
    /// ([`Collector::output`](crate::api::Collector::output)), as a stream with the
    /// operator's parallelism (set that before taking side outputs). Records of a
    /// side output nobody reads are dropped. Only a stream made by `process` has
    /// side outputs: on another stream this is reported when the job starts.
    pub fn side_output<S: Clone + Send + 'static>(&self, tag: &OutputTag<S>) -> DataStream<S> {
        if !self.from_process {
            self.config.graph_error(format!(
                "side_output(\"{}\") is read from a stream that no process function made; take it from the \
                 stream `process` returns",
                tag.name()
            ));
        }
        let width = self.width();
        let node = Arc::new(SideOutputNode::<S, T> {
            operator: self.node.clone(),
            tag: Arc::from(tag.name()),
            _records: PhantomData,
        });
        let mut stream = DataStream::new(self.config.clone(), node, self.stages.clone());
        stream.derived = Some(Derived { width, parallelism: width });
        stream
    }
}

/// Two streams connected for a [`KeyedCoProcessFunction`]; see [`DataStream::connect`].
pub struct ConnectedStreams<A, B> {
    first: DataStream<A>,
    second: DataStream<B>,
}

impl<A: Send + 'static, B: Send + 'static> ConnectedStreams<A, B> {
    /// Partition both inputs by key: records of either input with the same key
    /// reach the same subtask and share its state.
    pub fn key_by<K, KA, KB>(self, first_key: KA, second_key: KB) -> KeyedConnectedStreams<K, A, B, KA, KB>
    where
        K: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
        KA: Fn(&A) -> K + Send + Sync + 'static,
        KB: Fn(&B) -> K + Send + Sync + 'static,
    {
        KeyedConnectedStreams {
            streams: self,
            first_key: Arc::new(first_key),
            second_key: Arc::new(second_key),
            _key: PhantomData,
        }
    }
}

/// Two connected streams keyed alike; see [`ConnectedStreams::key_by`].
pub struct KeyedConnectedStreams<K, A, B, KA, KB> {
    streams: ConnectedStreams<A, B>,
    first_key: Arc<KA>,
    second_key: Arc<KB>,
    _key: PhantomData<fn() -> K>,
}

impl<K, A, B, KA, KB> KeyedConnectedStreams<K, A, B, KA, KB>
where
    K: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    A: Send + 'static,
    B: Send + 'static,
    KA: Fn(&A) -> K + Send + Sync + 'static,
    KB: Fn(&B) -> K + Send + Sync + 'static,
{
    /// Run `func` over both inputs in a stage called `name` (by default the larger
    /// of the two inputs' parallelisms). Its state is checkpointed per key; with
    /// exactly-once checkpoints the barriers of both inputs are aligned.
    ///
    /// ```
    /// # use stream_core::prelude::*;
    /// # #[tokio::main] async fn main() -> stream_core::Result<()> {
    /// let env = StreamEnvironment::builder().build()?;
    /// let sink = CollectSink::new();
    /// let prices = env.from_source(CollectionSource::new(vec![(1u64, 10u64), (2, 20)]), "prices");
    /// let orders = env.from_source(CollectionSource::new(vec![(1u64, 3u64), (2, 1), (1, 2)]), "orders");
    /// // Totals once both sides are known: the price first or the order first.
    /// #[derive(Default, serde::Serialize, serde::Deserialize)]
    /// struct Book { price: Option<u64>, waiting: Vec<u64> }
    /// prices
    ///     .connect(orders)
    ///     .key_by(|p: &(u64, u64)| p.0, |o: &(u64, u64)| o.0)
    ///     .process("total", co_process_fn(
    ///         |_k: &u64, book: &mut Book, (_, price): (u64, u64), out: &mut Collector<u64>| {
    ///             book.price = Some(price);
    ///             book.waiting.drain(..).for_each(|n| out.collect(n * price));
    ///             Ok(())
    ///         },
    ///         |_k: &u64, book: &mut Book, (_, n): (u64, u64), out: &mut Collector<u64>| {
    ///             match book.price {
    ///                 Some(price) => out.collect(n * price),
    ///                 None => book.waiting.push(n),
    ///             }
    ///             Ok(())
    ///         },
    ///     ))
    ///     .sink_to(sink.clone(), "totals")
    ///     .execute("join")
    ///     .await?;
    /// let mut totals = sink.committed();
    /// totals.sort();
    /// assert_eq!(totals, [20, 20, 30]);
    /// # Ok(()) }
    /// ```
    pub fn process<F: KeyedCoProcessFunction<K, A, B>>(self, name: &str, func: F) -> DataStream<F::Output> {
        let (first_key, second_key) = (self.first_key, self.second_key);
        let first = self.streams.first.map(Either::<A, B>::First);
        let second = self.streams.second.map(Either::<A, B>::Second);
        first
            .union(second)
            .key_by(move |record: &Either<A, B>| match record {
                Either::First(a) => first_key(a),
                Either::Second(b) => second_key(b),
            })
            .process(name, CoAdapter { func, _inputs: PhantomData })
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
        let seq = up.config.next_seq();
        let node = Arc::new(KeyedProcessNode {
            upstream: up.node.clone(),
            upstream_parallelism: up.width(),
            key_fn: self.key_fn,
            func: Arc::new(func),
            stage: stage.clone(),
            seq,
            _key: PhantomData,
        });
        let mut stages = up.stages;
        stages.push(stage);
        let mut stream = DataStream::made_by(up.config, seq, node, stages);
        stream.from_process = true;
        stream
    }
}
