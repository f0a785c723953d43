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

use crate::state::AppState;
use crate::store::Backend;

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
