-- Event ingest and attribution (issue 5): batch idempotence, accepted-event
-- counters, each unit's first exposure per experiment, per-unit metric
-- aggregates, and the per-variant sufficient statistics results read.

-- One row per accepted batch id and environment, with its answer, so a retry
-- is answered the same and counted once.
CREATE TABLE event_batches (
    environment_id INTEGER NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    batch_id       TEXT    NOT NULL,
    received_at    INTEGER NOT NULL,
    accepted       INTEGER NOT NULL,
    rejected       TEXT    NOT NULL,
    PRIMARY KEY (environment_id, batch_id)
) WITHOUT ROWID;
CREATE INDEX event_batches_received ON event_batches (received_at);

-- Accepted events per environment and kind (exposure, track).
CREATE TABLE event_counts (
    environment_id INTEGER NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    accepted       INTEGER NOT NULL,
    PRIMARY KEY (environment_id, kind)
) WITHOUT ROWID;

-- A unit's first exposure (variant, time) per experiment; excluded once it
-- was exposed to a second variant.
CREATE TABLE experiment_units (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    unit          TEXT    NOT NULL,
    variant       TEXT    NOT NULL,
    exposed_at    INTEGER NOT NULL,
    excluded      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment_id, unit)
) WITHOUT ROWID;

-- A unit's events for one metric since its exposure: how many, and the sum
-- of their values.
CREATE TABLE unit_metrics (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    metric_id     INTEGER NOT NULL,
    unit          TEXT    NOT NULL,
    count         INTEGER NOT NULL,
    total         REAL    NOT NULL,
    PRIMARY KEY (experiment_id, metric_id, unit)
) WITHOUT ROWID;

-- Units per variant (exposed and kept; excluded).
CREATE TABLE variant_units (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    variant       TEXT    NOT NULL,
    units         INTEGER NOT NULL,
    excluded      INTEGER NOT NULL,
    PRIMARY KEY (experiment_id, variant)
) WITHOUT ROWID;

-- Per variant and metric: n (units with a value, used by `mean` metrics),
-- Σx and Σx² over the units' metric values.
CREATE TABLE variant_metrics (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    metric_id     INTEGER NOT NULL,
    variant       TEXT    NOT NULL,
    n             INTEGER NOT NULL,
    sum           REAL    NOT NULL,
    sum_sq        REAL    NOT NULL,
    PRIMARY KEY (experiment_id, metric_id, variant)
) WITHOUT ROWID;
