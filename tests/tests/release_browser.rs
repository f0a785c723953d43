//! Releases in a real headless Chromium, against the real binary: a
//! product person drafts a release of three flags on the Releases page,
//! reads the preview (each flag's diff), applies it, and all three change
//! in one new version of the environment; then reverts it. Skipped (loudly)
//! without Chromium unless `FLAGYARD_REQUIRE_BROWSER=1`.

use fantoccini::Locator;
use flagyard_tests::{Browser, Server, ServerOptions, css, login};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn version(server: &Server, env: &str) -> i64 {
    let envs: Value = server.admin(Method::GET, "/environments", None, 200).await;
    envs.as_array().expect("list").iter().find(|e| e["key"] == env).expect("env")["version"].as_i64().expect("version")
}

/// Waits (up to 10 s) until the text of `selector` contains `needle`: the
/// page a form led to has loaded (an element of the old page may still be
/// found while the browser navigates).
async fn wait_text(c: &fantoccini::Client, selector: &str, needle: &str) {
    let started = std::time::Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(selector)).await
            && e.text().await.is_ok_and(|t| t.contains(needle))
        {
            return;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "no `{needle}` in {selector}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_of_three_flags_is_previewed_applied_and_reverted_in_the_browser() {
    let Some(b) = Browser::start("a_release_of_three_flags_is_previewed_applied_and_reverted_in_the_browser").await
    else {
        return;
    };
    let server = Server::start(ServerOptions::with_admin_password(PASSWORD)).await;
    let flags = ["checkout", "search", "banner"];
    for f in flags {
        server.admin(Method::POST, "/flags", Some(json!({"key": f, "type": "boolean"})), 201).await;
    }
    let c = &b.client;
    login(c, &server.base, "admin", PASSWORD).await;

    // Draft a release on the Releases page.
    css(c, "nav a[href=\"/releases\"]").await.click().await.expect("releases");
    css(c, "#f-release-name").await.send_keys("Launch week").await.expect("type");
    css(c, "form[action=\"/releases\"] button[type=submit]").await.click().await.expect("create");
    wait_text(c, "main", "No changes yet").await;
    for f in flags {
        css(c, "#f-change-flag").await.select_by_value(f).await.expect("flag");
        css(c, "#f-change-env").await.select_by_value("production").await.expect("env");
        css(c, "#f-change-enabled").await.select_by_value("on").await.expect("switch");
        css(c, "form[action$=\"/changes\"] button[type=submit]").await.click().await.expect("add");
        wait_text(c, "#preview", f).await;
    }
    // The preview: one diff per flag, nothing applied yet.
    let preview = css(c, "#preview").await.text().await.expect("preview");
    assert!(preview.contains("Applying now would succeed"), "{preview}");
    for f in flags {
        assert!(preview.contains(f), "{f} in {preview}");
    }
    assert_eq!(c.find_all(Locator::Css("#preview pre.diff")).await.expect("diffs").len(), 3);
    b.screenshot("release-preview").await;
    let before = version(&server, "production").await;
    for f in flags {
        let config = server.admin(Method::GET, &format!("/flags/{f}/environments/production"), None, 200).await;
        assert_eq!(config["enabled"], false, "{f} changed before the apply");
    }

    // Apply: every flag on, in one new version.
    css(c, "form[action$=\"/apply\"] button").await.click().await.expect("apply");
    wait_text(c, "#release-versions", "production version").await;
    assert_eq!(css(c, "#release-state").await.text().await.expect("state"), "applied");
    assert_eq!(version(&server, "production").await, before + 1, "one version for the whole release");
    for f in flags {
        let config = server.admin(Method::GET, &format!("/flags/{f}/environments/production"), None, 200).await;
        assert_eq!(config["enabled"], true, "{f}");
    }
    b.screenshot("release-applied").await;

    // Revert: the inverse as a new release, again one version.
    css(c, "form[action$=\"/revert\"] button").await.click().await.expect("revert");
    wait_text(c, "main", "Reverted by release").await;
    assert_eq!(version(&server, "production").await, before + 2);
    for f in flags {
        let config = server.admin(Method::GET, &format!("/flags/{f}/environments/production"), None, 200).await;
        assert_eq!(config["enabled"], false, "{f} after the revert");
    }
    let releases: Value = server.admin(Method::GET, "/releases", None, 200).await;
    assert_eq!(releases.as_array().map(Vec::len), Some(2), "{releases}");
    b.close().await;
}
