-- Results over time (issue 15): each running experiment's per-variant
-- sufficient statistics, copied from variant_units and variant_metrics
-- about once an hour and when it stops, one row per UTC day (the day's last
-- copy wins), so the page can draw the effect and its interval day by day.
-- metric_id 0 holds the variant's units (n) and excluded units (sum).
-- Mirrors the other backend's migration.
CREATE TABLE result_snapshots (
    experiment_id BIGINT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    -- Days since 1970-01-01 (UTC).
    day           BIGINT NOT NULL,
    metric_id     BIGINT NOT NULL,
    variant       TEXT NOT NULL,
    n             BIGINT NOT NULL,
    sum           DOUBLE PRECISION NOT NULL,
    sum_sq        DOUBLE PRECISION NOT NULL,
    taken_at      BIGINT NOT NULL,
    PRIMARY KEY (experiment_id, day, metric_id, variant)
);
