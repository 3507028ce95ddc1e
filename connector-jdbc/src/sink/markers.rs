//! The marker rows of exactly-once: one per prepared transaction, written inside it,
//! so that a commit that finds no prepared transaction can tell "committed before"
//! (the marker is there) from "lost" (it is not). And the prepared transactions a
//! dead attempt left behind, rolled back at start.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::error::{JdbcError, failed};
use crate::gid::Gid;

/// Make the marker table when it is missing (two subtasks may race: the loser's
/// duplicate is fine).
pub(crate) async fn ensure_table(client: &Client, table: &str) -> Result<(), JdbcError> {
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {table} (gid text PRIMARY KEY, prefix text NOT NULL, \
         subtask integer NOT NULL, checkpoint bigint NOT NULL, written_at timestamptz NOT NULL DEFAULT now())"
    );
    match client.batch_execute(&sql).await {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) || e.code() == Some(&SqlState::DUPLICATE_TABLE) => {
            Ok(())
        }
        Err(e) => Err(failed(format!("creating the marker table {table}"))(e)),
    }
}

/// `gid`'s subtask and checkpoint as the marker table's `integer` and `bigint`.
fn columns(gid: &Gid) -> (i32, i64) {
    (i32::try_from(gid.subtask).unwrap_or(i32::MAX), i64::try_from(gid.checkpoint).unwrap_or(i64::MAX))
}

/// Write `gid`'s marker (inside its transaction).
pub(crate) async fn write(client: &Client, table: &str, gid: &Gid) -> Result<(), JdbcError> {
    let sql = format!("INSERT INTO {table} (gid, prefix, subtask, checkpoint) VALUES ($1, $2, $3, $4)");
    let (subtask, checkpoint) = columns(gid);
    client
        .execute(&sql, &[&gid.text(), &gid.prefix, &subtask, &checkpoint])
        .await
        .map(drop)
        .map_err(failed(format!("writing the marker of {}", gid.text())))
}

/// Whether `gid`'s marker is there (its transaction was committed).
pub(crate) async fn exists(client: &Client, table: &str, gid: &Gid) -> Result<bool, JdbcError> {
    let sql = format!("SELECT 1 FROM {table} WHERE gid = $1");
    let rows = client.query(&sql, &[&gid.text()]).await.map_err(failed(format!("looking for {}", gid.text())))?;
    Ok(!rows.is_empty())
}

/// Drop the markers of `prefix`'s subtask `subtask` from checkpoints before
/// `checkpoint`: no checkpoint a restore would start from holds their transactions.
pub(crate) async fn forget_before(
    client: &Client,
    table: &str,
    prefix: &str,
    subtask: u32,
    checkpoint: u64,
) -> Result<(), JdbcError> {
    let sql = format!("DELETE FROM {table} WHERE prefix = $1 AND subtask = $2 AND checkpoint < $3");
    let (subtask, checkpoint) = columns(&Gid { prefix: prefix.into(), subtask, checkpoint });
    client.execute(&sql, &[&prefix, &subtask, &checkpoint]).await.map(drop).map_err(failed("cleaning old markers"))
}

/// Roll back the prepared transactions of `prefix` that subtask `subtask` of
/// `parallelism` owns (subtask 0 also owns those of subtasks beyond a smaller
/// parallelism) and that no restored checkpoint covers: those of checkpoints after
/// `restored`, or all of them on a fresh start. Returns what it rolled back.
pub(crate) async fn roll_back_orphans(
    client: &Client,
    prefix: &str,
    subtask: u32,
    parallelism: u32,
    restored: Option<u64>,
) -> Result<Vec<Gid>, JdbcError> {
    let rows = client
        .query("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()", &[])
        .await
        .map_err(failed("listing prepared transactions"))?;
    let mut rolled_back = Vec::new();
    for row in rows {
        let text: String = row.get(0);
        let Some(gid) = Gid::parse(prefix, &text) else { continue };
        let mine = gid.subtask == subtask || (subtask == 0 && gid.subtask >= parallelism);
        let orphan = restored.is_none_or(|checkpoint| gid.checkpoint > checkpoint);
        if !(mine && orphan) {
            continue;
        }
        match client.batch_execute(&format!("ROLLBACK PREPARED '{text}'")).await {
            Ok(()) => rolled_back.push(gid),
            // Another subtask or attempt got there first.
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_OBJECT) => {}
            Err(e) => return Err(failed(format!("rolling back {text}"))(e)),
        }
    }
    Ok(rolled_back)
}
