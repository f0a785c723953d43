//! [`TxQueries`] on Postgres: savepoints per job, hints, the probe write, the marks.

use crate::store::{Result, Topic, TxMarks, TxQueries, Undo};

use super::PgTx;

impl TxQueries for PgTx {
    async fn begin_job(&mut self, undo: Undo) -> Result<()> {
        if undo == Undo::Savepoint {
            let open = self.1.savepoint_open;
            let sql = if open { "RELEASE SAVEPOINT job; SAVEPOINT job" } else { "SAVEPOINT job" };
            sqlx::raw_sql(sql).execute(self.conn().await?).await?;
            self.1.savepoint_open = true;
        }
        self.1.begin_job();
        Ok(())
    }

    async fn abort_job(&mut self, undo: Undo) -> Result<()> {
        match undo {
            Undo::Savepoint => sqlx::query("ROLLBACK TO SAVEPOINT job").execute(self.conn().await?).await?,
            // Nothing to undo; but if a statement of the job failed, the
            // transaction is spoiled ("current transaction is aborted") and
            // this says so.
            Undo::NothingWritten => sqlx::query("SELECT 1").execute(self.conn().await?).await?,
        };
        self.1.abort_job();
        Ok(())
    }

    async fn notify(&mut self, topic: Topic) -> Result<()> {
        // Delivered at commit, and only if the transaction commits; once per
        // topic and transaction is enough (Postgres would fold duplicates anyway).
        if !self.1.notified(topic) {
            sqlx::query("SELECT pg_notify($1, '')").bind(topic.channel()).execute(self.conn().await?).await?;
            self.1.hinted(topic);
        }
        Ok(())
    }

    async fn probe_write(&mut self) -> Result<()> {
        sqlx::query("UPDATE environments SET version = version WHERE id = (SELECT MIN(id) FROM environments)")
            .execute(self.conn().await?)
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
