//! A fresh Postgres database for a test, dropped afterwards; skipped (with
//! a loud line) when Postgres is unreachable, unless
//! `FLAGYARD_REQUIRE_POSTGRES=1`.

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// A database created for one test.
#[derive(Debug)]
pub struct PgDatabase {
    pub url: String,
    name: String,
    admin_url: String,
}

fn admin_url() -> String {
    std::env::var("FLAGYARD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl PgDatabase {
    /// Creates `flagyard_e2e_<unique>`, or `None` when Postgres is unreachable and not required.
    pub async fn create(test: &str) -> Option<PgDatabase> {
        let admin_url = admin_url();
        let conn = tokio::time::timeout(std::time::Duration::from_secs(3), PgConnection::connect(&admin_url)).await;
        let mut conn = match conn {
            Ok(Ok(c)) => c,
            other => {
                let why = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".into(),
                };
                if std::env::var("FLAGYARD_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!("FLAGYARD_REQUIRE_POSTGRES=1 but Postgres at {admin_url} is unreachable ({why}): {test}");
                }
                eprintln!("SKIPPED (no Postgres at {admin_url}): {test} [{why}]");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name = format!("flagyard_e2e_{}_{nanos}", std::process::id());
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).await.expect("create database");
        let _ = conn.close().await;
        let url = match admin_url.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => format!("{admin_url}/{name}"),
        };
        Some(PgDatabase { url, name, admin_url })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin_url).await.ok()?;
                conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).await.ok()?;
                Some(())
            })
        })
        .join();
    }
}
