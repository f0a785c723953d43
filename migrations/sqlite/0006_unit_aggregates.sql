-- Each unit's metric aggregates move into its exposure row (issue 5: ingest
-- throughput); mirrors the Postgres migration. One row per experiment and
-- unit instead of one per metric as well: a unit first seen in a
-- transaction is written once, with its aggregates.
--
-- `counts` and `totals` are JSON arrays: element i is the number of the
-- unit's events for the experiment's i-th metric since its exposure and the
-- sum of their values; metrics are ordered by id (the primary and every
-- other metric of the experiment, each once; they cannot change once it
-- runs). Shorter arrays read as zeros.
ALTER TABLE experiment_units ADD COLUMN counts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE experiment_units ADD COLUMN totals TEXT NOT NULL DEFAULT '[]';

WITH positions AS (
    SELECT ids.experiment_id, ids.metric_id,
           row_number() OVER (PARTITION BY ids.experiment_id ORDER BY ids.metric_id) AS pos
    FROM (SELECT id AS experiment_id, primary_metric_id AS metric_id FROM experiments
          UNION
          SELECT experiment_id, metric_id FROM experiment_metrics) AS ids
),
aggregates AS (
    SELECT experiment_id, unit, json_group_array(count) AS counts, json_group_array(total) AS totals
    FROM (
        SELECT u.experiment_id, u.unit, COALESCE(m.count, 0) AS count, COALESCE(m.total, 0.0) AS total
        FROM (SELECT DISTINCT experiment_id, unit FROM unit_metrics) AS u
        JOIN positions AS p ON p.experiment_id = u.experiment_id
        LEFT JOIN unit_metrics AS m
            ON m.experiment_id = u.experiment_id AND m.metric_id = p.metric_id AND m.unit = u.unit
        ORDER BY u.experiment_id, u.unit, p.pos
    )
    GROUP BY experiment_id, unit
)
UPDATE experiment_units SET counts = a.counts, totals = a.totals
FROM aggregates AS a
WHERE experiment_units.experiment_id = a.experiment_id AND experiment_units.unit = a.unit;

DROP TABLE unit_metrics;
