//! Group commit: writes queue for one writer task, which runs whatever is
//! waiting in one transaction — each write inside its own savepoint, so a
//! refused write rolls back alone, unless it refuses only before writing
//! ([`Undo`]) — and commits once.
//!
//! This turns one commit (one `fsync`) per write into one per batch, which
//! is what lets many concurrent writers through SQLite's single writer
//! connection and through Postgres's per-environment version lock. On
//! Postgres every writing transaction also holds one advisory lock, so
//! batches on different replicas never lock environments in conflicting
//! orders.
//!
//! The writer knows storage only: a job tells it whether to keep its
//! savepoint, and hands its own result to its caller
//! ([`crate::state::AppState::write`] types both ends).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};

use crate::store::{Backend, StoreError, TxMarks, TxQueries, Undo};

/// What the writer answers once a job's batch is over: `Ok` when the batch
/// committed (a refused job's savepoint was rolled back, the rest kept),
/// else why it did not.
pub type Outcome = Result<(), StoreError>;
/// A boxed future borrowing the transaction; `true` keeps the job's work,
/// `false` (refused) rolls its savepoint back.
pub type JobFuture<'t> = Pin<Box<dyn Future<Output = bool> + Send + 't>>;
/// A write: given the transaction, do the work.
pub type Job<B> = Box<dyn for<'t> FnOnce(&'t mut <B as Backend>::Tx) -> JobFuture<'t> + Send>;

/// Writes run per batch at most.
const MAX_BATCH: usize = 64;

/// A queued write: the job, how a refusal is undone, where its outcome goes.
type Queued<B> = (Job<B>, Undo, oneshot::Sender<Outcome>);

/// The handle handlers submit writes to.
pub struct Writer<B: Backend> {
    queue: mpsc::Sender<Queued<B>>,
    health: Arc<Health>,
}

/// Whether the last transaction the writer tried could be begun and
/// committed: a writer that cannot write (disk full, read-only or deleted
/// file, database down) makes `/readyz` answer 503 until a commit succeeds.
#[derive(Debug, Default)]
pub struct Health {
    failing: Mutex<Option<String>>,
}

impl Health {
    /// Why the last write transaction failed, while no commit has succeeded since.
    pub fn failing(&self) -> Option<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.failing.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn failed(&self, reason: String) {
        *self.lock() = Some(reason);
    }

    fn committed(&self) {
        let mut failing = self.lock();
        if failing.take().is_some() {
            tracing::info!("the writer can write again");
        }
    }
}

impl<B: Backend> std::fmt::Debug for Writer<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("queued", &(self.queue.max_capacity() - self.queue.capacity())).finish()
    }
}

impl<B: Backend> Writer<B> {
    /// A writer for `store`; `after_commit` runs after every commit, before
    /// any of the batch's writes is answered, with what the transaction
    /// announced and the environment versions it created (so a write that
    /// answered is already in force on this replica: read-your-writes).
    pub fn start(store: B, after_commit: impl Fn(&TxMarks) + Send + Sync + 'static) -> Writer<B> {
        let (tx, mut rx) = mpsc::channel::<Queued<B>>(1024);
        let health = Arc::new(Health::default());
        let status = health.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                metrics::histogram!("flagyard_write_batch_size").record(batch.len() as f64);
                run_batch(&store, &status, &after_commit, batch).await;
            }
        });
        Writer { queue: tx, health }
    }

    /// Runs `job` in a write transaction (batched with whatever else is
    /// queued) and answers once it is committed; `undo` says how a refusal
    /// is undone.
    pub async fn write(&self, job: Job<B>, undo: Undo) -> Outcome {
        let (reply, answer) = oneshot::channel();
        self.queue.send((job, undo, reply)).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// The writer's health (see [`Health`]).
    pub fn health(&self) -> &Health {
        &self.health
    }
}

fn closed() -> StoreError {
    StoreError::Corrupt("the writer stopped".into())
}

