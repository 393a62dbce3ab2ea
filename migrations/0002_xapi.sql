-- xAPI: every learning event also as an xAPI statement (api/xapi.py), written in the same batch
-- as the event. `forwarded_at` is NULL until the optional forwarder delivered it to an LRS.
CREATE TABLE IF NOT EXISTS xapi_statements (
  seq           INTEGER PRIMARY KEY,             -- insertion order: the paging cursor
  id            TEXT NOT NULL UNIQUE,            -- the statement's UUID (derived, so replays dedupe)
  learner_id    TEXT NOT NULL,
  stored        TEXT NOT NULL,                   -- server time, ISO-8601 UTC
  statement     TEXT NOT NULL,                   -- JSON
  forwarded_at  TEXT
);
CREATE INDEX IF NOT EXISTS xapi_statements_stored ON xapi_statements (stored, seq);
CREATE INDEX IF NOT EXISTS xapi_statements_outbox ON xapi_statements (seq) WHERE forwarded_at IS NULL;
