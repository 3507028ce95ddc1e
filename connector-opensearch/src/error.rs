//! The sink's errors are those of the shared bulk logic.

/// What can go wrong writing to OpenSearch.
pub use connector_search::SearchError as OpenSearchError;
