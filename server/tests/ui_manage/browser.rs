//! A signed-in browser for the UI tests: logs in through `POST /login`
//! (the pre-session CSRF cookie and field), keeps the session cookie, and
//! posts forms with the session's CSRF token.

use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, redirect};
use serde_json::json;

use crate::support::app::TestApp;

pub const PASSWORD: &str = "correct horse battery";

/// A signed-in browser: the session cookie and the session's CSRF token.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

/// A page as the browser got it.
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    #[track_caller]
    pub fn expect(self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "unexpected status; body: {}", self.body);
        self.body
    }

    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }
}

pub fn cookie_value(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next()?.split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// The value of the first `name="csrf"` field of `html`.
fn csrf_of(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_owned()
}

impl Browser {
    /// Creates `username` with `role` through the admin API and signs in.
    pub async fn new(app: &TestApp, username: &str, role: &str) -> Browser {
        app.post("/api/v1/users", json!({"username": username, "password": PASSWORD, "role": role})).await.expect(201);
        let http = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let form = http.get(format!("{}/login", app.base)).send().await.unwrap();
        let login_csrf = cookie_value(form.headers(), "flagyard_login_csrf").expect("the login CSRF cookie");
        let answer = http
            .post(format!("{}/login", app.base))
            .header(COOKIE, format!("flagyard_login_csrf={login_csrf}"))
            .form(&[("csrf", login_csrf.as_str()), ("username", username), ("password", PASSWORD), ("next", "/flags")])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "login of {username}: {}", answer.text().await.unwrap_or_default());
        let session = cookie_value(answer.headers(), "flagyard_session").expect("a session cookie");
        let mut browser = Browser {
            base: app.base.clone(),
            http,
            cookie: format!("flagyard_session={session}"),
            csrf: String::new(),
        };
        browser.csrf = csrf_of(&browser.get("/environments").await.expect(200));
        browser
    }

    pub async fn get(&self, path: &str) -> Page {
        let res = self.http.get(format!("{}{path}", self.base)).header(COOKIE, &self.cookie).send().await.unwrap();
        Page { status: res.status(), headers: res.headers().clone(), body: res.text().await.unwrap() }
    }

    /// Posts `fields` as a form, with the session's CSRF token first.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly `fields`.
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(fields)
            .send()
            .await
            .unwrap();
        Page { status: res.status(), headers: res.headers().clone(), body: res.text().await.unwrap() }
    }
}
