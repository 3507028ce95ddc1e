//! How the query is cut into key ranges when the source starts: an integer key into
//! ranges of equal width between its lowest and highest value (Flink's
//! `JdbcNumericBetweenParametersProvider`), a text key into one range.

use tokio_postgres::Client;

use super::query::{KeyKind, KeyedQuery};
use super::split::{KeyRangeSplit, even_boundaries};
use crate::error::JdbcError;

/// The splits of `query` by its key column.
pub(crate) async fn splits(
    client: &Client,
    query: &str,
    key: &str,
    splits: usize,
) -> Result<Vec<KeyRangeSplit>, JdbcError> {
    let keyed = KeyedQuery::describe(client, query, key).await?;
    let boundaries = match keyed.kind {
        KeyKind::Text => Vec::new(),
        KeyKind::Int => match keyed.int_range(client).await? {
            Some((lowest, highest)) => even_boundaries(lowest, highest, splits),
            None => Vec::new(),
        },
    };
    tracing::info!(query, key, splits = boundaries.len() + 1, "jdbc source splits");
    Ok(KeyRangeSplit::between(boundaries))
}
