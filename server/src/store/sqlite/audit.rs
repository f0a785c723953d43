//! [`AuditQueries`] on SQLite.

use crate::store::{AuditQueries, AuditQuery, AuditRecord, NewAudit, Result};

use super::SqliteTx;

impl AuditQueries for SqliteTx {
    async fn insert_audit(&mut self, a: &NewAudit<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO audit_log (at, actor, action, entity, key, environment, before, after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        )
        .bind(a.at)
        .bind(a.actor)
        .bind(a.action)
        .bind(a.entity)
        .bind(a.key)
        .bind(a.environment)
        .bind(a.before)
        .bind(a.after)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn audit(&mut self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, at, actor, action, entity, key, environment, before, after FROM audit_log
             WHERE (?1 IS NULL OR (key = ?1 AND entity IN ('flag', 'config', 'ramp')))
               AND (?2 IS NULL OR actor = ?2)
               AND (?3 IS NULL OR environment = ?3)
               AND (?4 IS NULL OR at >= ?4)
               AND (?5 IS NULL OR at < ?5)
               AND (?6 IS NULL OR id < ?6)
             ORDER BY id DESC LIMIT ?7",
        )
        .bind(&q.flag)
        .bind(&q.actor)
        .bind(&q.environment)
        .bind(q.since)
        .bind(q.until)
        .bind(q.before_id)
        .bind(q.limit)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn catalog_version(&mut self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM audit_log WHERE entity = 'flag'")
            .fetch_one(&mut *self.0)
            .await?)
    }
}
