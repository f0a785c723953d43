//! A real headless Chromium driven over WebDriver (Debian `chromium` and
//! `chromium-driver`): `chromedriver` is started on a free port for each
//! [`Browser`] and stopped on drop.
//!
//! Without the two binaries the browser tests are skipped with a loud line
//! on stderr — unless `FLAGYARD_REQUIRE_BROWSER=1` (set by `.ci/run`), which
//! makes a missing browser a failure. Screenshots go to
//! `target/ui-screenshots/` (or `$FLAGYARD_SCREENSHOTS`), for reviewers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Where Debian installs the browser and its driver.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A headless Chromium session.
pub struct Browser {
    /// The WebDriver client.
    pub client: Client,
    driver: Child,
}

/// The element `selector` finds, waiting up to 10 s for it to appear.
pub async fn css(c: &Client, selector: &str) -> Element {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("no element {selector}: {e}"))
}

/// Replaces the text of the form control named `name`.
pub async fn fill(c: &Client, name: &str, value: &str) {
    let e = css(c, &format!("[name=\"{name}\"]")).await;
    e.clear().await.expect("clear");
    e.send_keys(value).await.expect("type");
}

/// Picks `value` in the select named `name`.
pub async fn pick(c: &Client, name: &str, value: &str) {
    css(c, &format!("select[name=\"{name}\"]")).await.select_by_value(value).await.expect("select");
}

/// Clicks the element at `selector`.
pub async fn click(c: &Client, selector: &str) {
    css(c, selector).await.click().await.unwrap_or_else(|e| panic!("click {selector}: {e}"));
}

/// The text of the element at `selector`.
pub async fn text(c: &Client, selector: &str) -> String {
    css(c, selector).await.text().await.unwrap_or_else(|e| panic!("text of {selector}: {e}"))
}

/// The text of the element at `selector` now, or `None` when there is none
/// or it was replaced while being read (an htmx swap): for polling.
pub async fn text_now(c: &Client, selector: &str) -> Option<String> {
    c.find(Locator::Css(selector)).await.ok()?.text().await.ok()
}

/// The `value` property of the element at `selector` now (see [`text_now`]).
pub async fn value_now(c: &Client, selector: &str) -> Option<String> {
    c.find(Locator::Css(selector)).await.ok()?.prop("value").await.ok().flatten()
}

/// Waits up to 5 s for `<main>` to contain `what`; an element replaced
/// while it is read (an htmx swap) is read again.
pub async fn main_says(c: &Client, what: &str) {
    eventually(&format!("the page says {what}"), || async {
        text_now(c, "main").await.is_some_and(|t| t.contains(what))
    })
    .await;
}

/// Polls `check` for up to 5 s; fails with `what` if it never holds.
pub async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(5), "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Signs in on the server at `base` through its login form; the flags list follows.
pub async fn login(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.expect("login page");
    for (name, value) in [("username", user), ("password", password)] {
        let field = css(c, &format!("[name=\"{name}\"]")).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }
    css(c, "form[action=\"/login\"] button[type=submit]").await.click().await.expect("submit");
    css(c, "nav").await;
    let url = c.current_url().await.expect("url");
    assert!(url.path().starts_with("/flags"), "after login: {url}");
}

/// Whether a missing browser must fail the run instead of skipping.
fn required() -> bool {
    std::env::var("FLAGYARD_REQUIRE_BROWSER").is_ok_and(|v| v == "1" || v == "true")
}

/// The directory screenshots are written to.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("FLAGYARD_SCREENSHOTS").map(PathBuf::from).unwrap_or_else(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        target.join("ui-screenshots")
    })
}

impl Browser {
    /// Starts chromedriver and a browser session, or `None` (skipped, said
    /// on stderr) when Chromium is not installed and not required.
    pub async fn start(test: &str) -> Option<Browser> {
        Browser::launch(test, true, &[]).await
    }

    /// [`Browser::start`] with the system in dark mode (`prefers-color-scheme:
    /// dark`), for the pages' dark colours.
    pub async fn start_dark(test: &str) -> Option<Browser> {
        Browser::launch(test, true, &["--force-dark-mode"]).await
    }

    /// [`Browser::start`] with JavaScript turned off: what a person with
    /// scripts blocked sees (every form must still work and end on a page).
    pub async fn start_without_js(test: &str) -> Option<Browser> {
        Browser::launch(test, false, &[]).await
    }

    async fn launch(test: &str, javascript: bool, extra: &[&str]) -> Option<Browser> {
        if !(Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()) {
            assert!(
                !required(),
                "FLAGYARD_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "SKIPPED {test}: no headless browser ({CHROMIUM} and {CHROMEDRIVER}; \
                 apt-get install chromium chromium-driver, or set FLAGYARD_REQUIRE_BROWSER=1 to fail instead)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1000",
        ];
        args.extend_from_slice(extra);
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args, "prefs": {"profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 }}}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let started = Instant::now();
        let mut guard = DriverGuard(Some(driver));
        loop {
            match ClientBuilder::new(connector.clone()).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => {
                    let driver = guard.0.take().expect("driver is still held");
                    return Some(Browser { client, driver });
                }
                Err(e) if started.elapsed() > Duration::from_secs(20) => panic!("chromedriver did not start: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Saves a PNG of the current page as `<name>.png` in [`screenshot_dir`].
    pub async fn screenshot(&self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        // The top of the page: where its title and state are.
        let _ = self.client.execute("window.scrollTo(0, 0); document.activeElement?.blur();", vec![]).await;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Kills chromedriver if the session never started.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
