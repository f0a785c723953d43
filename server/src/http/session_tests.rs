//! Tests of `session.rs` on a real (SQLite) app state: login, the
//! extractor, sliding and expiry, logout, CSRF, cookies and rate limiting.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;

use super::*;
use crate::service::{UserInput, UserPatch};
use crate::shutdown::{self, ShutdownTrigger};
use crate::state::Writer;
use crate::store::{SqliteBackend, UserQueries};

const PASSWORD: &str = "correct horse battery";

struct Fixture {
    state: AppState<SqliteBackend>,
    dir: PathBuf,
    _trigger: ShutdownTrigger,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture(vars: &[(&str, &str)]) -> Fixture {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("flagyard_session_{}_{n}_{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("s.db").display());
    let store = SqliteBackend::connect(&url, 2).await.unwrap();
    store.migrate().await.unwrap();
    let config = Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())).unwrap();
    let (trigger, shutdown) = shutdown::channel();
    let state = AppState::new(crate::state::Shared {
        store: store.clone(),
        config: Arc::new(config),
        metrics: crate::telemetry::metrics_handle(),
        shutdown,
        hub: crate::state::Hub::new(),
        writer: Arc::new(Writer::start(store.clone(), |_: &crate::store::TxMarks| {})),
        credentials: Arc::default(),
        scheduler: Arc::new(crate::state::Scheduler::new(None)),
    });
    for (username, role, disabled) in [("alice", Role::Editor, false), ("mallory", Role::Viewer, true)] {
        let input = UserInput { username: username.into(), password: PASSWORD.into(), role };
        service::create_user_directly(&store, "test", input).await.unwrap();
        if disabled {
            let patch = UserPatch { disabled: Some(true), ..UserPatch::default() };
            let patch = service::prepare_patch(patch).await.unwrap();
            let mut tx = store.write().await.unwrap();
            service::update_user(&mut tx, "test", username, patch).await.unwrap();
            SqliteBackend::commit(tx).await.unwrap();
        }
    }
    Fixture { state, dir, _trigger: trigger }
}

/// The token in a `Set-Cookie` value.
fn token_of(set_cookie: &HeaderValue) -> String {
    let text = set_cookie.to_str().unwrap();
    let value = text.strip_prefix("flagyard_session=").unwrap();
    value.split(';').next().unwrap().to_owned()
}

fn parts_with_cookie(cookie: Option<&str>) -> Parts {
    let mut request = Request::builder().uri("/");
    if let Some(c) = cookie {
        request = request.header(header::COOKIE, c);
    }
    request.body(()).unwrap().into_parts().0
}

async fn extract(state: &AppState<SqliteBackend>, cookie: Option<&str>) -> Result<Option<UiUser>, ApiError> {
    let mut parts = parts_with_cookie(cookie);
    <UiUser as OptionalFromRequestParts<_>>::from_request_parts(&mut parts, state).await
}

#[tokio::test]
async fn login_sets_a_cookie_that_the_extractor_resolves() {
    let fx = fixture(&[]).await;
    let state = &fx.state;
    let ip = Some(IpAddr::from([192, 0, 2, 1]));
    let logged = login(state, "ALICE", PASSWORD, ip).await.unwrap();
    let cookie = logged.set_cookie.to_str().unwrap().to_owned();
    for part in ["flagyard_session=fy_session_", "; HttpOnly", "; SameSite=Lax", "; Path=/", "; Max-Age=43200"] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "not Secure unless configured: {cookie}");
    assert_eq!((logged.user.username.as_str(), logged.user.role), ("alice", Role::Editor));
    let token = token_of(&logged.set_cookie);
    assert_eq!(logged.user.session_id, hash_secret(&token), "only the hash is the id");

    let header = format!("theme=dark; flagyard_session={token}; other=1");
    let user = extract(state, Some(&header)).await.unwrap().expect("a live session");
    assert_eq!(user.username, "alice");
    assert_eq!(user.csrf, logged.user.csrf);
    assert!(user.cookie_renewal().is_none(), "just created: nothing to slide");
    assert_eq!(user.actor(), "user:alice");
    assert!(user.require(Role::Editor).is_ok() && user.require(Role::Admin).is_err());

    // No cookie, a malformed one, an unknown one: no user; the plain extractor answers 401.
    for cookie in [None, Some("flagyard_session=garbage"), Some("flagyard_session=fy_session_0000")] {
        assert!(extract(state, cookie).await.unwrap().is_none(), "{cookie:?}");
    }
    let unknown = format!("flagyard_session={}", crate::auth::new_secret(service::SESSION_TOKEN_PREFIX));
    assert!(extract(state, Some(&unknown)).await.unwrap().is_none());
    let mut parts = parts_with_cookie(None);
    let refused = <UiUser as FromRequestParts<_>>::from_request_parts(&mut parts, state).await.unwrap_err();
    assert_eq!(refused.status_code(), StatusCode::UNAUTHORIZED);

    // CSRF: the session's token, compared exactly; from a header too.
    assert!(check_csrf(&user, &user.csrf).is_ok());
    for bad in ["", "x", &user.csrf[1..], &format!("{}0", user.csrf), &logged.user.csrf.to_uppercase()] {
        assert_eq!(check_csrf(&user, bad).unwrap_err().status_code(), StatusCode::FORBIDDEN, "{bad}");
    }
    let mut headers = HeaderMap::new();
    assert!(check_csrf_header(&user, &headers).is_err());
    headers.insert(CSRF_HEADER, HeaderValue::from_str(&user.csrf).unwrap());
    assert!(check_csrf_header(&user, &headers).is_ok());

    // Logout ends the session for every replica (it is deleted) and clears the cookie.
    let cleared = logout(state, &user).await.unwrap();
    assert!(cleared.to_str().unwrap().starts_with("flagyard_session=; HttpOnly"));
    assert!(cleared.to_str().unwrap().contains("Max-Age=0"));
    assert!(extract(state, Some(&header)).await.unwrap().is_none(), "logged out");
    let mut tx = state.store.read().await.unwrap();
    assert!(tx.session(&user.session_id).await.unwrap().is_none());
    assert!(tx.user("alice").await.unwrap().unwrap().last_login_at.is_some(), "the login is recorded");
}

