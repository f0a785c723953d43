-- Timed ramps and guarded rollouts (issue 14), Postgres: a plan that raises
-- the coverage or the canary weight of one split rule step by step, each
-- step held for a time, advanced by the scheduler as ordinary configuration
-- writes; a guarded plan measures guardrail metrics through an experiment of
-- its own and rolls the rule back when the canary regresses. Times are epoch
-- milliseconds. Mirrors the SQLite migration.
CREATE TABLE ramps (
    id              BIGSERIAL PRIMARY KEY,
    flag_id         BIGINT  NOT NULL REFERENCES flags (id) ON DELETE RESTRICT,
    environment_id  BIGINT  NOT NULL REFERENCES environments (id) ON DELETE RESTRICT,
    rule_id         TEXT    NOT NULL,
    canary_variant  TEXT    NOT NULL,
    control_variant TEXT    NOT NULL,
    -- JSON array of steps: {coverage?, weight?, holdMs, maxHoldMs?, minUnits?, requireEvidence}
    steps           TEXT    NOT NULL,
    -- JSON array of guardrails: {metricId, metric, kind, event, goodDirection, tolerance}
    guardrails      TEXT    NOT NULL DEFAULT '[]',
    alpha           DOUBLE PRECISION NOT NULL DEFAULT 0.05,
    -- The experiment that attributes exposures and events to the arms (guarded plans).
    experiment_id   BIGINT,
    -- running, paused, completed, aborted, rolled_back
    state           TEXT    NOT NULL,
    -- The current step (index into steps) and when it began.
    step            BIGINT  NOT NULL,
    step_started_at BIGINT  NOT NULL,
    -- When the scheduler looks at a running plan next.
    next_at         BIGINT,
    -- Why the plan is paused, was rolled back or aborted.
    reason          TEXT,
    -- The split rule before the plan (abort and rollback restore it) and as
    -- the plan last wrote it (an edit by anyone else pauses the plan).
    before_rule     TEXT    NOT NULL,
    rule            TEXT    NOT NULL,
    -- Units first exposed per variant when the step began (the step's SRM check).
    baseline        TEXT    NOT NULL DEFAULT '{}',
    -- Guardrail evaluations over time, bounded (the chart).
    history         TEXT    NOT NULL DEFAULT '[]',
    revision        BIGINT  NOT NULL DEFAULT 1,
    created_at      BIGINT  NOT NULL,
    created_by      TEXT    NOT NULL,
    updated_at      BIGINT  NOT NULL,
    updated_by      TEXT    NOT NULL
);
CREATE INDEX ramps_flag ON ramps (flag_id, environment_id);
CREATE INDEX ramps_due ON ramps (next_at) WHERE state = 'running';
