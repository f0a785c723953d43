//! An HTTP client for the web UI's tests, standing in for a browser without a cookie jar: it signs in
//! through `/login` (double-submit CSRF), keeps the session cookie and the
//! session's CSRF token, and posts forms with or without htmx headers.

use std::time::Duration;

use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, redirect};
use serde_json::json;

use super::app::{ADMIN_PASSWORD, TestApp};

pub const PASSWORD: &str = "correct horse battery";

pub fn client() -> reqwest::Client {
    super::http_builder().redirect(redirect::Policy::none()).timeout(Duration::from_secs(30)).build().unwrap()
}

/// The `Set-Cookie` line of cookie `name` (with its attributes), if set.
pub fn set_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.split(';').next().and_then(|p| p.split_once('=')).is_some_and(|(n, v)| n == name && !v.is_empty()))
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    set_cookie(headers, name).and_then(|c| c.split(';').next()?.split_once('=')).map(|(_, v)| v.to_owned())
}

/// The value of the first `name="csrf"` field of `html`.
pub fn csrf_of(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let at = html.find(marker).expect("a csrf field") + marker.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// A page as the browser got it.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    #[track_caller]
    pub fn expect(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self.body.clone()
    }

    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

/// A signed-in browser: its session cookie and the session's CSRF token.
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    /// `flagyard_session=<token>`, for the `Cookie` header.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// The login form's token and cookie.
pub async fn login_form(app: &TestApp, http: &reqwest::Client) -> String {
    let form = http.get(format!("{}/login", app.base)).send().await.unwrap();
    let token = cookie_value(form.headers(), "flagyard_login_csrf").expect("the login CSRF cookie");
    assert_eq!(csrf_of(&form.text().await.unwrap()), token, "double submit: the form holds the cookie's token");
    token
}

impl Browser {
    pub async fn login(app: &TestApp, username: &str, password: &str) -> Browser {
        let http = client();
        let token = login_form(app, &http).await;
        let answer = http
            .post(format!("{}/login", app.base))
            .header(COOKIE, format!("flagyard_login_csrf={token}"))
            .form(&[("csrf", token.as_str()), ("username", username), ("password", password), ("next", "/flags")])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "login of {username}");
        let session = cookie_value(answer.headers(), "flagyard_session").expect("a session cookie");
        let mut browser = Browser {
            base: app.base.clone(),
            http,
            cookie: format!("flagyard_session={session}"),
            csrf: String::new(),
        };
        browser.csrf = csrf_of(&browser.get("/flags").await.expect(200));
        browser
    }

    pub async fn admin(app: &TestApp) -> Browser {
        Browser::login(app, "admin", ADMIN_PASSWORD).await
    }

    pub async fn with_role(app: &TestApp, username: &str, role: &str) -> Browser {
        app.post("/api/v1/users", json!({"username": username, "password": PASSWORD, "role": role})).await.expect(201);
        Browser::login(app, username, PASSWORD).await
    }

    pub async fn page(res: reqwest::Response) -> Page {
        let (status, headers) = (res.status(), res.headers().clone());
        Page { status, headers, body: res.text().await.unwrap_or_default() }
    }

    pub async fn get(&self, path: &str) -> Page {
        self.get_with(path, &[]).await
    }

    /// [`Browser::get`] with extra request headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.http.get(format!("{}{path}", self.base)).header(COOKIE, &self.cookie);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        Browser::page(req.send().await.unwrap()).await
    }

    /// Posts `fields` as they are (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)], htmx: Option<&str>) -> Page {
        let mut req = self.http.post(format!("{}{path}", self.base)).header(COOKIE, &self.cookie).form(fields);
        if let Some(target) = htmx {
            req = req.header("HX-Request", "true").header("HX-Target", target);
        }
        Browser::page(req.send().await.unwrap()).await
    }

    /// Posts `fields` with the session's CSRF token first.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all, None).await
    }

    pub async fn post_htmx(&self, path: &str, fields: &[(&str, &str)], target: &str) -> Page {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all, Some(target)).await
    }
}
