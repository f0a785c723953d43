//! [`ChangeQueries`] on Postgres.

use crate::store::{ChangeQueries, ChangeRecord, Result};

use super::{PgQuery, PgTx};

/// Binds a change record's six columns, in table order.
pub(super) fn bind_change<'q>(query: PgQuery<'q>, c: &'q ChangeRecord) -> PgQuery<'q> {
    query.bind(c.environment_id).bind(c.version).bind(&c.entity).bind(&c.key).bind(&c.op).bind(c.at)
}

impl ChangeQueries for PgTx {
    async fn insert_change(&mut self, c: &ChangeRecord) -> Result<()> {
        let query = sqlx::query(
            "INSERT INTO changes (environment_id, version, entity, key, op, at) VALUES ($1, $2, $3, $4, $5, $6)",
        );
        bind_change(query, c).execute(&mut *self.0).await?;
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
        .fetch_all(&mut *self.0)
        .await?)
    }
}
