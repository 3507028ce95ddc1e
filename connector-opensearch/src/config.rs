//! The public sink types: the shared builder and sink of connector-search on the
//! opensearch client.

use connector_search::{SearchSink, SearchSinkBuilder};

/// The opensearch client as a [`connector_search::Backend`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenSearch;

/// Writes records to OpenSearch with `_bulk` requests (connector-base's batching,
/// retrying async sink). Build with [`OpenSearchSinkBuilder::new`].
pub type OpenSearchSink<T> = SearchSink<T, OpenSearch>;

/// Builder of [`OpenSearchSink`]; every option is in
/// [`connector_search::SearchSinkBuilder`].
pub type OpenSearchSinkBuilder<T> = SearchSinkBuilder<T, OpenSearch>;
