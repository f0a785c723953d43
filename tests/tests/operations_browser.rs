//! Issue 15, item 5, in a real headless Chromium against the real binary: a
//! flag's settings are edited, it is archived, unarchived and deleted (a
//! dialog with JavaScript, a page without), and a user changes their own
//! password. Skipped (loudly) without Chromium unless
//! `FLAGYARD_REQUIRE_BROWSER=1`.

use flagyard_tests::{Browser, Server, ServerOptions, click, css, eventually, fill, main_says, text};
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn server() -> Server {
    let server = Server::start(ServerOptions::with_admin_password(PASSWORD)).await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "base", "type": "boolean"})), 201).await;
    server
}

async fn run(b: Browser, js: bool) {
    let server = server().await;
    let c = &b.client;
    flagyard_tests::login(c, &server.base, "admin", PASSWORD).await;
    c.goto(&format!("{}/flags/base", server.base)).await.expect("flag page");
    click(c, "#settings summary").await;
    fill(c, "name", "Base feature").await;
    fill(c, "tags", "core, team-a").await;
    if js {
        b.screenshot("flag-settings").await;
    }
    click(c, "form[action=\"/flags/base/definition\"] button[type=submit]").await;
    main_says(c, "Settings of base saved").await;
    let flag = server.admin(Method::GET, "/flags/base", None, 200).await;
    assert_eq!((flag["name"].as_str(), flag["tags"].clone()), (Some("Base feature"), json!(["core", "team-a"])));

    click(c, "form[action=\"/flags/base/archive\"] button").await;
    main_says(c, "base archived").await;
    assert_eq!(server.admin(Method::GET, "/flags/base", None, 200).await["archived"], true);
    click(c, "form[action=\"/flags/base/archive\"] button").await;
    main_says(c, "base unarchived").await;

    click(c, "form[action=\"/flags/base/delete\"] button").await;
    if js {
        let question = c.get_alert_text().await.expect("a confirmation dialog");
        assert!(question.contains("Delete flag base in every environment?"), "{question}");
        c.dismiss_alert().await.expect("dismiss");
        server.admin(Method::GET, "/flags/base", None, 200).await;
        click(c, "form[action=\"/flags/base/delete\"] button").await;
        c.accept_alert().await.expect("accept");
    } else {
        assert_eq!(text(c, "section.confirm h1").await, "Delete flag base?");
        click(c, "section.confirm button[type=submit]").await;
    }
    main_says(c, "Flag base deleted").await;
    server.admin(Method::GET, "/flags/base", None, 404).await;

    // One's own password: the session ends, the new password signs in.
    click(c, "a[href=\"/account\"]").await;
    fill(c, "current", PASSWORD).await;
    fill(c, "password", "a brand new password").await;
    fill(c, "repeat", "a brand new password").await;
    click(c, "form[action=\"/account/password\"] button[type=submit]").await;
    eventually("the login page", || async { c.current_url().await.is_ok_and(|u| u.path() == "/login") }).await;
    css(c, "form[action=\"/login\"]").await;
    flagyard_tests::login(c, &server.base, "admin", "a brand new password").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_settings_delete_and_password_with_javascript() {
    let Some(b) = Browser::start("flag_settings_delete_and_password_with_javascript").await else { return };
    run(b, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_settings_delete_and_password_without_javascript() {
    let test = "flag_settings_delete_and_password_without_javascript";
    let Some(b) = Browser::start_without_js(test).await else { return };
    run(b, false).await;
}
