//! The web UI's account layer on SQLite and Postgres: the `UserQueries`
//! store conformance, sessions (expiry, sliding, logout, cascade), the
//! `/api/v1/users` admin API (roles, last-admin protection, no password hash
//! ever returned, bad input), the first admin, and `flagyard user create`.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use flagyard_server::store::{AuditQueries, Backend, NewUser, SessionRecord, StoreError, UserQueries};
use flagyard_server::ui_users::{self, UserInput};
use flagyard_server::{Role, ui_users::LoginError};
use reqwest::Method;
use serde_json::{Value, json};
use support::app::TestApp;
use support::db::{PgTestDb, SqliteTestDb};

const PASSWORD: &str = "correct horse battery";

fn new_user<'a>(username: &'a str, role: &'a str, at: i64) -> NewUser<'a> {
    NewUser { username, password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", role, at }
}

fn session(id: &str, user_id: i64, now: i64, expires_at: i64) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        user_id,
        csrf_token: format!("csrf-{id}"),
        created_at: now,
        expires_at,
        last_seen_at: now,
    }
}

conformance_test!(users_are_unique_without_case_and_counted, |b| async move {
    let mut tx = b.write().await.unwrap();
    assert_eq!(tx.count_users().await.unwrap(), 0);
    let alice = tx.insert_user(&new_user("Alice", "admin", 10)).await.unwrap();
    assert_eq!((alice.username.as_str(), alice.role.as_str(), alice.disabled), ("Alice", "admin", false));
    assert_eq!((alice.created_at, alice.updated_at, alice.last_login_at), (10, 10, None));
    B::commit(tx).await.unwrap();
    // A failed statement ends a Postgres transaction: try the duplicate in one of its own.
    let mut tx = b.write().await.unwrap();
    assert!(matches!(tx.insert_user(&new_user("aLICE", "viewer", 11)).await, Err(StoreError::Duplicate)));
    drop(tx);

    let mut tx = b.write().await.unwrap();
    tx.insert_user(&new_user("bob", "editor", 12)).await.unwrap();
    tx.insert_user(&new_user("carol@example.com", "admin", 13)).await.unwrap();
    assert_eq!(tx.user("ALICE").await.unwrap().unwrap().id, alice.id);
    assert!(tx.user("alic").await.unwrap().is_none());
    let names: Vec<String> = tx.users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["Alice", "bob", "carol@example.com"], "ordered without case");
    assert_eq!((tx.count_users().await.unwrap(), tx.count_active_admins().await.unwrap()), (3, 2));

    let mut carol = tx.user("carol@example.com").await.unwrap().unwrap();
    carol.disabled = true;
    carol.role = "viewer".into();
    carol.password_hash = "$argon2id$new".into();
    carol.updated_at = 20;
    tx.update_user(&carol).await.unwrap();
    tx.touch_login(carol.id, 21).await.unwrap();
    let stored = tx.user("CAROL@example.com").await.unwrap().unwrap();
    assert_eq!(stored, accounts_user(carol, Some(21)));
    assert_eq!(tx.count_active_admins().await.unwrap(), 1);
    assert!(tx.delete_user(alice.id).await.unwrap());
    assert!(!tx.delete_user(alice.id).await.unwrap());
    assert_eq!(tx.count_active_admins().await.unwrap(), 0);
    B::commit(tx).await.unwrap();
});

fn accounts_user(
    mut u: flagyard_server::store::UserRecord,
    last_login_at: Option<i64>,
) -> flagyard_server::store::UserRecord {
    u.last_login_at = last_login_at;
    u
}

