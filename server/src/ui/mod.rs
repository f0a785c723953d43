//! The web UI at `/`: server-rendered pages (templates and view models in
//! `flagyard-web`) over the same services as the admin API. Every page needs
//! a session (else a redirect to `/login`); every state-changing form is
//! checked for the session's CSRF token and the user's role; htmx requests
//! get fragments, plain ones a redirect or a re-rendered page.

mod account_pages;
mod answer;
mod assets;
mod audit_pages;
mod auth_pages;
mod catalog_cache;
mod config_words;
mod deletion;
mod error;
mod experiment_form;
mod experiment_pages;
mod experiment_view;
mod flag_detail;
mod flag_pages;
mod flag_rows;
mod flag_settings;
mod live;
mod manage_pages;
mod metric_pages;
mod ramp_pages;
mod ramp_panel;
mod release_pages;
mod request;
mod rules_pages;
mod segment_pages;

use axum::Router;
use axum::routing::get;

pub use answer::see_other;

use crate::state::AppState;
use crate::store::Backend;

/// Where a `GET` of a UI path that only takes `POST` (an action such as
/// `/flags/{key}/delete`, typed or reloaded in the address bar) is sent: the
/// page the action belongs to. `None` for paths that are not the UI's.
pub fn page_of_action(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let page = match parts.as_slice() {
        ["sdk-keys", ..] | ["environments", ..] => "/environments".to_owned(),
        [section @ ("tokens" | "users" | "audit"), ..] => format!("/{section}"),
        ["ramps", ..] => "/flags".to_owned(),
        ["flags", key, "environments", env, ..] => format!("/flags/{key}?env={env}"),
        [section @ ("flags" | "segments" | "experiments" | "experiment-metrics" | "releases"), key, ..] => {
            format!("/{section}/{key}")
        }
        [section @ ("flags" | "segments" | "experiments" | "experiment-metrics" | "releases" | "account")] => {
            format!("/{section}")
        }
        _ => return None,
    };
    Some(page)
}

/// The UI routes.
pub fn router<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/", get(|| async { answer::see_other("/flags") }))
        .merge(assets::routes::<B>())
        .merge(auth_pages::routes::<B>())
        .merge(account_pages::routes::<B>())
        .merge(flag_pages::routes::<B>())
        .merge(flag_settings::routes::<B>())
        .merge(live::routes::<B>())
        .merge(manage_pages::routes::<B>())
        .merge(experiment_pages::routes::<B>())
        .merge(metric_pages::routes::<B>())
        .merge(ramp_pages::routes::<B>())
        .merge(release_pages::routes::<B>())
        .merge(audit_pages::routes::<B>())
        // The flag list's catalog, kept between requests (one per server).
        .layer(axum::Extension(std::sync::Arc::new(catalog_cache::CatalogCache::default())))
        .layer(axum::Extension(std::sync::Arc::new(flag_pages::FirstSteps::default())))
}

#[cfg(test)]
mod tests {
    use super::page_of_action;

    #[test]
    fn an_action_typed_in_the_address_bar_goes_to_its_page() {
        for (action, page) in [
            ("/flags/checkout/delete", "/flags/checkout"),
            ("/flags/checkout/environments/production/toggle", "/flags/checkout?env=production"),
            ("/experiments/x/stop", "/experiments/x"),
            ("/releases/3/changes/0/remove", "/releases/3"),
            ("/sdk-keys/4/revoke", "/environments"),
            ("/tokens/2/revoke", "/tokens"),
            ("/users/ada/role", "/users"),
            ("/audit/9/rollback", "/audit"),
            ("/ramps/1/pause", "/flags"),
            ("/segments/new", "/segments/new"),
        ] {
            assert_eq!(page_of_action(action).as_deref(), Some(page), "{action}");
        }
        for api in ["/api/v1/flags", "/sdk/v1/events", "/ofrep/v1/evaluate/flags", "/metrics", "/healthz"] {
            assert_eq!(page_of_action(api), None, "{api}");
        }
    }
}
