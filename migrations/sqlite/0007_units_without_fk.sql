-- Mirrors the Postgres migration (issue 13): `experiment_units` loses its
-- foreign key to `experiments`, so both backends have the same schema and
-- the same rule: `delete_experiment` deletes an experiment's units with it
-- (SQLite has one writing connection, so no ingest runs beside it). SQLite
-- cannot drop a constraint: the table is rebuilt as it was, without it.
CREATE TABLE experiment_units_new (
    experiment_id INTEGER NOT NULL,
    unit          TEXT    NOT NULL,
    variant       TEXT    NOT NULL,
    exposed_at    INTEGER NOT NULL,
    excluded      INTEGER NOT NULL DEFAULT 0,
    counts        TEXT    NOT NULL DEFAULT '[]',
    totals        TEXT    NOT NULL DEFAULT '[]',
    PRIMARY KEY (experiment_id, unit)
) WITHOUT ROWID;

INSERT INTO experiment_units_new (experiment_id, unit, variant, exposed_at, excluded, counts, totals)
SELECT experiment_id, unit, variant, exposed_at, excluded, counts, totals FROM experiment_units;

DROP TABLE experiment_units;

ALTER TABLE experiment_units_new RENAME TO experiment_units;
