//! [`AuditQueries`] on Postgres.

use sqlx::Row;

use crate::store::{AuditQueries, AuditQuery, AuditRecord, NewAudit, Result};

use super::{PgQuery, PgTx};

/// Binds an audit entry's eight columns, in table order.
pub(super) fn bind_audit<'q>(query: PgQuery<'q>, a: &NewAudit<'q>) -> PgQuery<'q> {
    query
        .bind(a.at)
        .bind(a.actor)
        .bind(a.action)
        .bind(a.entity)
        .bind(a.key)
        .bind(a.environment)
        .bind(a.before)
        .bind(a.after)
}

impl AuditQueries for PgTx {
    async fn insert_audit(&mut self, a: &NewAudit<'_>) -> Result<i64> {
        let query = sqlx::query(
            "INSERT INTO audit_log (at, actor, action, entity, key, environment, before, after)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        );
        Ok(bind_audit(query, a).fetch_one(self.conn().await?).await?.try_get(0)?)
    }

    async fn audit(&mut self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT id, at, actor, action, entity, key, environment, before, after FROM audit_log
             WHERE ($1::text IS NULL OR (key = $1 AND entity IN ('flag', 'config', 'ramp')))
               AND ($2::text IS NULL OR actor = $2)
               AND ($3::text IS NULL OR environment = $3)
               AND ($4::bigint IS NULL OR at >= $4)
               AND ($5::bigint IS NULL OR at < $5)
               AND ($6::bigint IS NULL OR id < $6)
             ORDER BY id DESC",
            limit!("$7")
        ))
        .bind(&q.flag)
        .bind(&q.actor)
        .bind(&q.environment)
        .bind(q.since)
        .bind(q.until)
        .bind(q.before_id)
        .bind(q.limit)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn catalog_version(&mut self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(id), 0)::bigint FROM audit_log WHERE entity = 'flag'")
            .fetch_one(self.conn().await?)
            .await?)
    }
}
