//! The state every handler reaches, below the routers that use it: the
//! database, the configuration, the fan-out hub, the writer (group commit)
//! and the credential caches. Endpoint-private caches (the API's flag
//! lists, the UI's catalog) and the ingest queue are not here: each router
//! carries its own as a request extension.

mod credentials;
mod frames;
mod hub;
mod login_limit;
#[cfg(test)]
mod publish_tests;
mod scheduler;
mod usage;
mod writer;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::shutdown::Shutdown;
use crate::store::{Backend, StoreError, Topic, TxMarks, Undo};

pub use credentials::{Caller, Credentials, SdkCaller};
pub use frames::{HEARTBEAT, RETRY, frame, patch_frame, snapshot_json};
pub use hub::{EnvRules, Hub, Signal, spawn as spawn_hub};
pub use login_limit::{Clock, LoginLimiter, LoginLimits, SystemClock};
#[cfg(debug_assertions)]
pub use scheduler::run_due as run_due_releases;
// The test clock's route (debug builds) takes the snapshot at once.
#[cfg(debug_assertions)]
pub use scheduler::snapshot_results_if_due;
pub use scheduler::{Attributed, Scheduler, spawn as spawn_scheduler, spawn_guard};
pub use usage::{CredentialKind, UsageLog, spawn_usage};
pub use writer::Writer;

/// What every handler can reach: one shared [`Shared`], so that the
/// per-request clone axum makes of the state is one reference count.
pub struct AppState<B: Backend>(Arc<Shared<B>>);

impl<B: Backend> AppState<B> {
    /// The state of one server.
    pub fn new(shared: Shared<B>) -> Self {
        AppState(Arc::new(shared))
    }
}

impl<B: Backend> Clone for AppState<B> {
    fn clone(&self) -> Self {
        AppState(self.0.clone())
    }
}

impl<B: Backend> std::ops::Deref for AppState<B> {
    type Target = Shared<B>;

    fn deref(&self) -> &Shared<B> {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared<B: Backend> {
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
    /// Runs writes (group commit).
    pub writer: Arc<Writer<B>>,
    /// Recently authenticated admin tokens and SDK keys.
    pub credentials: Arc<Credentials>,
    /// The release scheduler's clock and wake-up.
    pub scheduler: Arc<Scheduler>,
}

impl<B: Backend> Shared<B> {
    /// Runs `job` through the writer (group commit) and answers once its
    /// batch is over: the job's value once committed, or the error the job
    /// refused with (its savepoint rolled back, the batch unharmed), or the
    /// storage error that failed the batch (begin, commit, writer gone). The
    /// writer wakes the stream fan-out after each commit, before answering.
    pub async fn write<T, E, F>(&self, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'t> FnOnce(&'t mut B::Tx) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 't>> + Send + 'static,
    {
        self.write_with(Undo::Savepoint, job).await
    }

    /// [`write`](Self::write) with `undo` saying how a refusal is undone:
    /// [`Undo::NothingWritten`] for a job that refuses only before it writes
    /// anything (no savepoint round trip).
    pub async fn write_with<T, E, F>(&self, undo: Undo, job: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'t> FnOnce(&'t mut B::Tx) -> Pin<Box<dyn Future<Output = Result<T, E>> + Send + 't>> + Send + 'static,
    {
        let (send, receive) = oneshot::channel();
        let batch = self
            .writer
            .write(
                Box::new(move |tx| {
                    Box::pin(async move {
                        let result = job(tx).await;
                        let keep = result.is_ok();
                        // The writer needs only to know whether to keep the job's
                        // work; the result itself goes straight to the caller.
                        let _ = send.send(result);
                        keep
                    })
                }),
                undo,
            )
            .await;
        match (receive.await, batch) {
            (Ok(Err(refused)), _) => Err(refused),
            (Ok(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(e.into()),
            (Err(_), Ok(())) => Err(StoreError::Corrupt("a committed write lost its result".into()).into()),
        }
    }
}

/// What the writer does after every commit, before any of the batch's
/// writes is answered: what they changed is in force for the next request
/// to this replica (read-your-writes), the patches the writes built are on
/// this replica's streams, and revoked credentials are forgotten.
pub fn after_commit(hub: Arc<Hub>, credentials: Arc<Credentials>) -> impl Fn(&TxMarks) + Send + Sync + 'static {
    move |marks: &TxMarks| {
        for &(environment_id, version) in marks.versions() {
            hub.committed(environment_id, version);
        }
        let mut published = 0;
        for a in marks.announced() {
            let patch = || crate::service::patches::flag_patch_json(a.version, &a.key, &a.flag).ok();
            if hub.publish(a.environment_id, a.version, || patch().map(|json| frame("patch", a.version, &json))) {
                published += 1;
            }
        }
        if marks.notified(Topic::Keys) {
            credentials.clear();
            hub.keys_changed();
        }
        // The fan-out reads whatever was not published (nothing to read
        // when every version created was).
        if published < marks.versions().len() {
            hub.poke();
        }
    }
}
