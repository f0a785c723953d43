-- Event ingest and attribution (issue 5), Postgres; mirrors the SQLite migration: batch idempotence, accepted-event
-- counters, each unit's first exposure per experiment, per-unit metric
-- aggregates, and the per-variant sufficient statistics results read.

-- One row per accepted batch id and environment, with its answer, so a retry
-- is answered the same and counted once.
CREATE TABLE event_batches (
    environment_id BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    batch_id       TEXT COLLATE "C" NOT NULL,
    received_at    BIGINT  NOT NULL,
    accepted       BIGINT  NOT NULL,
    rejected       TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (environment_id, batch_id)
);
CREATE INDEX event_batches_received ON event_batches (received_at);

-- Accepted events per environment and kind (exposure, track).
CREATE TABLE event_counts (
    environment_id BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    kind           TEXT COLLATE "C" NOT NULL,
    accepted       BIGINT  NOT NULL,
    PRIMARY KEY (environment_id, kind)
);

-- A unit's first exposure (variant, time) per experiment; excluded once it
-- was exposed to a second variant.
CREATE TABLE experiment_units (
    experiment_id BIGINT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    unit          TEXT COLLATE "C" NOT NULL,
    variant       TEXT COLLATE "C" NOT NULL,
    exposed_at    BIGINT  NOT NULL,
    excluded      BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (experiment_id, unit)
);

-- A unit's events for one metric since its exposure: how many, and the sum
-- of their values.
CREATE TABLE unit_metrics (
    experiment_id BIGINT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    metric_id     BIGINT  NOT NULL,
    unit          TEXT COLLATE "C" NOT NULL,
    count         BIGINT  NOT NULL,
    total         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (experiment_id, metric_id, unit)
);

-- Units per variant (exposed and kept; excluded).
CREATE TABLE variant_units (
    experiment_id BIGINT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    variant       TEXT COLLATE "C" NOT NULL,
    units         BIGINT  NOT NULL,
    excluded      BIGINT  NOT NULL,
    PRIMARY KEY (experiment_id, variant)
);

-- Per variant and metric: n (units with a value, used by `mean` metrics),
-- Σx and Σx² over the units' metric values.
CREATE TABLE variant_metrics (
    experiment_id BIGINT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    metric_id     BIGINT  NOT NULL,
    variant       TEXT COLLATE "C" NOT NULL,
    n             BIGINT  NOT NULL,
    sum           DOUBLE PRECISION NOT NULL,
    sum_sq        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (experiment_id, metric_id, variant)
);
