//! What travels on the channels between subtasks.

/// One message on a channel: a batch of records, a checkpoint barrier, or the end.
#[derive(Debug)]
pub(crate) enum Event<T> {
    Records(Vec<T>),
    Barrier(u64),
    End,
}
