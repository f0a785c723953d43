//! [`ChangeQueries`] on Postgres.

use crate::store::{ChangeQueries, ChangeRecord, Result, Topic};

use super::{PgQuery, PgTx};

/// Binds a change record's six columns, in table order.
pub(super) fn bind_change<'q>(query: PgQuery<'q>, c: &'q ChangeRecord) -> PgQuery<'q> {
    query.bind(c.environment_id).bind(c.version).bind(&c.entity).bind(&c.key).bind(&c.op).bind(c.at)
}

impl ChangeQueries for PgTx {
    async fn insert_change(&mut self, c: &ChangeRecord) -> Result<()> {
        // With the hint that tells other replicas to read the log, in the
        // same round trip (`NOTIFY` is delivered at commit, and dropped with
        // a savepoint rolled back): the row and the hint that announces it.
        let query = sqlx::query(
            "INSERT INTO changes (environment_id, version, entity, key, op, at)
             SELECT $1, $2, $3, $4, $5, $6 FROM (SELECT pg_notify($7, '')) AS hint",
        );
        bind_change(query, c).bind(Topic::Changes.channel()).execute(self.conn().await?).await?;
        self.1.hinted(Topic::Changes);
        Ok(())
    }

    async fn changes_after(&mut self, environment_id: i64, after: i64, limit: i64) -> Result<Vec<ChangeRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT environment_id, version, entity, key, op, at FROM changes
             WHERE environment_id = $1 AND version > $2 ORDER BY version",
            limit!("$3")
        ))
        .bind(environment_id)
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn().await?)
        .await?)
    }
}
