//! Making a driver session from the sink's options.

use std::sync::Arc;
use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

use crate::error::CassandraError;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub contact_points: Vec<String>,
    pub connect_timeout: Duration,
    /// The driver's schema and topology metadata (on for a real cluster; servers
    /// without full system tables need it off).
    pub cluster_metadata: bool,
}

impl Connection {
    pub async fn session(&self) -> Result<Arc<Session>, CassandraError> {
        let session = SessionBuilder::new()
            .known_nodes(&self.contact_points)
            .connection_timeout(self.connect_timeout)
            .fetch_schema_metadata(self.cluster_metadata)
            .refresh_metadata_on_auto_schema_agreement(self.cluster_metadata)
            .build()
            .await
            .map_err(|source| CassandraError::Connect { contact_points: self.contact_points.join(","), source })?;
        Ok(Arc::new(session))
    }
}
