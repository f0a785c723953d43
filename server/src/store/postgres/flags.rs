//! [`FlagQueries`] on Postgres.

use crate::store::{FlagQueries, FlagQuery, FlagRecord, NewFlag, Result};

use super::PgTx;

/// The columns of `FlagRecord`, for `concat!` into static SQL.
macro_rules! flag_columns {
    () => {
        "id, key, name, description, kind, variants, tags, archived, revision, created_at, updated_at"
    };
}

/// The shared filter of the flag list and its count.
macro_rules! flag_filter {
    () => {
        r#"WHERE ($1::text IS NULL OR strpos(lower(key COLLATE "C"), lower($1 COLLATE "C")) > 0
                OR strpos(lower(name COLLATE "C"), lower($1 COLLATE "C")) > 0
                OR strpos(lower(description COLLATE "C"), lower($1 COLLATE "C")) > 0)
           AND ($2::text IS NULL OR tags::jsonb ? $2)
           AND ($3::boolean IS NULL OR archived = $3)"#
    };
}

impl FlagQueries for PgTx {
    async fn flags(&mut self, q: &FlagQuery) -> Result<(Vec<FlagRecord>, i64)> {
        let rows = sqlx::query_as(concat!(
            "SELECT ",
            flag_columns!(),
            " FROM flags ",
            flag_filter!(),
            " ORDER BY key",
            limit!("$4"),
            " OFFSET GREATEST($5::bigint, 0)"
        ))
        .bind(&q.search)
        .bind(&q.tag)
        .bind(q.archived)
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(self.conn().await?)
        .await?;
        let total = sqlx::query_scalar(concat!("SELECT COUNT(*) FROM flags ", flag_filter!()))
            .bind(&q.search)
            .bind(&q.tag)
            .bind(q.archived)
            .fetch_one(self.conn().await?)
            .await?;
        Ok((rows, total))
    }

    async fn flag(&mut self, key: &str) -> Result<Option<FlagRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", flag_columns!(), " FROM flags WHERE key = $1"))
            .bind(key)
            .fetch_optional(self.conn().await?)
            .await?)
    }

    async fn flags_by_keys(&mut self, keys: &[String]) -> Result<Vec<FlagRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", flag_columns!(), " FROM flags WHERE key = ANY($1) ORDER BY key"))
            .bind(keys)
            .fetch_all(self.conn().await?)
            .await?)
    }

    async fn insert_flag(&mut self, f: &NewFlag<'_>) -> Result<FlagRecord> {
        Ok(sqlx::query_as(concat!(
            "INSERT INTO flags (key, name, description, kind, variants, tags, archived, revision, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, FALSE, 1, $7, $7) RETURNING ",
            flag_columns!()
        ))
        .bind(f.key)
        .bind(f.name)
        .bind(f.description)
        .bind(f.kind)
        .bind(f.variants)
        .bind(f.tags)
        .bind(f.at)
        .fetch_one(self.conn().await?)
        .await?)
    }

    async fn update_flag(&mut self, f: &FlagRecord) -> Result<()> {
        sqlx::query(
            "UPDATE flags SET name = $2, description = $3, variants = $4, tags = $5, archived = $6, revision = $7,
                              updated_at = $8 WHERE id = $1",
        )
        .bind(f.id)
        .bind(&f.name)
        .bind(&f.description)
        .bind(&f.variants)
        .bind(&f.tags)
        .bind(f.archived)
        .bind(f.revision)
        .bind(f.updated_at)
        .execute(self.conn().await?)
        .await?;
        Ok(())
    }

    async fn delete_flag(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM flags WHERE id = $1").bind(id).execute(self.conn().await?).await?;
        Ok(())
    }
}
