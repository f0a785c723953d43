-- Experiments (issue 5), Postgres; mirrors the SQLite migration: metric definitions and experiments bound to a split rule.

CREATE TABLE metrics (
    id             BIGSERIAL PRIMARY KEY,
    key            TEXT COLLATE "C" NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    event          TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    good_direction TEXT    NOT NULL,
    guardrail      BOOLEAN NOT NULL DEFAULT FALSE,
    revision       BIGINT NOT NULL DEFAULT 1,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE experiments (
    id                        BIGSERIAL PRIMARY KEY,
    key                       TEXT COLLATE "C" NOT NULL UNIQUE,
    name                      TEXT    NOT NULL,
    hypothesis                TEXT    NOT NULL DEFAULT '',
    flag_id                   BIGINT NOT NULL REFERENCES flags (id) ON DELETE RESTRICT,
    environment_id            BIGINT NOT NULL REFERENCES environments (id) ON DELETE RESTRICT,
    rule_id                   TEXT    NOT NULL,
    control_variant           TEXT    NOT NULL,
    primary_metric_id         BIGINT NOT NULL REFERENCES metrics (id) ON DELETE RESTRICT,
    analysis                  TEXT    NOT NULL,
    alpha                     DOUBLE PRECISION    NOT NULL DEFAULT 0.05,
    minimum_detectable_effect DOUBLE PRECISION,
    state                     TEXT    NOT NULL DEFAULT 'draft',
    started_at                BIGINT,
    stopped_at                BIGINT,
    split_snapshot            TEXT,
    revision                  BIGINT NOT NULL DEFAULT 1,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
CREATE INDEX experiments_flag ON experiments (flag_id, environment_id);

-- Secondary and guardrail metrics of an experiment (role: secondary|guardrail).
CREATE TABLE experiment_metrics (
    experiment_id BIGINT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    metric_id     BIGINT NOT NULL REFERENCES metrics (id) ON DELETE RESTRICT,
    role          TEXT    NOT NULL,
    PRIMARY KEY (experiment_id, metric_id, role)
);
CREATE INDEX experiment_metrics_metric ON experiment_metrics (metric_id);
