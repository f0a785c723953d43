//! Wiring: the router, start-up, and serving with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tower_layer::Layer;

use crate::config::Config;
use crate::http::{self, ApiError};
use crate::ingest::Ingest;
use crate::live;
use crate::service;
use crate::shutdown;
use crate::state::{self, AppState, Credentials, Hub, Writer};
use crate::store::{Backend, Database, TxQueries};

/// The whole application as one service: the router, whose one route layer
/// is [`http::ObserveLayer`] (query bound, request id, security headers, log
/// line, metrics), under axum's default body limit.
pub type App = <DefaultBodyLimit as Layer<Router>>::Service;

/// The complete application for `state`.
///
/// Every route is registered at its full path (no `nest`, whose prefix
/// stripping rebuilt each request's URI), and only what must know the
/// matched route runs inside the router: each route layer costs every
/// request a boxed service clone and a boxed future.
pub fn router<B: Backend>(state: AppState<B>) -> App {
    let limit = state.config.max_body_bytes;
    let proxies = http::TrustedProxies(Arc::new(state.config.trusted_proxies.clone()));
    // The event queue and its worker (`POST /sdk/v1/events`), one per server.
    let ingest =
        Arc::new(Ingest::start(state.store.clone(), state.config.ingest_queue_events, state.scheduler.ingest_signal()));
    let routed = Router::new()
        .merge(http::api_router::<B>().route("/api/v1/openapi.json", axum::routing::get(http::openapi_handler)))
        .merge(live::router::<B>().layer(axum::Extension(ingest)))
        .merge(live::ofrep_router::<B>())
        .merge(http::ops_router::<B>())
        .merge(crate::ui::router::<B>());
    #[cfg(debug_assertions)]
    let routed = routed.merge(http::test_clock_router::<B>());
    let routed = routed
        .fallback(|uri: axum::http::Uri| async move { ApiError::NotFound(format!("route `{}`", uri.path())) })
        .method_not_allowed_fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
            // A UI action typed or reloaded in the address bar: its page, not
            // a JSON problem.
            match crate::ui::page_of_action(uri.path()) {
                Some(page) if method == axum::http::Method::GET => crate::ui::see_other(&page),
                _ => ApiError::MethodNotAllowed.into_response(),
            }
        })
        .layer(http::ObserveLayer::new(limit, proxies))
        .with_state(state);
    // Outside the router: it only sets an extension, and a route layer would
    // cost every request a boxed clone and a boxed future.
    DefaultBodyLimit::max(limit).layer(routed)
}

/// Applies migrations and exits (`flagyard migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = Database::open(&config.database_url, 2, config.create_database).await?;
    store.migrate().await?;
    store.close().await;
    Ok(())
}

/// Serves on `listener` until `stop` resolves, then drains in-flight
/// requests for at most the configured timeout.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Database::open(&config.database_url, config.db_max_connections, config.create_database).await?;
    serve_with(store, config, listener, stop).await
}

/// Proves the database can write before the server says it is ready: a
/// read-only file or a read-only Postgres (a standby) refuses to start with
/// a clear message instead of answering every write with an error.
async fn check_writable<B: Backend>(store: &B) -> anyhow::Result<()> {
    let probe = async {
        let mut tx = store.write().await?;
        tx.probe_write().await?;
        B::commit(tx).await
    };
    probe.await.map_err(|e| anyhow::anyhow!("the database cannot be written to: {e}"))
}

async fn serve_with<B: Backend>(
    store: B,
    config: Config,
    listener: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    store.migrate().await?;
    check_writable(&store).await?;
    let boot = service::bootstrap(&store, &config).await.map_err(|e| anyhow::anyhow!("bootstrap failed: {e}"))?;
    if !boot.created_environments.is_empty() {
        tracing::info!(environments = ?boot.created_environments, "created environments");
    }
    if let Some(token) = &boot.generated_admin_token {
        // Printed once, to stdout, never logged or stored in clear.
        println!("\nFlagyard generated an admin token (shown once; store it now):\n\n    {token}\n");
    }
    let first_admin =
        service::bootstrap_users(&store, &config).await.map_err(|e| anyhow::anyhow!("bootstrap failed: {e}"))?;
    if let Some(password) = &first_admin {
        // Like the token: printed once, to stdout, never logged or stored in clear.
        println!("\nFlagyard created the web UI user `admin`; its password (shown once):\n\n    {password}\n");
    }
    let (trigger, shutdown) = shutdown::channel();
    let test_clock = config.test_clock;
    let timeout = config.shutdown_timeout;
    let addr: SocketAddr = listener.local_addr()?;
    let hub = Hub::new();
    let credentials: Arc<Credentials> = Arc::default();
    state::spawn_hub(hub.clone(), store.clone(), store.hints().await?, shutdown.clone());
    let state = AppState::new(state::Shared {
        store: store.clone(),
        config: Arc::new(config),
        metrics: crate::telemetry::metrics_handle(),
        shutdown,
        writer: Arc::new(Writer::start(store.clone(), state::after_commit(hub.clone(), credentials.clone()))),
        hub: hub.clone(),
        credentials,
        scheduler: Arc::new(state::Scheduler::new(test_clock)),
    });
    // Due releases, including those whose instant passed while the server was down.
    state::spawn_scheduler(state.clone());
    // Guarded ramps, looked at after every ingest transaction that attributed events.
    state::spawn_guard(state.clone());
    // When tokens and keys were last used (at most about once a minute each).
    state::spawn_usage(state.clone());
    // Any revocation, here or on another replica, empties the credential caches.
    let keys = state.credentials.clone();
    let mut revoked = hub.subscribe_keys();
    tokio::spawn(async move {
        while !matches!(revoked.recv().await, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
            keys.clear();
        }
    });
    let limits = crate::serve::Limits {
        header_timeout: state.config.header_timeout,
        write_timeout: state.config.write_timeout,
        max_connections: crate::serve::connection_room(state.config.max_connections),
    };
    tracing::info!(%addr, backend = store.name(), max_connections = limits.max_connections, "flagyard listening");
    let graceful = async move {
        stop.await;
        trigger.trigger();
    };
    if !crate::serve::run(listener, router(state), limits, graceful, timeout).await {
        tracing::warn!(?timeout, "in-flight requests did not finish in time; stopping anyway");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