#[tokio::test]
async fn sessions_slide_once_a_minute_and_expire() {
    let fx = fixture(&[("FLAGYARD_SESSION_TTL_HOURS", "1"), ("FLAGYARD_COOKIE_SECURE", "true")]).await;
    let state = &fx.state;
    let logged = login(state, "alice", PASSWORD, None).await.unwrap();
    assert!(logged.set_cookie.to_str().unwrap().ends_with("; Max-Age=3600; Secure"));
    let header = format!("flagyard_session={}", token_of(&logged.set_cookie));
    let id = logged.user.session_id.clone();
    let set = |last_seen: i64, expires: i64| {
        let (store, id) = (state.store.clone(), id.clone());
        async move {
            let mut tx = store.write().await.unwrap();
            assert!(tx.touch_session(&id, last_seen, expires).await.unwrap());
            SqliteBackend::commit(tx).await.unwrap();
        }
    };
    let stored = || {
        let (store, id) = (state.store.clone(), id.clone());
        async move { store.read().await.unwrap().session(&id).await.unwrap().unwrap().session }
    };

    // Seen 30 s ago: valid, not rewritten.
    let now = now_ms();
    set(now - 30_000, now + 1_000).await;
    assert!(extract(state, Some(&header)).await.unwrap().unwrap().cookie_renewal().is_none());
    assert_eq!(stored().await.last_seen_at, now - 30_000);

    // Seen 2 minutes ago, expiring in a second: slid to an hour from now, with a fresh cookie.
    set(now - 120_000, now + 1_000).await;
    let user = extract(state, Some(&header)).await.unwrap().unwrap();
    let renewal = user.cookie_renewal().expect("a renewed cookie");
    assert_eq!(renewal[0].0, header::SET_COOKIE);
    assert!(renewal[0].1.to_str().unwrap().contains("; Max-Age=3600; Secure"));
    let slid = stored().await;
    assert!(slid.last_seen_at >= now, "{slid:?}");
    assert!(slid.expires_at >= now + 3_600_000 && slid.expires_at <= now_ms() + 3_600_000, "{slid:?}");

    // Expired: gone, even though the row is still there.
    set(now - 7_200_000, now - 1).await;
    assert!(extract(state, Some(&header)).await.unwrap().is_none());
    // The next login purges it.
    login(state, "alice", PASSWORD, None).await.unwrap();
    assert!(state.store.read().await.unwrap().session(&id).await.unwrap().is_none(), "expired sessions are purged");
}

#[tokio::test]
async fn failed_logins_are_refused_then_rate_limited() {
    let fx = fixture(&[]).await;
    let state = &fx.state;
    let ip = Some(IpAddr::from([198, 51, 100, 7]));
    assert!(matches!(login(state, "alice", "wrong password", ip).await, Err(LoginError::InvalidCredentials)));
    assert!(matches!(login(state, "nobody", PASSWORD, ip).await, Err(LoginError::InvalidCredentials)));
    assert!(matches!(login(state, "bad name!", PASSWORD, ip).await, Err(LoginError::InvalidCredentials)));
    assert!(matches!(login(state, "a\0b", PASSWORD, ip).await, Err(LoginError::InvalidCredentials)));
    // A disabled user's right password is refused as such (and counts as a failure).
    assert!(matches!(login(state, "mallory", PASSWORD, ip).await, Err(LoginError::Disabled)));
    for _ in 0..4 {
        assert!(matches!(login(state, "alice", "wrong password", ip).await, Err(LoginError::InvalidCredentials)));
    }
    // Five failures for alice from this address: even the right password waits now.
    match login(state, "alice", PASSWORD, ip).await {
        Err(LoginError::RateLimited { retry_after_secs }) => assert!((1..=300).contains(&retry_after_secs)),
        other => panic!("expected a rate limit, got {other:?}"),
    }
    // The real alice, elsewhere, is not locked out by those guesses.
    let home = Some(IpAddr::from([203, 0, 113, 9]));
    assert!(login(state, "alice", PASSWORD, home).await.is_ok());
    let answer = ApiError::from(LoginError::RateLimited { retry_after_secs: 42 }).into_response();
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.headers()[header::RETRY_AFTER], "42");
}