conformance_test!(sessions_are_stored_joined_slid_and_deleted, |b| async move {
    let mut tx = b.write().await.unwrap();
    let alice = tx.insert_user(&new_user("alice", "editor", 1)).await.unwrap();
    let bob = tx.insert_user(&new_user("bob", "viewer", 1)).await.unwrap();
    tx.insert_session(&session("s1", alice.id, 100, 1_000)).await.unwrap();
    tx.insert_session(&session("s2", alice.id, 100, 2_000)).await.unwrap();
    tx.insert_session(&session("s3", bob.id, 100, 3_000)).await.unwrap();
    B::commit(tx).await.unwrap();
    let mut tx = b.write().await.unwrap();
    assert!(matches!(tx.insert_session(&session("s1", bob.id, 1, 2)).await, Err(StoreError::Duplicate)));
    drop(tx);

    let mut tx = b.write().await.unwrap();
    let s1 = tx.session("s1").await.unwrap().unwrap();
    assert_eq!(s1.session, session("s1", alice.id, 100, 1_000));
    assert_eq!((s1.username.as_str(), s1.role.as_str(), s1.disabled), ("alice", "editor", false));
    assert!(tx.session("S1").await.unwrap().is_none(), "ids are exact");
    assert!(tx.touch_session("s1", 500, 5_000).await.unwrap());
    assert!(!tx.touch_session("nope", 500, 5_000).await.unwrap());
    let s1 = tx.session("s1").await.unwrap().unwrap().session;
    assert_eq!((s1.last_seen_at, s1.expires_at, s1.created_at), (500, 5_000, 100));
    // Expired: at or before `now`.
    assert_eq!(tx.delete_expired_sessions(2_000).await.unwrap(), 1);
    assert!(tx.session("s2").await.unwrap().is_none());
    assert!(tx.delete_session("s1").await.unwrap());
    assert!(!tx.delete_session("s1").await.unwrap());
    tx.insert_session(&session("s4", alice.id, 100, 9_000)).await.unwrap();
    tx.insert_session(&session("s5", alice.id, 100, 9_000)).await.unwrap();
    assert_eq!(tx.delete_user_sessions(alice.id).await.unwrap(), 2);
    // Deleting a user deletes its sessions (cascade).
    assert!(tx.delete_user(bob.id).await.unwrap());
    assert!(tx.session("s3").await.unwrap().is_none());
    B::commit(tx).await.unwrap();
});

conformance_test!(service_sessions_expire_slide_and_end_with_the_user, |b| async move {
    let input = UserInput { username: "Dana".into(), password: PASSWORD.into(), role: Role::Editor };
    ui_users::create_user_directly(&b, "test", input).await.unwrap();
    let user = ui_users::verify_login(&b, "dana", PASSWORD).await.unwrap();
    assert!(matches!(
        ui_users::verify_login(&b, "dana", "not the password").await,
        Err(LoginError::InvalidCredentials)
    ));
    assert!(matches!(ui_users::verify_login(&b, "erin", PASSWORD).await, Err(LoginError::InvalidCredentials)));

    let (ttl, t0) = (3_600_000, 1_000_000);
    let mut tx = b.write().await.unwrap();
    let s = ui_users::create_session(&mut tx, &user, ttl, t0).await.unwrap().expect("a session");
    B::commit(tx).await.unwrap();
    assert!(ui_users::is_session_token(&s.token));
    assert_eq!((s.username.as_str(), s.role, s.expires_at), ("Dana", Role::Editor, t0 + ttl));
    assert_eq!(s.csrf.len(), 64);

    let mut tx = b.read().await.unwrap();
    let live = ui_users::resolve_session(&mut tx, &s.id, t0 + 1).await.unwrap().unwrap();
    assert_eq!((live.session.csrf_token.as_str(), live.username.as_str()), (s.csrf.as_str(), "Dana"));
    assert!(!ui_users::needs_touch(live.session.last_seen_at, t0 + 59_999));
    assert!(ui_users::needs_touch(live.session.last_seen_at, t0 + 60_000));
    assert!(ui_users::resolve_session(&mut tx, &s.id, t0 + ttl).await.unwrap().is_none(), "expired at expires_at");
    drop(tx);

    // Sliding: seen at t0 + 50 min, the session now ends an hour after that.
    let mut tx = b.write().await.unwrap();
    assert!(ui_users::touch_session(&mut tx, &s.id, ttl, t0 + 3_000_000).await.unwrap());
    B::commit(tx).await.unwrap();
    let mut tx = b.read().await.unwrap();
    assert!(ui_users::resolve_session(&mut tx, &s.id, t0 + ttl + 1).await.unwrap().is_some(), "slid");
    assert!(ui_users::resolve_session(&mut tx, &s.id, t0 + 3_000_000 + ttl).await.unwrap().is_none());
    drop(tx);

    // A new password ends the user's sessions; so does disabling.
    let patch = ui_users::prepare_patch(ui_users::UserPatch {
        password: Some("another long one".into()),
        ..Default::default()
    });
    let patch = patch.await.unwrap();
    let mut tx = b.write().await.unwrap();
    ui_users::update_user(&mut tx, "test", "dana", patch).await.unwrap();
    assert!(ui_users::resolve_session(&mut tx, &s.id, t0 + 1).await.unwrap().is_none());
    // A login verified against the old password, whose session is created
    // after the change committed, gets no session (the password-change race).
    assert!(ui_users::create_session(&mut tx, &user, ttl, t0).await.unwrap().is_none());
    B::commit(tx).await.unwrap();
    let user = ui_users::verify_login(&b, "dana", "another long one").await.unwrap();
    let mut tx = b.write().await.unwrap();
    let s2 = ui_users::create_session(&mut tx, &user, ttl, t0).await.unwrap().expect("a session");
    let disable = ui_users::UserPatch { disabled: Some(true), ..Default::default() };
    ui_users::update_user(&mut tx, "test", "DANA", ui_users::prepare_patch(disable).await.unwrap()).await.unwrap();
    assert!(ui_users::resolve_session(&mut tx, &s2.id, t0 + 1).await.unwrap().is_none());
    B::commit(tx).await.unwrap();
    assert!(matches!(ui_users::verify_login(&b, "dana", "another long one").await, Err(LoginError::Disabled)));
    assert!(matches!(ui_users::verify_login(&b, "dana", PASSWORD).await, Err(LoginError::InvalidCredentials)));

    // Every change is audited, never with a hash.
    let mut tx = b.read().await.unwrap();
    let query = flagyard_server::store::AuditQuery { limit: 100, ..Default::default() };
    let audit = tx.audit(&query).await.unwrap();
    let actions: Vec<&str> = audit.iter().filter(|a| a.entity == "user").map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["user.update", "user.password", "user.update", "user.create"]);
    assert!(audit.iter().all(|a| !format!("{a:?}").contains("argon2")));
});

