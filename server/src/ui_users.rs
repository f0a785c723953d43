//! The web UI's account layer in one place: users (argon2 passwords, roles
//! `viewer` / `editor` / `admin` as for API tokens), database-backed
//! sessions, login (rate-limited) and logout, CSRF checks; and the
//! `flagyard user create` command.
//!
//! UI handlers take a [`UiUser`] (or `Option<UiUser>`) and check
//! [`check_csrf`] / [`check_csrf_header`] on every state-changing request;
//! the login form calls [`login`] with [`client_ip`], the logout button
//! [`logout`]. Users are managed through the admin API (`/api/v1/users`) or
//! the service functions re-exported here.

use std::io::BufRead as _;

pub use crate::http::{
    CSRF_FIELD, CSRF_HEADER, LoggedIn, SESSION_COOKIE, UiUser, check_csrf, check_csrf_header, clear_session_cookie,
    client_ip, login, logout, session_cookie, session_token,
};
pub use crate::service::{
    LoginError, NewSession, PreparedPatch, PreparedUser, SESSION_TOKEN_PREFIX, UserInput, UserPatch, UserView,
    bootstrap_users, check_password, check_username, create_session, create_user, create_user_directly, delete_user,
    end_session, get_user, hash_password, is_session_token, list_users, needs_touch, prepare_patch, prepare_user,
    purge_sessions, resolve_session, touch_session, update_user, verify_login, verify_password,
};
pub use crate::state::{Clock, LoginLimiter, LoginLimits, SystemClock};

use crate::auth::Role;
use crate::config::Config;
use crate::store::{Backend, Database, PgBackend, SqliteBackend, is_postgres};

/// The usage line of the `user` command.
pub const USER_USAGE: &str = "usage: flagyard user create <username> --role <viewer|editor|admin>\n\
     the password is read from FLAGYARD_USER_PASSWORD or, when unset, from one line of stdin";

/// `flagyard user create <username> --role <role>` (`args` after `user`):
/// applies migrations, creates the user with the password from
/// `FLAGYARD_USER_PASSWORD` or one line of stdin, and returns a line to print.
pub async fn user_command(config: &Config, args: &[String]) -> anyhow::Result<String> {
    let (username, role) = parse_user_args(args)?;
    let password = match std::env::var("FLAGYARD_USER_PASSWORD").ok().filter(|p| !p.is_empty()) {
        Some(p) => p,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let input = UserInput { username, password, role };
    let store = if is_postgres(&config.database_url) {
        Database::Postgres(PgBackend::connect(&config.database_url, 2).await?)
    } else {
        Database::Sqlite(SqliteBackend::connect(&config.database_url, 1).await?)
    };
    let view = create_with(store, input).await?;
    Ok(format!("created user `{}` with role {}", view.username, view.role.as_str()))
}

async fn create_with<B: Backend>(store: B, input: UserInput) -> anyhow::Result<UserView> {
    store.migrate().await?;
    let created = create_user_directly(&store, "cli", input).await;
    store.close().await;
    created.map_err(|e| match e {
        crate::service::Error::Invalid { summary, .. } => anyhow::anyhow!("{summary}"),
        other => anyhow::anyhow!("{other}"),
    })
}

/// `create <username> --role <role>` (or `--role=<role>`).
fn parse_user_args(args: &[String]) -> anyhow::Result<(String, Role)> {
    let mut args = args.iter().map(String::as_str);
    if args.next() != Some("create") {
        anyhow::bail!("{USER_USAGE}");
    }
    let (mut username, mut role) = (None, None);
    while let Some(arg) = args.next() {
        match arg.split_once('=') {
            Some(("--role", value)) => role = Some(value),
            _ if arg == "--role" => role = args.next(),
            _ if arg.starts_with('-') || username.is_some() => anyhow::bail!("unexpected `{arg}`\n{USER_USAGE}"),
            _ => username = Some(arg),
        }
    }
    let username = username.ok_or_else(|| anyhow::anyhow!("missing <username>\n{USER_USAGE}"))?;
    let role = role.ok_or_else(|| anyhow::anyhow!("missing --role\n{USER_USAGE}"))?;
    let role = Role::parse(role).ok_or_else(|| anyhow::anyhow!("unknown role `{role}`\n{USER_USAGE}"))?;
    Ok((username.to_owned(), role))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn user_arguments_parse() {
        assert_eq!(parse_user_args(&args("create alice --role editor")).unwrap(), ("alice".into(), Role::Editor));
        assert_eq!(parse_user_args(&args("create --role=admin bob")).unwrap(), ("bob".into(), Role::Admin));
        for bad in ["", "delete alice --role admin", "create alice", "create --role admin", "create a b --role admin"] {
            assert!(parse_user_args(&args(bad)).is_err(), "{bad}");
        }
        assert!(parse_user_args(&args("create alice --role root")).unwrap_err().to_string().contains("unknown role"));
    }
}
