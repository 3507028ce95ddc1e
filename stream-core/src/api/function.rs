//! User functions: the keyed process function with checkpointed per-key state, its
//! two-input form over connected streams, and side outputs.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// Records emitted to side outputs, with their tags' names.
pub(crate) type SideRecords = Vec<(Arc<str>, Box<dyn Any + Send>)>;

/// Receives the records an operator emits (they go downstream as one batch).
#[derive(Debug)]
pub struct Collector<'a, T> {
    buffer: &'a mut Vec<T>,
    side: Option<&'a mut SideRecords>,
}

impl<'a, T> Collector<'a, T> {
    /// A collector appending to `buffer` (side outputs are dropped).
    pub fn new(buffer: &'a mut Vec<T>) -> Self {
        Collector { buffer, side: None }
    }

    pub(crate) fn with_side_outputs(buffer: &'a mut Vec<T>, side: &'a mut SideRecords) -> Self {
        Collector { buffer, side: Some(side) }
    }

    /// Emit one record downstream.
    #[inline]
    pub fn collect(&mut self, record: T) {
        self.buffer.push(record);
    }

    /// Emit one record to the side output `tag`; the stream
    /// [`DataStream::side_output`](crate::DataStream::side_output)`(&tag)` of this
    /// operator carries it. Records of a side output nobody reads are dropped.
    pub fn output<S: Send + 'static>(&mut self, tag: &OutputTag<S>, record: S) {
        if let Some(side) = self.side.as_deref_mut() {
            side.push((tag.name.clone(), Box::new(record)));
        }
    }
}

/// Names a side output of a process function and the type of its records, as
/// Flink's `OutputTag`: the function emits with [`Collector::output`], the job
/// reads it with [`DataStream::side_output`](crate::DataStream::side_output). Each
/// side output of one operator needs its own name.
pub struct OutputTag<S> {
    name: Arc<str>,
    _type: PhantomData<fn() -> S>,
}

impl<S> OutputTag<S> {
    /// A tag called `name`.
    pub fn new(name: &str) -> Self {
        OutputTag { name: Arc::from(name), _type: PhantomData }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<S> Clone for OutputTag<S> {
    fn clone(&self) -> Self {
        OutputTag { name: self.name.clone(), _type: PhantomData }
    }
}

impl<S> fmt::Debug for OutputTag<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OutputTag").field(&self.name).finish()
    }
}

/// A function over a keyed stream with user-defined state per key. The state of every
/// key is part of each checkpoint and is restored after a failure, so with
/// exactly-once checkpoints each record updates it exactly once.
pub trait KeyedProcessFunction<K, I>: Send + Sync + 'static {
    /// Records emitted.
    type Output: Send + 'static;
    /// Per-key state; `Default` gives the state of a key not seen before.
    type State: Default + Serialize + DeserializeOwned + Send + 'static;

    /// Handle one record of `key`.
    fn process(&self, key: &K, state: &mut Self::State, record: I, out: &mut Collector<'_, Self::Output>)
    -> Result<()>;
}

/// A [`KeyedProcessFunction`] made from a closure; see [`process_fn`].
pub struct ProcessFn<F, S, O> {
    f: F,
    _types: PhantomData<fn() -> (S, O)>,
}

