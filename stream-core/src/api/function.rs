//! User functions: the keyed process function with checkpointed per-key state.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// Receives the records an operator emits (they go downstream as one batch).
#[derive(Debug)]
pub struct Collector<'a, T> {
    buffer: &'a mut Vec<T>,
}

impl<'a, T> Collector<'a, T> {
    /// A collector appending to `buffer`.
    pub fn new(buffer: &'a mut Vec<T>) -> Self {
        Collector { buffer }
    }

    /// Emit one record downstream.
    #[inline]
    pub fn collect(&mut self, record: T) {
        self.buffer.push(record);
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
