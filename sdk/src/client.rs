//! [`Client`]: building it, the getters, events, lifecycle.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flagyard_eval::{Context, Detail, FlagType, Snapshot, evaluate, evaluate_typed};
use reqwest::header::HeaderValue;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::{Bootstrap, ClientBuilder};
use crate::detail::EvaluationDetail;
use crate::error::Error;
use crate::events::Pipeline;
use crate::events::queue::Stats;
use crate::source::{self, SourceCtx};
use crate::store::{ClientState, FlagChange, Loaded, Store};

/// The Flagyard client: evaluates flags locally against the live rules and
/// records exposures and metric events.
///
/// Cheap to clone (an `Arc`); share one per process and environment. The
/// getters are synchronous, take no lock and do no I/O. Background work
/// (the data source, the event sender) runs on the Tokio runtime that
/// called [`ClientBuilder::build`]; it stops on [`Client::close`] or when the
/// last clone is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    events: Option<Pipeline>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    close_timeout: Duration,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("state", &self.state()).field("version", &self.version()).finish()
    }
}

impl Client {
    /// A builder for a client of the server at `base_url` (e.g.
    /// `https://flags.example.com`) with an environment's SDK key.
    pub fn builder(base_url: impl Into<String>, sdk_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(base_url, sdk_key)
    }

