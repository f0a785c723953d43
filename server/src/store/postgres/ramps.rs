//! [`RampQueries`] on Postgres.

use sqlx::Row;

use crate::store::{RampFilter, RampQueries, RampRecord, Result};

use super::PgTx;

/// The columns of `RampRecord` from `ramps r` joined with `flags f` and `environments e`.
macro_rules! ramp_columns {
    () => {
        "SELECT r.id, r.flag_id, f.key AS flag_key, r.environment_id, e.key AS environment_key, r.rule_id,
                r.canary_variant, r.control_variant, r.steps, r.guardrails, r.alpha, r.experiment_id, r.state,
                r.step, r.step_started_at, r.next_at, r.reason, r.before_rule, r.rule, r.baseline, r.history,
                r.revision, r.created_at, r.created_by, r.updated_at, r.updated_by
         FROM ramps r JOIN flags f ON f.id = r.flag_id JOIN environments e ON e.id = r.environment_id"
    };
}

/// The columns every write sets, in the order [`bind_ramp`] binds them.
macro_rules! ramp_fields {
    () => {
        "rule_id, canary_variant, control_variant, steps, guardrails, alpha, experiment_id, state, step,
         step_started_at, next_at, reason, before_rule, rule, baseline, history, revision, updated_at, updated_by"
    };
}

/// Binds `ramp_fields!()` of `r` as the statement's first parameters.
fn bind_ramp<'q>(q: super::PgQuery<'q>, r: &'q RampRecord) -> super::PgQuery<'q> {
    q.bind(&r.rule_id)
        .bind(&r.canary_variant)
        .bind(&r.control_variant)
        .bind(&r.steps)
        .bind(&r.guardrails)
        .bind(r.alpha)
        .bind(r.experiment_id)
        .bind(&r.state)
        .bind(r.step)
        .bind(r.step_started_at)
        .bind(r.next_at)
        .bind(&r.reason)
        .bind(&r.before_rule)
        .bind(&r.rule)
        .bind(&r.baseline)
        .bind(&r.history)
        .bind(r.revision)
        .bind(r.updated_at)
        .bind(&r.updated_by)
}

impl RampQueries for PgTx {
    async fn ramps(&mut self, filter: RampFilter<'_>, limit: i64) -> Result<Vec<RampRecord>> {
        Ok(sqlx::query_as(concat!(
            ramp_columns!(),
            " WHERE ($1::BIGINT IS NULL OR r.flag_id = $1) AND ($2::BIGINT IS NULL OR r.environment_id = $2)
                AND ($3 = '' OR r.state = ANY (string_to_array($3, ',')))
              ORDER BY r.id DESC LIMIT $4"
        ))
        .bind(filter.flag_id)
        .bind(filter.environment_id)
        .bind(filter.states.join(","))
        .bind(limit)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn ramp(&mut self, id: i64) -> Result<Option<RampRecord>> {
        Ok(sqlx::query_as(concat!(ramp_columns!(), " WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(self.conn().await?)
            .await?)
    }

    async fn insert_ramp(&mut self, r: &RampRecord) -> Result<i64> {
        let row = bind_ramp(
            sqlx::query(concat!(
                "INSERT INTO ramps (",
                ramp_fields!(),
                ", flag_id, environment_id, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                     $20, $21, $22, $23)
             RETURNING id"
            )),
            r,
        )
        .bind(r.flag_id)
        .bind(r.environment_id)
        .bind(r.created_at)
        .bind(&r.created_by)
        .fetch_one(self.conn().await?)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn update_ramp(&mut self, r: &RampRecord) -> Result<()> {
        bind_ramp(
            sqlx::query(concat!(
                "UPDATE ramps SET (",
                ramp_fields!(),
                ") = ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             WHERE id = $20"
            )),
            r,
        )
        .bind(r.id)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn due_ramps(&mut self, now: i64, limit: i64) -> Result<Vec<RampRecord>> {
        // Replicas racing for the same due rows: each takes the ones no other holds.
        Ok(sqlx::query_as(concat!(
            ramp_columns!(),
            " WHERE r.state = 'running' AND r.next_at <= $1 ORDER BY r.next_at, r.id LIMIT $2
              FOR UPDATE OF r SKIP LOCKED"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.conn().await?)
        .await?)
    }

    async fn next_ramp_at(&mut self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT min(next_at) FROM ramps WHERE state = 'running'")
            .fetch_one(self.conn().await?)
            .await?)
    }
}
