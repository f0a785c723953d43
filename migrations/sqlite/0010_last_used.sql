-- When each admin token and SDK key was last used (issue 15): epoch
-- milliseconds, written at most about once a minute per credential (see
-- server/src/state/usage.rs), NULL until first used.
ALTER TABLE api_tokens ADD COLUMN last_used_at BIGINT;
ALTER TABLE sdk_keys ADD COLUMN last_used_at BIGINT;
