//! Group commit: writes queue for one writer task, which runs whatever is
//! waiting in one transaction — each write inside its own savepoint, so a
//! refused write (a 4xx) rolls back alone — and commits once.
//!
//! This turns one commit (one `fsync`) per write into one per batch, which
//! is what lets many concurrent writers through SQLite's single writer
//! connection and through Postgres's per-environment version lock. On
//! Postgres every writing transaction also holds one advisory lock, so
//! batches on different replicas never lock environments in conflicting
//! orders.

use std::future::Future;
use std::pin::Pin;

use axum::response::Response;
use tokio::sync::{mpsc, oneshot};

use crate::http::ApiError;
use crate::store::{Backend, Queries, StoreError};

/// What a write returns once committed.
pub type Outcome = Result<Response, ApiError>;
/// A boxed future borrowing the transaction.
pub type JobFuture<'t> = Pin<Box<dyn Future<Output = Outcome> + Send + 't>>;
/// A write: given the transaction, do the work.
pub type Job<B> = Box<dyn for<'t> FnOnce(&'t mut <B as Backend>::Tx) -> JobFuture<'t> + Send>;

/// Writes run per batch at most.
const MAX_BATCH: usize = 64;

/// The handle handlers submit writes to.
pub struct Writer<B: Backend> {
    queue: Option<mpsc::Sender<(Job<B>, oneshot::Sender<Outcome>)>>,
    store: B,
}

impl<B: Backend> std::fmt::Debug for Writer<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("group_commit", &self.queue.is_some()).finish()
    }
}

impl<B: Backend> Writer<B> {
    /// A writer for `store`; `after_commit` runs after every successful commit.
    pub fn start(store: B, after_commit: impl Fn() + Send + 'static) -> Writer<B> {
        if !B::GROUP_COMMIT {
            return Writer { queue: None, store };
        }
        let (tx, mut rx) = mpsc::channel::<(Job<B>, oneshot::Sender<Outcome>)>(1024);
        let task_store = store.clone();
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
                run_batch(&task_store, batch).await;
                after_commit();
            }
        });
        Writer { queue: Some(tx), store }
    }

    /// Runs `job` in a write transaction and commits it.
    pub async fn write(&self, job: Job<B>) -> Outcome {
        match &self.queue {
            Some(queue) => {
                let (reply, answer) = oneshot::channel();
                queue.send((job, reply)).await.map_err(|_| closed())?;
                answer.await.map_err(|_| closed())?
            }
            None => {
                let mut tx = self.store.write().await?;
                let outcome = job(&mut tx).await?;
                B::commit(tx).await?;
                Ok(outcome)
            }
        }
    }
}

fn closed() -> ApiError {
    ApiError::Store(StoreError::Corrupt("the writer stopped".into()))
}

async fn run_batch<B: Backend>(store: &B, batch: Vec<(Job<B>, oneshot::Sender<Outcome>)>) {
    let mut tx = match store.write().await {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            for (_, reply) in batch {
                let _ = reply.send(Err(ApiError::Store(StoreError::Corrupt(message.clone()))));
            }
            return;
        }
    };
    let mut done = Vec::with_capacity(batch.len());
    for (i, (job, reply)) in batch.into_iter().enumerate() {
        let outcome = match tx.begin_job(i == 0).await {
            Ok(()) => match job(&mut tx).await {
                Ok(response) => Ok(response),
                Err(e) => match tx.abort_job().await {
                    Ok(()) => Err(e),
                    Err(rollback) => Err(ApiError::from(rollback)),
                },
            },
            Err(e) => Err(ApiError::from(e)),
        };
        done.push((reply, outcome));
    }
    match B::commit(tx).await {
        Ok(()) => {
            for (reply, outcome) in done {
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            let message = e.to_string();
            tracing::error!(error = %message, "a write batch failed to commit");
            for (reply, outcome) in done {
                let outcome = match outcome {
                    // Refused writes stay refused; the others are lost with the commit.
                    Err(refused) => Err(refused),
                    Ok(_) => Err(ApiError::Store(StoreError::Corrupt(format!("commit failed: {message}")))),
                };
                let _ = reply.send(outcome);
            }
        }
    }
}