/// Every `$argon2` or `password` in a JSON answer.
fn leaks(body: &Value) -> bool {
    let text = body.to_string();
    text.contains("argon2") || text.contains("password")
}

api_test!(users_api_manages_accounts_for_admins_only, |app| async move {
    // The first admin exists from the start (random password, printed once).
    let users = app.get("/api/v1/users").await.expect(200);
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert_eq!((users[0]["username"].as_str(), users[0]["role"].as_str()), (Some("admin"), Some("admin")));
    assert!(!leaks(&users));

    let created = app.post("/api/v1/users", json!({"username": "Ed", "password": PASSWORD, "role": "editor"})).await;
    let created = created.expect(201);
    assert_eq!((created["username"].as_str(), created["role"].as_str()), (Some("Ed"), Some("editor")));
    assert_eq!((created["disabled"].as_bool(), created["lastLoginAt"].is_null()), (Some(false), true));
    assert!(!leaks(&created), "{created}");
    let dup = app.post("/api/v1/users", json!({"username": "ED", "password": PASSWORD, "role": "viewer"})).await;
    assert_eq!(dup.status, 409);

    // Only admins: viewer and editor tokens get 403 on every users route.
    for role in ["viewer", "editor"] {
        let token = app.token_with(role).await;
        for (method, path) in [
            (Method::GET, "/api/v1/users"),
            (Method::POST, "/api/v1/users"),
            (Method::PATCH, "/api/v1/users/ed"),
            (Method::DELETE, "/api/v1/users/ed"),
        ] {
            let (new, empty) = (json!({"username": "x1", "password": PASSWORD, "role": "viewer"}), json!({}));
            let body = if method == Method::POST { Some(&new) } else { (method == Method::PATCH).then_some(&empty) };
            let got = app.call(method.clone(), path, Some(&token), body).await;
            assert_eq!(got.status, 403, "{role} {method} {path}: {}", got.body);
        }
    }
    assert_eq!(app.call(Method::GET, "/api/v1/users", None, None).await.status, 401);

    // Change role, disable, reset password (case-insensitive paths); no hash in any answer.
    let changed = app.patch("/api/v1/users/ed", json!({"role": "viewer", "disabled": true})).await.expect(200);
    assert_eq!((changed["role"].as_str(), changed["disabled"].as_bool()), (Some("viewer"), Some(true)));
    let changed = app.patch("/api/v1/users/ED", json!({"password": "a new long password", "disabled": false})).await;
    assert!(!leaks(&changed.expect(200)));
    assert_eq!(app.patch("/api/v1/users/nobody", json!({"role": "admin"})).await.status, 404);

    // The last active admin can be neither demoted, nor disabled, nor deleted.
    for (what, answer) in [
        ("demote", app.patch("/api/v1/users/admin", json!({"role": "editor"})).await),
        ("disable", app.patch("/api/v1/users/admin", json!({"disabled": true})).await),
        ("delete", app.delete("/api/v1/users/admin").await),
    ] {
        assert_eq!(answer.status, 409, "{what}: {}", answer.body);
        assert_eq!(answer.headers["content-type"], "application/problem+json");
        assert!(answer.body["detail"].as_str().unwrap().contains("last active admin"), "{}", answer.body);
    }
    // With a second admin, the first may go; then the second is the last.
    app.patch("/api/v1/users/ed", json!({"role": "admin"})).await.expect(200);
    app.patch("/api/v1/users/admin", json!({"role": "viewer"})).await.expect(200);
    assert_eq!(app.patch("/api/v1/users/ed", json!({"disabled": true})).await.status, 409);
    app.delete("/api/v1/users/admin").await.expect(204);
    assert_eq!(app.delete("/api/v1/users/admin").await.status, 404);
    let users = app.get("/api/v1/users").await.expect(200);
    assert_eq!(users.as_array().unwrap().len(), 1);

    // The audit log tells who did what, without secrets.
    let audit = app.get("/api/v1/audit?limit=50").await.expect(200);
    let user_actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["entity"] == "user")
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(user_actions.first(), Some(&"user.delete"));
    assert!(user_actions.contains(&"user.password") && user_actions.contains(&"user.create"));
    assert!(!audit.to_string().contains("argon2"));
});

