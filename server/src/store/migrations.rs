//! The schema migrations of both backends (`migrations/` at the workspace
//! root), embedded in the binary.
//!
//! Listed here instead of by `sqlx::migrate!`: that proc macro compiles
//! sqlx, both drivers, TLS and SQLite's C code a second time for the build
//! host (about two minutes of a cold release build on two cores). A test
//! checks the lists against the directories, checksums included, so a
//! migration file that is added but not listed fails the build's tests.

use std::borrow::Cow;
use std::sync::LazyLock;

use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `0001_init` → version 1, "init" (what sqlx derives from a file name).
fn migration(name: &'static str, sql: &'static str) -> Migration {
    let (version, description) = name.split_once('_').unwrap_or((name, ""));
    // The names are the literals below: a non-numeric version is caught by the test.
    let version = version.parse().unwrap_or(0);
    Migration::new(
        version,
        Cow::Owned(description.replace('_', " ")),
        MigrationType::Simple,
        SqlStr::from_static(sql),
        false,
    )
}

macro_rules! migrations {
    ($dir:literal: $($name:literal),* $(,)?) => {
        Migrator::with_migrations(vec![$(
            migration($name, include_str!(concat!("../../../migrations/", $dir, "/", $name, ".sql"))),
        )*])
    };
}

/// The migration files, the same names in both backends' directories.
macro_rules! in_dir {
    ($dir:literal) => {
        migrations!($dir:
            "0001_init",
            "0002_catalog_version",
            "0003_experiments",
            "0004_ingest",
            "0005_accounts",
            "0006_unit_aggregates",
            "0007_units_without_fk",
            "0008_releases",
            "0009_ramps",
            "0010_last_used",
            "0011_result_snapshots",
        )
    };
}

/// SQLite's migrations.
pub static SQLITE: LazyLock<Migrator> = LazyLock::new(|| in_dir!("sqlite"));

/// Postgres' migrations.
pub static POSTGRES: LazyLock<Migrator> = LazyLock::new(|| in_dir!("postgres"));

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// What sqlx reads from the directory at run time, field by field.
    async fn same_as_directory(listed: &Migrator, dir: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(dir);
        let read = Migrator::new(dir.as_path()).await.unwrap();
        let summary = |m: &Migrator| {
            m.iter()
                .map(|m| {
                    let kind = format!("{:?}", m.migration_type);
                    (
                        m.version,
                        m.description.to_string(),
                        kind,
                        m.checksum.to_vec(),
                        m.no_tx,
                        m.sql.as_str().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(summary(listed), summary(&read), "{}", dir.display());
        assert!(listed.iter().count() >= 6);
    }

    #[tokio::test]
    async fn sqlite_list_matches_the_directory() {
        same_as_directory(&SQLITE, "sqlite").await;
    }

    #[tokio::test]
    async fn postgres_list_matches_the_directory() {
        same_as_directory(&POSTGRES, "postgres").await;
    }
}
