//! User functions: the keyed process function with checkpointed per-key state.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;

/// Receives the records an operator emits.
pub trait Collector<T> {
    /// Emit one record downstream.
    fn collect(&mut self, record: T);
}

impl<T> Collector<T> for Vec<T> {
    fn collect(&mut self, record: T) {
        self.push(record);
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
    fn process(&self, key: &K, state: &mut Self::State, record: I, out: &mut dyn Collector<Self::Output>)
    -> Result<()>;
}

/// A [`KeyedProcessFunction`] made from a closure; see [`process_fn`].
pub struct ProcessFn<F, S, O> {
    f: F,
    _types: PhantomData<fn() -> (S, O)>,
}

/// Make a [`KeyedProcessFunction`] from a closure
/// `|key, state: &mut S, record, out| -> Result<()>`.
pub fn process_fn<K, I, S, O, F>(f: F) -> ProcessFn<F, S, O>
where
    F: Fn(&K, &mut S, I, &mut dyn Collector<O>) -> Result<()> + Send + Sync + 'static,
{
    ProcessFn { f, _types: PhantomData }
}

impl<K, I, S, O, F> KeyedProcessFunction<K, I> for ProcessFn<F, S, O>
where
    F: Fn(&K, &mut S, I, &mut dyn Collector<O>) -> Result<()> + Send + Sync + 'static,
    S: Default + Serialize + DeserializeOwned + Send + 'static,
    O: Send + 'static,
{
    type Output = O;
    type State = S;

    fn process(&self, key: &K, state: &mut S, record: I, out: &mut dyn Collector<O>) -> Result<()> {
        (self.f)(key, state, record, out)
    }
}
