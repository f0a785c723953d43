//! Wiring: state, router, and serving with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{self, ApiError};
use crate::ingest::Ingest;
use crate::live::{self, Hub};
use crate::service;
use crate::shutdown::{self, Shutdown};
use crate::store::{Backend, PgBackend, SqliteBackend};
use crate::writer::{JobFuture, Outcome as WriteOutcome, Writer};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState<B: Backend> {
    /// The database.
    pub store: B,
    /// The configuration.
    pub config: Arc<Config>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Set once the server is stopping.
    pub shutdown: Shutdown,
    /// Fan-out of changes to SDK streams.
    pub hub: Arc<Hub>,
    /// Serialized flag lists by query and catalog version.
    pub flag_lists: Arc<http::AnswerCache>,
    /// Runs writes (group commit).
    pub writer: Arc<Writer<B>>,
    /// Recently authenticated admin tokens and SDK keys.
    pub credentials: Arc<http::Credentials>,
    /// Event ingest (`POST /sdk/v1/events`).
    pub ingest: Arc<Ingest>,
    /// The web UI's flag catalog, kept between requests.
    pub ui_catalog: Arc<crate::ui::CatalogCache>,
}

impl<B: Backend> AppState<B> {
    /// Runs a write through the writer (group commit); the writer wakes the
    /// stream fan-out after each commit.
    pub async fn write<F>(&self, job: F) -> WriteOutcome
    where
        F: for<'t> FnOnce(&'t mut B::Tx) -> JobFuture<'t> + Send + 'static,
    {
        self.writer.write(Box::new(job)).await
    }
}

/// The complete router for `state`.
pub fn router<B: Backend>(state: AppState<B>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .nest("/api/v1", http::api_router::<B>().route("/openapi.json", axum::routing::get(http::openapi_handler)))
        .nest("/sdk/v1", live::router::<B>())
        .nest("/ofrep/v1", live::ofrep_router::<B>())
        .merge(http::ops_router::<B>())
        .merge(crate::ui::router::<B>())
        .fallback(|uri: axum::http::Uri| async move { ApiError::NotFound(format!("route `{}`", uri.path())) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::Extension(http::BodyLimit(limit)))
        .layer(axum::middleware::from_fn(http::observe))
        .with_state(state)
}

/// Which database `url` names.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Applies migrations and exits (`flagyard migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    if is_postgres(&config.database_url) {
        let store = PgBackend::connect(&config.database_url, 2).await?;
        store.migrate().await?;
        store.close().await;
    } else {
        let store = SqliteBackend::connect(&config.database_url, 1).await?;
        store.migrate().await?;
        store.close().await;
    }
    Ok(())
}

/// Serves on `listener` until `stop` resolves, then drains in-flight
/// requests for at most the configured timeout.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if is_postgres(&config.database_url) {
        let store = PgBackend::connect(&config.database_url, config.db_max_connections).await?;
        serve_with(store, config, listener, stop).await
    } else {
        let store = SqliteBackend::connect(&config.database_url, config.db_max_connections).await?;
        serve_with(store, config, listener, stop).await
    }
}

async fn serve_with<B: Backend>(
    store: B,
    config: Config,
    listener: TcpListener,
    stop: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    store.migrate().await?;
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
    let timeout = config.shutdown_timeout;
    let config_ingest_queue = config.ingest_queue_events;
    let addr: SocketAddr = listener.local_addr()?;
    let hub = Hub::new();
    live::spawn_hub(hub.clone(), store.clone(), store.hints().await?, shutdown.clone());
    let state = AppState {
        store: store.clone(),
        config: Arc::new(config),
        metrics: crate::telemetry::metrics_handle(),
        shutdown,
        writer: Arc::new(Writer::start(store.clone(), {
            let hub = hub.clone();
            move || hub.poke()
        })),
        hub: hub.clone(),
        flag_lists: Arc::default(),
        credentials: Arc::default(),
        ingest: Arc::new(Ingest::start(store.clone(), config_ingest_queue)),
        ui_catalog: Arc::default(),
    };
    // Any revocation, here or on another replica, empties the credential caches.
    let keys = state.credentials.clone();
    let mut revoked = hub.subscribe_keys();
    tokio::spawn(async move {
        while !matches!(revoked.recv().await, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
            keys.clear();
        }
    });
    tracing::info!(%addr, backend = B::NAME, "flagyard listening");
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let graceful = async move {
        stop.await;
        trigger.trigger();
        let _ = stopped_tx.send(());
    };
    // A make-service: built once, not per connection (a plain `Router` is
    // cloned into every connection, ~19 KiB each). Connection info gives
    // the login rate limiter the client's address.
    let server = axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(graceful);
    let server = tokio::spawn(async move { server.await });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result??,
        () = async {
            let _ = stopped_rx.await;
            tokio::time::sleep(timeout).await;
        } => {
            tracing::warn!(?timeout, "in-flight requests did not finish in time; stopping anyway");
            server.abort();
        }
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}