    #[inline]
    fn eval<T>(
        &self,
        key: &str,
        ctx: &Context<'_>,
        requested: Option<FlagType>,
        f: impl FnOnce(Option<(&Loaded, &Detail<'_>)>) -> T,
    ) -> T {
        self.inner.store.with_current(|loaded| {
            let Some(loaded) = loaded else { return f(None) };
            let d = match requested {
                Some(t) => evaluate_typed(&loaded.rules, key, ctx, t),
                None => evaluate(&loaded.rules, key, ctx),
            };
            if d.served_by_split()
                && let Some(events) = &self.inner.events
            {
                events.exposure(loaded, key, ctx, &d);
            }
            f(Some((loaded, &d)))
        })
    }

    /// The boolean flag `key` for `ctx`, or `default` (not ready, unknown
    /// flag, not a boolean flag). Allocates nothing (beyond a first
    /// exposure, see the crate docs).
    #[inline]
    pub fn bool_value(&self, key: &str, ctx: &Context<'_>, default: bool) -> bool {
        self.eval(key, ctx, Some(FlagType::Boolean), |r| r.and_then(|(_, d)| d.value()?.as_bool()).unwrap_or(default))
    }

    /// The number flag `key` for `ctx`, or `default`. Allocates nothing
    /// (beyond a first exposure).
    #[inline]
    pub fn number_value(&self, key: &str, ctx: &Context<'_>, default: f64) -> f64 {
        self.eval(key, ctx, Some(FlagType::Number), |r| r.and_then(|(_, d)| d.value()?.as_f64()).unwrap_or(default))
    }

    /// The string flag `key` for `ctx`, or `default`.
    pub fn string_value(&self, key: &str, ctx: &Context<'_>, default: &str) -> String {
        self.eval(key, ctx, Some(FlagType::String), |r| {
            r.and_then(|(_, d)| d.value()?.as_str()).unwrap_or(default).to_owned()
        })
    }

    /// The flag `key` (of any type) for `ctx` as JSON, or `default`.
    pub fn json_value(&self, key: &str, ctx: &Context<'_>, default: Value) -> Value {
        self.eval(key, ctx, Some(FlagType::Json), |r| r.and_then(|(_, d)| d.value().cloned()).unwrap_or(default))
    }

    /// The variant key served for `ctx`, or `None` when nothing is served
    /// (not ready, unknown flag).
    pub fn variant(&self, key: &str, ctx: &Context<'_>) -> Option<String> {
        self.eval(key, ctx, None, |r| r.and_then(|(_, d)| d.variant()).map(str::to_owned))
    }

    /// Every flag's value for `ctx`, all read from one version of the rules,
    /// with that version: a consistent view (a release applied meanwhile
    /// shows entirely or not at all), e.g. to bootstrap a front end. `None`
    /// before the first rules arrive. Flags that serve no value (an error)
    /// are left out. Logs no exposures: it is a bulk read, not a decision.
    pub fn all_values(&self, ctx: &Context<'_>) -> Option<AllValues> {
        self.inner.store.with_current(|loaded| {
            let rules = &loaded?.rules;
            let values = (0..rules.len())
                .zip(rules.flag_keys())
                .filter_map(|(i, key)| Some((key.to_owned(), rules.evaluate_index(i, ctx).value()?.clone())))
                .collect();
            Some(AllValues { version: rules.version(), values })
        })
    }

    /// The full account of evaluating `key` (of any type) for `ctx`; `value`
    /// is `None` when nothing is served.
    pub fn detail(&self, key: &str, ctx: &Context<'_>) -> EvaluationDetail<Option<Value>> {
        self.eval(key, ctx, None, |r| match r {
            Some((l, d)) => EvaluationDetail::from_engine(d.value().cloned(), d, l.rules.version()),
            None => EvaluationDetail::not_ready(None),
        })
    }

    fn typed_detail<T>(
        &self,
        key: &str,
        ctx: &Context<'_>,
        kind: FlagType,
        default: T,
        get: impl FnOnce(&Value) -> Option<T>,
    ) -> EvaluationDetail<T> {
        self.eval(key, ctx, Some(kind), |r| match r {
            Some((l, d)) => {
                let value = d.value().and_then(get).unwrap_or(default);
                EvaluationDetail::from_engine(value, d, l.rules.version())
            }
            None => EvaluationDetail::not_ready(default),
        })
    }

    /// [`bool_value`](Self::bool_value) with the reason.
    pub fn bool_detail(&self, key: &str, ctx: &Context<'_>, default: bool) -> EvaluationDetail<bool> {
        self.typed_detail(key, ctx, FlagType::Boolean, default, Value::as_bool)
    }

    /// [`number_value`](Self::number_value) with the reason.
    pub fn number_detail(&self, key: &str, ctx: &Context<'_>, default: f64) -> EvaluationDetail<f64> {
        self.typed_detail(key, ctx, FlagType::Number, default, Value::as_f64)
    }

    /// [`string_value`](Self::string_value) with the reason.
    pub fn string_detail(&self, key: &str, ctx: &Context<'_>, default: &str) -> EvaluationDetail<String> {
        self.typed_detail(key, ctx, FlagType::String, default.to_owned(), |v| v.as_str().map(str::to_owned))
    }

    /// [`json_value`](Self::json_value) with the reason.
    pub fn json_detail(&self, key: &str, ctx: &Context<'_>, default: Value) -> EvaluationDetail<Value> {
        self.typed_detail(key, ctx, FlagType::Json, default, |v| Some(v.clone()))
    }

    /// Records the metric event `event` for the context's targeting key,
    /// with an optional value (e.g. an amount). Never blocks: when the queue
    /// is full the event is dropped and counted. Ignored (and counted as
    /// dropped) without a targeting key or with a non-finite value.
    pub fn track(&self, event: &str, ctx: &Context<'_>, value: Option<f64>) {
        if let Some(events) = &self.inner.events {
            events.track(event, ctx, value);
        }
    }

    /// Change notifications: one [`FlagChange`] per new snapshot or patch
    /// that changes flags or segments. A receiver that falls more than 64
    /// changes behind gets `RecvError::Lagged` and should re-read what it
    /// needs.
    pub fn subscribe(&self) -> broadcast::Receiver<FlagChange> {
        self.inner.store.subscribe()
    }

    /// What the client is doing now.
    pub fn state(&self) -> ClientState {
        self.inner.store.state()
    }

    /// A receiver of state changes (e.g. to wait for `Ready`).
    pub fn state_changes(&self) -> watch::Receiver<ClientState> {
        self.inner.store.watch_state()
    }

    /// The version of the rules being served, if any.
    pub fn version(&self) -> Option<u64> {
        self.inner.store.load().as_ref().map(|l| l.rules.version())
    }

    /// The event pipeline's counters (all zero without events).
    pub fn stats(&self) -> Stats {
        self.inner.events.as_ref().map(Pipeline::stats).unwrap_or_default()
    }

    /// Sends the queued events now and waits until they are sent or given
    /// up (the wait includes retries; bound it with `tokio::time::timeout`
    /// if needed).
    pub async fn flush(&self) {
        if let Some(events) = &self.inner.events {
            events.flush().await;
        }
    }

    /// Stops the background tasks after a final flush of the events, within
    /// [`ClientBuilder::close_timeout`]. The getters keep serving the last
    /// rules; the state becomes [`ClientState::Offline`] (unless
    /// [`ClientState::Failed`]). Idempotent.
    pub async fn close(&self) {
        self.inner.shutdown.send_replace(true);
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let deadline = tokio::time::Instant::now() + self.inner.close_timeout;
        for mut task in tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!("flagyard: a background task did not stop in time; aborting it");
                task.abort();
            }
        }
        self.inner.store.set_state(ClientState::Offline);
    }
}