/// Make a [`KeyedProcessFunction`] from a closure
/// `|key, state: &mut S, record, out: &mut Collector<O>| -> Result<()>`.
pub fn process_fn<K, I, S, O, F>(f: F) -> ProcessFn<F, S, O>
where
    F: Fn(&K, &mut S, I, &mut Collector<'_, O>) -> Result<()> + Send + Sync + 'static,
{
    ProcessFn { f, _types: PhantomData }
}

impl<K, I, S, O, F> KeyedProcessFunction<K, I> for ProcessFn<F, S, O>
where
    F: Fn(&K, &mut S, I, &mut Collector<'_, O>) -> Result<()> + Send + Sync + 'static,
    S: Default + Serialize + DeserializeOwned + Send + 'static,
    O: Send + 'static,
{
    type Output = O;
    type State = S;

    #[inline]
    fn process(&self, key: &K, state: &mut S, record: I, out: &mut Collector<'_, O>) -> Result<()> {
        (self.f)(key, state, record, out)
    }
}

/// A function over two connected streams keyed alike (Flink's
/// `KeyedCoProcessFunction`): records of both inputs with the same key share one
/// checkpointed state, so a join or an enrichment sees both sides. With exactly-once
/// checkpoints each record of either input updates the state exactly once.
pub trait KeyedCoProcessFunction<K, I1, I2>: Send + Sync + 'static {
    /// Records emitted.
    type Output: Send + 'static;
    /// Per-key state shared by both inputs; `Default` gives a new key's state.
    type State: Default + Serialize + DeserializeOwned + Send + 'static;

    /// Handle one record of the first input.
    fn process1(
        &self,
        key: &K,
        state: &mut Self::State,
        record: I1,
        out: &mut Collector<'_, Self::Output>,
    ) -> Result<()>;

    /// Handle one record of the second input.
    fn process2(
        &self,
        key: &K,
        state: &mut Self::State,
        record: I2,
        out: &mut Collector<'_, Self::Output>,
    ) -> Result<()>;
}

/// A [`KeyedCoProcessFunction`] made from two closures; see [`co_process_fn`].
pub struct CoProcessFn<F1, F2, S, O> {
    first: F1,
    second: F2,
    _types: PhantomData<fn() -> (S, O)>,
}

/// Make a [`KeyedCoProcessFunction`] from one closure per input, each
/// `|key, state: &mut S, record, out: &mut Collector<O>| -> Result<()>`.
pub fn co_process_fn<K, I1, I2, S, O, F1, F2>(first: F1, second: F2) -> CoProcessFn<F1, F2, S, O>
where
    F1: Fn(&K, &mut S, I1, &mut Collector<'_, O>) -> Result<()> + Send + Sync + 'static,
    F2: Fn(&K, &mut S, I2, &mut Collector<'_, O>) -> Result<()> + Send + Sync + 'static,
{
    CoProcessFn { first, second, _types: PhantomData }
}

impl<K, I1, I2, S, O, F1, F2> KeyedCoProcessFunction<K, I1, I2> for CoProcessFn<F1, F2, S, O>
where
    F1: Fn(&K, &mut S, I1, &mut Collector<'_, O>) -> Result<()> + Send + Sync + 'static,
    F2: Fn(&K, &mut S, I2, &mut Collector<'_, O>) -> Result<()> + Send + Sync + 'static,
    S: Default + Serialize + DeserializeOwned + Send + 'static,
    O: Send + 'static,
{
    type Output = O;
    type State = S;

    fn process1(&self, key: &K, state: &mut S, record: I1, out: &mut Collector<'_, O>) -> Result<()> {
        (self.first)(key, state, record, out)
    }

    fn process2(&self, key: &K, state: &mut S, record: I2, out: &mut Collector<'_, O>) -> Result<()> {
        (self.second)(key, state, record, out)
    }
}

/// A record of one of two connected streams.
#[derive(Debug, Clone)]
pub(crate) enum Either<A, B> {
    First(A),
    Second(B),
}

/// A [`KeyedCoProcessFunction`] as a [`KeyedProcessFunction`] over [`Either`].
pub(crate) struct CoAdapter<F, I1, I2> {
    pub(crate) func: F,
    pub(crate) _inputs: PhantomData<fn() -> (I1, I2)>,
}

impl<K, I1, I2, F> KeyedProcessFunction<K, Either<I1, I2>> for CoAdapter<F, I1, I2>
where
    F: KeyedCoProcessFunction<K, I1, I2>,
    I1: 'static,
    I2: 'static,
{
    type Output = F::Output;
    type State = F::State;

    #[inline]
    fn process(
        &self,
        key: &K,
        state: &mut F::State,
        record: Either<I1, I2>,
        out: &mut Collector<'_, F::Output>,
    ) -> Result<()> {
        match record {
            Either::First(record) => self.func.process1(key, state, record, out),
            Either::Second(record) => self.func.process2(key, state, record, out),
        }
    }
}