/// Runs one batch.
async fn run_batch<B: Backend>(store: &B, health: &Health, after_commit: &impl Fn(&TxMarks), batch: Vec<Queued<B>>) {
    let mut tx = match store.write().await {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "the writer could not begin a transaction");
            health.failed(e.to_string());
            for (_, _, reply) in batch {
                let _ = reply.send(Err(e.for_waiter()));
            }
            return;
        }
    };
    let mut done: Vec<oneshot::Sender<Outcome>> = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    while let Some((job, undo, reply)) = jobs.next() {
        // A panicking write must not take the writer (and every later write)
        // down; a savepoint that cannot be set or rolled back leaves the
        // transaction unable to commit what the batch did.
        let run = async {
            tx.begin_job(undo).await?;
            match AssertUnwindSafe(job(&mut tx)).catch_unwind().await {
                Ok(true) => Ok(()),
                // Refused: its savepoint goes (if it had one), the batch goes on.
                Ok(false) => tx.abort_job(undo).await,
                Err(_) => Err(StoreError::Corrupt("a write in this batch failed".into())),
            }
        };
        if let Err(e) = run.await {
            // The transaction's state is unknown: give up the whole batch (rolled back on drop).
            tracing::error!(error = %e, "a write failed its batch; the batch is rolled back");
            for r in std::iter::once(reply).chain(done).chain(jobs.map(|(_, _, r)| r)) {
                let _ = r.send(Err(e.for_waiter()));
            }
            return;
        }
        done.push(reply);
    }
    let marks = tx.marks_mut().take();
    match B::commit(tx).await {
        Ok(()) => {
            health.committed();
            after_commit(&marks);
            for reply in done {
                let _ = reply.send(Ok(()));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "a write batch failed to commit");
            health.failed(e.to_string());
            for reply in done {
                // Whatever each job did is lost with the commit (a refused
                // job's own refusal still reaches its caller beside this).
                let _ = reply.send(Err(match e.for_waiter() {
                    StoreError::Corrupt(m) => StoreError::Corrupt(format!("commit failed: {m}")),
                    other => other,
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EnvironmentQueries, SqliteBackend};

    /// A fresh database in a directory of its own (`test` keeps two tests
    /// started in the same millisecond apart).
    async fn backend(test: &str) -> (SqliteBackend, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "flagyard_writer_{test}_{}_{}",
            std::process::id(),
            crate::service::now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteBackend::connect(&format!("sqlite://{}", dir.join("w.db").display()), 1).await.unwrap();
        store.migrate().await.unwrap();
        (store, dir)
    }

    fn insert(key: &'static str) -> Job<SqliteBackend> {
        Box::new(move |tx| Box::pin(async move { tx.insert_environment(key, key, 0).await.is_ok() }))
    }

    #[tokio::test]
    async fn a_refused_write_rolls_back_alone_and_a_panic_does_not_stop_the_writer() {
        let (store, dir) = backend("refused").await;
        let writer = Writer::start(store.clone(), |_: &TxMarks| {});
        let refused: Job<SqliteBackend> = Box::new(|tx| {
            Box::pin(async move {
                tx.insert_environment("half-done", "x", 0).await.unwrap();
                false
            })
        });
        let panics: Job<SqliteBackend> = Box::new(|_tx| Box::pin(async move { panic!("a bug in a write") }));
        let (a, b, c) = tokio::join!(
            writer.write(insert("one"), Undo::Savepoint),
            writer.write(refused, Undo::Savepoint),
            writer.write(insert("two"), Undo::Savepoint)
        );
        assert!(a.is_ok() && b.is_ok() && c.is_ok(), "the batch commits without the refused write");
        assert!(writer.write(panics, Undo::Savepoint).await.is_err());
        assert!(writer.write(insert("three"), Undo::Savepoint).await.is_ok(), "the writer survives a panicking write");
        let mut tx = store.read().await.unwrap();
        let keys: Vec<String> = tx.environments().await.unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["one", "two", "three"]);
        drop(tx);
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_failed_commit_leaves_the_writer_able_to_write() {
        let (store, dir) = backend("commit").await;
        let writer = Writer::start(store.clone(), |_: &TxMarks| {});
        assert!(writer.health().failing().is_none());
        // As on a full disk: the commit fails and SQLite rolls back.
        store.fail_commits(true);
        for key in ["lost-1", "lost-2"] {
            let e = writer.write(insert(key), Undo::Savepoint).await.unwrap_err();
            assert!(e.to_string().contains("commit"), "{e}");
            assert!(writer.health().failing().is_some(), "the failure is reported");
        }
        // Space is back: the next write commits on a fresh connection (before
        // the fix: "attempted to call begin_with at non-zero transaction depth"
        // until restart).
        store.fail_commits(false);
        writer.write(insert("after"), Undo::Savepoint).await.expect("the writer recovered");
        assert!(writer.health().failing().is_none(), "a successful commit clears the failure");
        let mut tx = store.read().await.unwrap();
        let keys: Vec<String> = tx.environments().await.unwrap().into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["after"], "nothing of the failed commits was kept");
        drop(tx);
        store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
