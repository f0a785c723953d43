//! [`FlagQueries`] on SQLite.

use crate::store::{FlagQueries, FlagQuery, FlagRecord, NewFlag, Result};

use super::SqliteTx;

/// The columns of `FlagRecord`, for `concat!` into static SQL.
macro_rules! flag_columns {
    () => {
        "id, key, name, description, kind, variants, tags, archived, revision, created_at, updated_at"
    };
}

/// The shared filter of the flag list and its count.
macro_rules! flag_filter {
    () => {
        "WHERE (?1 IS NULL OR instr(lower(key), lower(?1)) > 0 OR instr(lower(name), lower(?1)) > 0
                OR instr(lower(description), lower(?1)) > 0)
           AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(flags.tags) WHERE json_each.value = ?2))
           AND (?3 IS NULL OR archived = ?3)"
    };
}

impl FlagQueries for SqliteTx {
    async fn flags(&mut self, q: &FlagQuery) -> Result<(Vec<FlagRecord>, i64)> {
        let rows = sqlx::query_as(concat!(
            "SELECT ",
            flag_columns!(),
            " FROM flags ",
            flag_filter!(),
            " ORDER BY key LIMIT ?4 OFFSET ?5"
        ))
        .bind(&q.search)
        .bind(&q.tag)
        .bind(q.archived)
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(&mut *self.0)
        .await?;
        let total = sqlx::query_scalar(concat!("SELECT COUNT(*) FROM flags ", flag_filter!()))
            .bind(&q.search)
            .bind(&q.tag)
            .bind(q.archived)
            .fetch_one(&mut *self.0)
            .await?;
        Ok((rows, total))
    }

    async fn flag(&mut self, key: &str) -> Result<Option<FlagRecord>> {
        Ok(sqlx::query_as(concat!("SELECT ", flag_columns!(), " FROM flags WHERE key = ?1"))
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }

    async fn flags_by_keys(&mut self, keys: &[String]) -> Result<Vec<FlagRecord>> {
        let keys = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            flag_columns!(),
            " FROM flags WHERE key IN (SELECT value FROM json_each(?1)) ORDER BY key"
        ))
        .bind(keys)
        .fetch_all(&mut *self.0)
        .await?)
    }

    async fn insert_flag(&mut self, f: &NewFlag<'_>) -> Result<FlagRecord> {
        Ok(sqlx::query_as(concat!(
            "INSERT INTO flags (key, name, description, kind, variants, tags, archived, revision, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 1, ?7, ?7) RETURNING ",
            flag_columns!()
        ))
        .bind(f.key)
        .bind(f.name)
        .bind(f.description)
        .bind(f.kind)
        .bind(f.variants)
        .bind(f.tags)
        .bind(f.at)
        .fetch_one(&mut *self.0)
        .await?)
    }

    async fn update_flag(&mut self, f: &FlagRecord) -> Result<()> {
        sqlx::query(
            "UPDATE flags SET name = ?2, description = ?3, variants = ?4, tags = ?5, archived = ?6, revision = ?7,
                              updated_at = ?8 WHERE id = ?1",
        )
        .bind(f.id)
        .bind(&f.name)
        .bind(&f.description)
        .bind(&f.variants)
        .bind(&f.tags)
        .bind(f.archived)
        .bind(f.revision)
        .bind(f.updated_at)
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn delete_flag(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM flags WHERE id = ?1").bind(id).execute(&mut *self.0).await?;
        Ok(())
    }
}