api_test!(users_api_refuses_bad_input_with_problems, |app| async move {
    let cases = [
        (json!({"username": "a b", "password": PASSWORD, "role": "viewer"}), 422, Some("username")),
        (json!({"username": "", "password": PASSWORD, "role": "viewer"}), 422, Some("username")),
        (json!({"username": "n".repeat(65), "password": PASSWORD, "role": "viewer"}), 422, Some("username")),
        (json!({"username": "ok", "password": "short", "role": "viewer"}), 422, Some("password")),
        (json!({"username": "ok", "password": "x".repeat(1025), "role": "viewer"}), 422, Some("password")),
        (json!({"username": "ok", "password": PASSWORD, "role": "root"}), 400, None),
        (json!({"username": "ok", "password": PASSWORD}), 400, None),
        (json!({"username": "ok", "password": PASSWORD, "role": "viewer", "admin": true}), 400, None),
        (json!({"username": 5, "password": PASSWORD, "role": "viewer"}), 400, None),
    ];
    for (body, status, field) in cases {
        let got = app.post("/api/v1/users", body.clone()).await;
        assert_eq!(got.status, status, "{body}: {}", got.body);
        assert_eq!(got.headers["content-type"], "application/problem+json", "{body}");
        if let Some(field) = field {
            assert_eq!(got.body["errors"][0]["path"], field, "{}", got.body);
        }
    }
    for (body, status) in [
        (json!({"password": "short"}), 422),
        (json!({"role": "root"}), 400),
        (json!({"disabled": "yes"}), 400),
        (json!({"username": "renamed"}), 400),
    ] {
        let got = app.patch("/api/v1/users/admin", body.clone()).await;
        assert_eq!(got.status, status, "{body}: {}", got.body);
        assert_eq!(got.headers["content-type"], "application/problem+json");
    }
    assert_eq!(app.get("/api/v1/users").await.expect(200).as_array().unwrap().len(), 1, "nothing was created");
});

