//! What a connector implements to use [`super::AsyncSinkWriter`].

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use stream_core::StreamError;

/// The answer to one request.
#[derive(Debug)]
pub enum SubmitResult<E> {
    /// Every entry was accepted.
    Success,
    /// These entries were not accepted and should be sent again (throttling, a
    /// partial failure); the others were accepted. All of them for a failed request.
    Retry(Vec<E>),
    /// Retrying cannot help (missing stream or table, bad credentials, an entry the
    /// destination rejects as invalid): the writer fails with this error (the
    /// connector's own, its client's error kept as its source).
    Fatal(StreamError),
}

impl<E> SubmitResult<E> {
    /// [`SubmitResult::Fatal`] with an error that is only a message (prefer the
    /// connector's own error, which keeps its client's as its source).
    pub fn fatal_message(message: impl Into<String>) -> Self {
        SubmitResult::Fatal(StreamError::Connector(message.into().into()))
    }
}

/// Sends batches of request entries to the destination.
pub trait AsyncSinkClient: Send + Sync + 'static {
    /// A request entry. Buffered entries are part of checkpoints, so it is serializable.
    type Entry: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;

    /// Size of an entry as the destination counts it against its limits.
    fn entry_size(&self, entry: &Self::Entry) -> usize;

    /// Send one batch and say which entries failed and how.
    fn submit(&self, batch: Vec<Self::Entry>) -> impl Future<Output = SubmitResult<Self::Entry>> + Send;
}

/// Entries paired with their sizes.
pub(crate) fn sized<C: AsyncSinkClient>(client: &C, entries: Vec<C::Entry>) -> Vec<(C::Entry, usize)> {
    entries
        .into_iter()
        .map(|entry| {
            let size = client.entry_size(&entry);
            (entry, size)
        })
        .collect()
}
