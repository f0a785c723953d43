-- Issue 13 (ingest throughput): `experiment_units` loses its foreign key to
-- `experiments`. Ingest inserts one row per newly exposed unit, and the key
-- cost one trigger call and one probe of `experiments` per row (about 4 µs
-- each here: a third of the time of a batch's unit insert). What it
-- guaranteed is kept by the only code that deletes experiments
-- (`delete_experiment`): it takes the ingest lock, so no ingest transaction
-- runs beside it, and deletes the experiment's units with it. Ingest writes
-- units only for experiments it has just read, under that lock.
ALTER TABLE experiment_units DROP CONSTRAINT experiment_units_experiment_id_fkey;
