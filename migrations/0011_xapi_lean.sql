-- xAPI statements at two rows written each instead of four (issue 18): the table's rowid
-- order is time order, so neither `stored` nor the forwarder needs an index.
--
-- `seq` is now at least the statement's `stored` in milliseconds since 1970 times 1024, and
-- above every seq before it (api/sql_xapi.py `record_statement`): paging, `since` and the
-- retention of old statements are rowid ranges. The forwarder keeps its place in
-- `xapi_outbox`: every statement up to that seq has been delivered to the LRS (or refused by
-- it for good), so delivering a batch writes one row, not two a statement.
DROP INDEX IF EXISTS xapi_statements_stored;
DROP INDEX IF EXISTS xapi_statements_outbox;

-- Statements stored before: renumbered by their time (the old seq's low bits break ties).
UPDATE xapi_statements
  SET seq = (CAST(strftime('%s', stored) AS INTEGER) * 1000 + CAST(substr(stored, 21, 3) AS INTEGER))
            * 1024 + seq % 1024;

CREATE TABLE IF NOT EXISTS xapi_outbox (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL                          -- delivered up to here (0: nothing yet)
);
-- Just before the first statement not delivered yet (one delivered after it is sent again:
-- its id is the LRS's key, which keeps the first).
INSERT OR IGNORE INTO xapi_outbox (id, seq) VALUES (1, COALESCE(
  (SELECT MIN(seq) - 1 FROM xapi_statements WHERE forwarded_at IS NULL),
  (SELECT MAX(seq) FROM xapi_statements),
  0));

ALTER TABLE xapi_statements DROP COLUMN forwarded_at;
