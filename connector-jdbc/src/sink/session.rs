//! A writer's session: its client, the statement prepared on it, and its server
//! process id. When a session is lost, the next one ends the old server process
//! before anything else, so that a statement of the old session still running on
//! the server (a `PREPARE TRANSACTION` whose answer was lost) has finished one way or
//! the other before the writer looks at what it left.

use std::time::Duration;

use tokio_postgres::{Client, Statement};

use crate::connection::PgConnection;
use crate::error::{JdbcError, failed};

/// One open session of a writer.
pub(crate) struct Session {
    pub(crate) client: Client,
    pub(crate) statement: Statement,
    /// The server process serving it (`pg_backend_pid()`).
    pub(crate) pid: i32,
}

/// How long a lost session's server process may take to end.
const FENCE_WAIT: Duration = Duration::from_secs(10);

impl Session {
    /// Open a session and prepare `sql` on it; when it replaces a lost session whose
    /// server process was `lost_pid`, end that process first.
    pub(crate) async fn open(
        connection: &PgConnection,
        sql: &str,
        lost_pid: Option<i32>,
    ) -> Result<Session, JdbcError> {
        let client = connection.connect().await?;
        if let Some(pid) = lost_pid {
            fence(&client, pid).await?;
        }
        let statement = client
            .prepare(sql)
            .await
            .map_err(|source| JdbcError::Statement { what: format!("preparing `{sql}`"), source })?;
        let pid = client.query_one("SELECT pg_backend_pid()", &[]).await.map_err(failed("asking the session's pid"))?;
        Ok(Session { client, statement, pid: pid.get(0) })
    }
}

/// End server process `pid` (a lost session of this writer) and wait until it is
/// gone.
async fn fence(client: &Client, pid: i32) -> Result<(), JdbcError> {
    let deadline = tokio::time::Instant::now() + FENCE_WAIT;
    loop {
        let alive = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1) AND pg_terminate_backend($1) IS NOT NULL",
                &[&pid],
            )
            .await
            .map_err(failed(format!("ending the lost session's server process {pid}")))?;
        if !alive.get::<_, bool>(0) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(JdbcError::Invalid(format!(
                "the lost session's server process {pid} did not end within {FENCE_WAIT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
