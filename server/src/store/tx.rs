//! What a transaction does beside its domain's statements: one savepoint per
//! write of a batch, cross-replica hints, the marks this process acts on
//! after commit, a probe write ([`TxQueries`], [`TxMarks`], [`Topic`]).

use std::future::Future;

use super::Result;

/// What a write transaction announced and which environment versions it
/// created, minus what rolled back with a refused write's savepoint.
#[derive(Debug, Clone, Default)]
pub struct TxMarks {
    notified: [bool; 2],
    bumped: Vec<(i64, i64)>,
    announced: Vec<Announced>,
    at_job_start: ([bool; 2], usize, usize),
    /// Whether the savepoint `job` is open (set by an earlier job's
    /// [`Undo::Savepoint`]).
    pub(super) savepoint_open: bool,
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

    /// Records that `topic`'s hint is sent with this transaction (undone
    /// with the job's savepoint, like the hint itself).
    pub(super) fn hinted(&mut self, topic: Topic) {
        self.notified[topic as usize] = true;
    }

    pub(super) fn bumped(&mut self, environment_id: i64, version: i64) {
        self.bumped.push((environment_id, version));
    }

    /// The stream patches writes built for the versions they created, in
    /// the order they were announced.
    pub fn announced(&self) -> &[Announced] {
        &self.announced
    }

    /// Hands this process's streams the patch of a version this
    /// transaction created: broadcast at commit (before the write is
    /// answered) instead of read back from the change log after it.
    pub fn announce(&mut self, patch: Announced) {
        self.announced.push(patch);
    }

    /// What the transaction did so far, leaving it marked as having done
    /// nothing (its savepoint bookkeeping stays): taken once, at commit.
    pub fn take(&mut self) -> TxMarks {
        let open = self.savepoint_open;
        let out = std::mem::take(self);
        self.savepoint_open = open;
        out
    }

    pub(super) fn begin_job(&mut self) {
        self.at_job_start = (self.notified, self.bumped.len(), self.announced.len());
    }

    pub(super) fn abort_job(&mut self) {
        self.notified = self.at_job_start.0;
        self.bumped.truncate(self.at_job_start.1);
        self.announced.truncate(self.at_job_start.2);
    }
}

/// A version that changed one flag, with the flag as the write that
/// created the version left it: the state layer builds its stream patch
/// (`service::patches`) once committed, only if a stream listens.
#[derive(Debug, Clone)]
pub struct Announced {
    pub environment_id: i64,
    pub version: i64,
    /// The flag's key.
    pub key: String,
    /// The flag, configured in this environment only.
    pub flag: flagyard_eval::Flag,
}

/// How a refused write of a batch is undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo {
    /// The write runs inside its own savepoint, rolled back if it refuses:
    /// it may refuse after writing (one round trip per write on Postgres).
    Savepoint,
    /// The write refuses only before its first statement that writes, and
    /// writes only after its last check: a refusal leaves nothing to undo,
    /// so no savepoint is set (on SQLite one is anyway: it costs no round
    /// trip). A statement that fails spoils a Postgres transaction, though,
    /// so after a refusal the transaction is probed (one round trip, on
    /// refusals only) and the whole batch fails if it was spoiled.
    NothingWritten,
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
    /// Marks the start of one write of a batch. With [`Undo::Savepoint`]:
    /// `SAVEPOINT job`, or `RELEASE SAVEPOINT job; SAVEPOINT job` in one
    /// round trip when one is open (the previous writes' work is kept).
    /// Commit releases the last one.
    fn begin_job(&mut self, undo: Undo) -> impl Future<Output = Result<()>> + Send;
    /// Undoes everything since the current write began (`ROLLBACK TO
    /// SAVEPOINT job`; with [`Undo::NothingWritten`] there is nothing to
    /// undo, and an error says the transaction can no longer commit).
    fn abort_job(&mut self, undo: Undo) -> impl Future<Output = Result<()>> + Send;
    /// Tells other replicas, when this transaction commits, that `topic`
    /// changed (Postgres `NOTIFY`; a no-op on SQLite, which has one process).
    fn notify(&mut self, topic: Topic) -> impl Future<Output = Result<()>> + Send;
    /// A real write that changes nothing (rewrites the first environment's
    /// row as it is): proves, once committed, that the database can write.
    fn probe_write(&mut self) -> impl Future<Output = Result<()>> + Send;
    /// What this transaction did that this process acts on right after
    /// commit, without a round trip through the database.
    fn marks(&self) -> &TxMarks;
    /// The same, to add to (see [`TxMarks::announce`]) or take at commit.
    fn marks_mut(&mut self) -> &mut TxMarks;
}