/// An app on `db_url` whose first admin password is configured; then checks
/// it (through the library, on the same database).
async fn first_admin_from_config<B: Backend>(app: TestApp, store: B) {
    let users = app.get("/api/v1/users").await.expect(200);
    assert_eq!(users[0]["username"], "admin");
    let admin = ui_users::verify_login(&store, "admin", "configured password").await.unwrap();
    assert_eq!(admin.role, "admin");
    app.stop().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_password_can_be_configured_sqlite() {
    let db = SqliteTestDb::new();
    let url = db.url.clone();
    let app =
        TestApp::start_with(url.clone(), Box::new(db), &[("FLAGYARD_ADMIN_PASSWORD", "configured password")]).await;
    let store = flagyard_server::store::SqliteBackend::connect(&url, 1).await.unwrap();
    first_admin_from_config(app, store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_password_can_be_configured_postgres() {
    let Some(db) = PgTestDb::create("ui_users::the_first_admin_password_can_be_configured_postgres").await else {
        return;
    };
    let url = db.url.clone();
    let app =
        TestApp::start_with(url.clone(), Box::new(db), &[("FLAGYARD_ADMIN_PASSWORD", "configured password")]).await;
    let store = flagyard_server::store::PgBackend::connect(&url, 1).await.unwrap();
    first_admin_from_config(app, store).await;
}

/// Runs `flagyard user ...` on `url`, with `password` in the environment or on stdin.
fn flagyard_user(url: &str, args: &[&str], env_password: Option<&str>, stdin: &str) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flagyard"));
    command
        .arg("user")
        .args(args)
        .env("DATABASE_URL", url)
        .env("FLAGYARD_LOG", "warn")
        .env("FLAGYARD_LOG_FORMAT", "json")
        .env_remove("FLAGYARD_USER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = env_password {
        command.env("FLAGYARD_USER_PASSWORD", p);
    }
    let mut child = command.spawn().expect("run flagyard");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("flagyard finished")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_create_command_creates_users() {
    let db = SqliteTestDb::new();
    let out = flagyard_user(&db.url, &["create", "ops", "--role", "admin"], Some("from the environment"), "");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user `ops` with role admin"));
    let out = flagyard_user(&db.url, &["create", "viv", "--role=viewer"], None, "typed on stdin\n");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    for (args, env, stdin, message) in [
        (&["create", "OPS", "--role", "viewer"][..], Some("long enough password"), "", "already exists"),
        (&["create", "shorty", "--role", "viewer"][..], None, "short\n", "password"),
        (&["create", "bad name", "--role", "viewer"][..], Some("long enough password"), "", "username"),
        (&["create", "x", "--role", "root"][..], Some("long enough password"), "", "unknown role"),
        (&["create", "x"][..], Some("long enough password"), "", "missing --role"),
        (&["remove", "x"][..], Some("long enough password"), "", "usage"),
    ] {
        let out = flagyard_user(&db.url, args, env, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(message), "{args:?}: {stderr}");
    }
    let store = flagyard_server::store::SqliteBackend::connect(&db.url, 1).await.unwrap();
    assert_eq!(ui_users::verify_login(&store, "OPS", "from the environment").await.unwrap().role, "admin");
    assert_eq!(ui_users::verify_login(&store, "viv", "typed on stdin").await.unwrap().role, "viewer");
    let mut tx = store.read().await.unwrap();
    assert_eq!(tx.count_users().await.unwrap(), 2, "no admin is generated by the command");
    let audit = tx.audit(&flagyard_server::store::AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert!(audit.iter().all(|a| a.actor == "cli"));
    drop(tx);
    store.close().await;
    let help = Command::new(env!("CARGO_BIN_EXE_flagyard")).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("user create <username> --role"));
}

conformance_test!(replicas_starting_together_create_one_first_admin, |b| async move {
    let config = flagyard_server::Config::from_lookup(|_| None).unwrap();
    let (x, y, z) = tokio::join!(
        ui_users::bootstrap_users(&b, &config),
        ui_users::bootstrap_users(&b, &config),
        ui_users::bootstrap_users(&b, &config)
    );
    let generated: Vec<String> = [x, y, z].into_iter().filter_map(|r| r.unwrap()).collect();
    assert_eq!(generated.len(), 1, "one password is announced: {generated:?}");
    let mut tx = b.read().await.unwrap();
    let users = tx.users().await.unwrap();
    drop(tx);
    assert_eq!(users.len(), 1);
    assert_eq!((users[0].username.as_str(), users[0].role.as_str()), ("admin", "admin"));
    assert_eq!(generated[0].len(), 64);
    ui_users::verify_login(&b, "admin", &generated[0]).await.unwrap();
    // Later starts leave existing users alone.
    assert_eq!(ui_users::bootstrap_users(&b, &config).await.unwrap(), None);
});
