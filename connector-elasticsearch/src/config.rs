//! The public sink types: the shared builder and sink of connector-search on the
//! elasticsearch client.

use connector_search::{SearchSink, SearchSinkBuilder};

/// The elasticsearch client as a [`connector_search::Backend`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Elasticsearch;

/// Writes records to Elasticsearch with `_bulk` requests (connector-base's batching,
/// retrying async sink). Build with [`ElasticsearchSinkBuilder::new`].
pub type ElasticsearchSink<T> = SearchSink<T, Elasticsearch>;

/// Builder of [`ElasticsearchSink`]; every option is in
/// [`connector_search::SearchSinkBuilder`].
pub type ElasticsearchSinkBuilder<T> = SearchSinkBuilder<T, Elasticsearch>;
