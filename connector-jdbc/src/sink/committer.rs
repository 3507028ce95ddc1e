//! Commits the prepared transactions of completed checkpoints, from a session of its
//! own. A transaction that is no longer prepared was committed before when its marker
//! row is there, and is lost (an error) when it is not: never guessed (Flink takes
//! "unknown transaction" for "committed"). A marker stays until no checkpoint a
//! restore would start from holds its transaction (a checkpoint may hold those of
//! older checkpoints whose commit had not ended when it was taken).

use stream_core::Result;
use stream_core::api::Committer;
use stream_core::retry::RetryPolicy;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::markers;
use crate::connection::PgConnection;
use crate::error::{JdbcError, transient};
use crate::gid::Gid;

/// The committer of one subtask.
pub struct JdbcCommitter {
    pub(crate) connection: PgConnection,
    pub(crate) marker_table: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) client: Option<Client>,
    /// The sink's prefix and this subtask: whose markers it forgets.
    pub(crate) prefix: String,
    pub(crate) subtask: u32,
}

impl JdbcCommitter {
    async fn client(&mut self) -> std::result::Result<&Client, JdbcError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(self.connection.connect().await?);
        }
        self.client.as_ref().ok_or_else(|| JdbcError::Invalid("no committer session".into()))
    }

    async fn commit_one(&mut self, gid: &Gid) -> std::result::Result<(), JdbcError> {
        let table = self.marker_table.clone();
        let client = self.client().await?;
        match client.batch_execute(&format!("COMMIT PREPARED '{}'", gid.text())).await {
            Ok(()) => {}
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_OBJECT) => {
                if !markers::exists(client, &table, gid).await? {
                    return Err(JdbcError::Lost { gid: gid.text(), table });
                }
                tracing::debug!(gid = %gid.text(), "committed before");
            }
            Err(source) => return Err(JdbcError::Statement { what: format!("committing {}", gid.text()), source }),
        }
        Ok(())
    }
}

impl Committer for JdbcCommitter {
    type Committable = Gid;

    async fn commit(&mut self, committables: &[Gid]) -> Result<()> {
        let connection = self.connection.clone();
        for gid in committables {
            let what = format!("committing {}", gid.text());
            let mut backoff = self.retry.backoff();
            loop {
                let Err(error) = connection.within(&what, self.commit_one(gid)).await else { break };
                // A new session for the next try; a commit that went through before
                // its answer was lost is told by its marker.
                self.client = None;
                let delay = if transient(&error) { backoff.next_delay() } else { None };
                let Some(delay) = delay else { return Err(error.into()) };
                tracing::warn!(gid = %gid.text(), ?delay, %error, "committing failed; trying again");
                tokio::time::sleep(delay).await;
            }
        }
        Ok(())
    }

    async fn forget_before(&mut self, checkpoint_id: u64) -> Result<()> {
        let (connection, table, prefix) = (self.connection.clone(), self.marker_table.clone(), self.prefix.clone());
        let subtask = self.subtask;
        let forget = async {
            let client = self.client().await?;
            markers::forget_before(client, &table, &prefix, subtask, checkpoint_id).await
        };
        let result = connection.within("cleaning old markers", forget).await;
        if result.is_err() {
            self.client = None;
        }
        Ok(result?)
    }
}
