//! What travels on the channels between subtasks.

/// One message on a channel: a batch of records, a checkpoint barrier, the end of
/// data (no record follows; barriers still may), or the end of the stream.
#[derive(Debug)]
pub(crate) enum Event<T> {
    Records(Vec<T>),
    Barrier(u64),
    EndOfData,
    End,
}
