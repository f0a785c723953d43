//! What a transaction does beside its domain's statements: one savepoint per
//! write of a batch, cross-replica hints, the marks this process acts on
//! after commit, a probe write ([`TxQueries`], [`TxMarks`], [`Topic`]).

use std::future::Future;

use super::Result;

/// What a write transaction announced and which environment versions it
/// created, minus what rolled back with a refused write's savepoint.
#[derive(Debug, Clone, Default)]
pub struct TxMarks {
    pub(crate) notified: [bool; 2],
    bumped: Vec<(i64, i64)>,
    at_job_start: ([bool; 2], usize),
}

impl TxMarks {
    /// Whether `topic` was announced.
    pub fn notified(&self, topic: Topic) -> bool {
        self.notified[topic as usize]
    }

    /// The `(environment id, version)` pairs created.
    pub fn versions(&self) -> &[(i64, i64)] {
        &self.bumped
    }

    pub(super) fn bumped(&mut self, environment_id: i64, version: i64) {
        self.bumped.push((environment_id, version));
    }

    pub(super) fn begin_job(&mut self) {
        self.at_job_start = (self.notified, self.bumped.len());
    }

    pub(super) fn abort_job(&mut self) {
        self.notified = self.at_job_start.0;
        self.bumped.truncate(self.at_job_start.1);
    }
}

/// What a cross-replica notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// New change records exist (the payload names no version: the change
    /// log is the truth; the hint only says "look").
    Changes,
    /// Credentials changed: an SDK key revoked, a session ended, a user's
    /// password changed, disabled or deleted.
    Keys,
}

impl Topic {
    /// The Postgres channel name.
    pub fn channel(self) -> &'static str {
        match self {
            Topic::Changes => "flagyard_changes",
            Topic::Keys => "flagyard_keys",
        }
    }
}

/// The transaction's own statements and bookkeeping.
pub trait TxQueries: Send {
    /// Marks the start of one write of a batch: `SAVEPOINT job` for the
    /// first, else `RELEASE SAVEPOINT job; SAVEPOINT job` in one round trip
    /// (the previous write's work is kept). Commit releases the last one.
    fn begin_job(&mut self, first: bool) -> impl Future<Output = Result<()>> + Send;
    /// Undoes everything since the current write began (`ROLLBACK TO SAVEPOINT job`).
    fn abort_job(&mut self) -> impl Future<Output = Result<()>> + Send;
    /// Tells other replicas, when this transaction commits, that `topic`
    /// changed (Postgres `NOTIFY`; a no-op on SQLite, which has one process).
    fn notify(&mut self, topic: Topic) -> impl Future<Output = Result<()>> + Send;
    /// A real write that changes nothing (rewrites the first environment's
    /// row as it is): proves, once committed, that the database can write.
    fn probe_write(&mut self) -> impl Future<Output = Result<()>> + Send;
    /// What this transaction did that this process acts on right after
    /// commit, without a round trip through the database.
    fn marks(&self) -> &TxMarks;
}
