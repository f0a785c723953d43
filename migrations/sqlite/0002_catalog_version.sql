-- The flag list is cached per "catalog version": the newest audit entry about
-- a flag definition. This index makes reading it a single index probe.
CREATE INDEX audit_log_entity ON audit_log (entity, id);