impl ClientBuilder {
    /// Builds the client: loads the bootstrap and cache file, starts the
    /// data source and the event sender, and waits up to
    /// [`init_timeout`](Self::init_timeout) for the server's rules.
    ///
    /// Fails only on configuration errors (bad URL or key, unreadable or
    /// invalid bootstrap); a server that is down or refuses the key shows in
    /// [`Client::state`] instead.
    pub async fn build(self) -> Result<Client, Error> {
        let config = Arc::new(self);
        let initial = initial_rules(&config)?;
        let store = Arc::new(Store::new(if config.offline { ClientState::Offline } else { ClientState::Initializing }));
        if let Some((snapshot, from)) = initial {
            let version = snapshot.version;
            store.put(snapshot, false).map_err(Error::Bootstrap)?;
            tracing::info!(version, from, "flagyard: starting with local rules");
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut inner =
            Inner { store, events: None, shutdown, tasks: Mutex::new(Vec::new()), close_timeout: config.close_timeout };
        if config.offline {
            return Ok(Client { inner: Arc::new(inner) });
        }
        let base = validate_url(&config.base_url)?;
        if config.sdk_key.0.is_empty() {
            return Err(Error::InvalidKey("empty"));
        }
        let auth = HeaderValue::from_str(&format!("Bearer {}", config.sdk_key.0))
            .map_err(|_| Error::InvalidKey("not valid in an HTTP header"))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("flagyard-rust/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut tasks = Vec::new();
        if config.send_events {
            let (pipeline, task) =
                Pipeline::start(http.clone(), &base, auth.clone(), config.clone(), shutdown_rx.clone());
            inner.events = Some(pipeline);
            tasks.push(task);
        }
        let ctx =
            SourceCtx { http, base, auth, config: config.clone(), store: inner.store.clone(), shutdown: shutdown_rx };
        tasks.push(tokio::spawn(source::run(ctx)));
        inner.tasks = Mutex::new(tasks);
        let client = Client { inner: Arc::new(inner) };
        let mut state = client.state_changes();
        let settled = state.wait_for(|s| matches!(s, ClientState::Ready | ClientState::Failed(_)));
        if tokio::time::timeout(config.init_timeout, settled).await.is_err() {
            tracing::warn!(
                timeout = ?config.init_timeout,
                "flagyard: no rules from the server yet; serving local rules or defaults while retrying"
            );
        }
        Ok(client)
    }
}

fn validate_url(url: &str) -> Result<String, Error> {
    let bad = |reason: String| Error::InvalidUrl { url: url.to_owned(), reason };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https".into()));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The rules to start from: the bootstrap or the cache file, whichever has
/// the higher version (the file on a tie, as it came from the server).
/// TLS for an `https://` server: rustls with the ring provider and the
/// Mozilla root certificates (webpki-roots), configured here rather than
/// through a process-wide default provider, so the SDK neither depends on
/// nor changes what its host installed, and does not add aws-lc to the host's
/// build.
fn tls_config() -> Result<rustls::ClientConfig, Error> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

fn initial_rules(config: &ClientBuilder) -> Result<Option<(Snapshot, &'static str)>, Error> {
    let bootstrap = match &config.bootstrap {
        None => None,
        Some(Bootstrap::Json(json)) => Some(flagyard_eval::parse_snapshot(json)?),
        Some(Bootstrap::File(path)) => {
            let json =
                std::fs::read_to_string(path).map_err(|source| Error::BootstrapFile { path: path.clone(), source })?;
            Some(flagyard_eval::parse_snapshot(&json)?)
        }
    };
    if let Some(b) = &bootstrap {
        flagyard_eval::Ruleset::compile(b)?;
    }
    let cached = config.cache_file.as_deref().and_then(crate::cache_file::read).filter(|c| {
        let ok = flagyard_eval::Ruleset::compile(c).is_ok();
        if !ok {
            tracing::warn!("flagyard: the cache file's rules do not compile; ignoring it");
        }
        ok
    });
    Ok(match (bootstrap, cached) {
        (Some(b), Some(c)) if b.version > c.version => Some((b, "bootstrap")),
        (_, Some(c)) => Some((c, "cache file")),
        (Some(b), None) => Some((b, "bootstrap")),
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SDK's TLS needs no process-wide crypto provider (none is
    /// installed in this test process) and reqwest accepts it.
    #[test]
    fn https_clients_build_with_the_sdks_own_tls() {
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        let config = tls_config().unwrap();
        assert!(!config.crypto_provider().cipher_suites.is_empty());
        reqwest::Client::builder().tls_backend_preconfigured(config).build().unwrap();
    }
}

/// What [`Client::all_values`] answers.
#[derive(Debug, Clone, PartialEq)]
pub struct AllValues {
    /// The environment version the values come from.
    pub version: u64,
    /// Each flag's value, by key.
    pub values: std::collections::BTreeMap<String, Value>,
}
