//! [`TxQueries`] on SQLite: savepoints per job, hints, the probe write, the marks.

use crate::store::{Result, Topic, TxMarks, TxQueries, Undo};

use super::SqliteTx;

impl TxQueries for SqliteTx {
    async fn begin_job(&mut self, _: Undo) -> Result<()> {
        // Always a savepoint: in process it costs no round trip.
        let open = self.1.savepoint_open;
        let sql = if open { "RELEASE SAVEPOINT job; SAVEPOINT job" } else { "SAVEPOINT job" };
        sqlx::raw_sql(sql).execute(&mut *self.0).await?;
        self.1.savepoint_open = true;
        self.1.begin_job();
        Ok(())
    }

    async fn abort_job(&mut self, _: Undo) -> Result<()> {
        sqlx::query("ROLLBACK TO SAVEPOINT job").execute(&mut *self.0).await?;
        self.1.abort_job();
        Ok(())
    }

    async fn notify(&mut self, topic: Topic) -> Result<()> {
        // One process: the writer tells the hub in-process after commit.
        self.1.hinted(topic);
        Ok(())
    }

    async fn probe_write(&mut self) -> Result<()> {
        sqlx::query("UPDATE environments SET version = version WHERE id = (SELECT MIN(id) FROM environments)")
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    fn marks(&self) -> &TxMarks {
        &self.1
    }

    fn marks_mut(&mut self) -> &mut TxMarks {
        &mut self.1
    }
}
