-- The teacher's nudges (api/nudges.py): a reminder email to a stalled learner with a fresh
-- one-time sign-in link, at most one a day per learner, every one logged. A row is claimed
-- ('sending') by the statement that checks the day's limit, so two teachers clicking at once
-- send one email; a failed send is marked so and does not count.
CREATE TABLE IF NOT EXISTS nudges (
  id          TEXT PRIMARY KEY,
  learner_id  TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  step_id     TEXT,                              -- the step the learner was stalled on
  sent_at     TEXT NOT NULL,
  sent_by     TEXT NOT NULL,                     -- admin (the API, the admin page) | cli
  status      TEXT NOT NULL,                     -- sending | sent | failed
  error       TEXT                               -- why a send failed
);
CREATE INDEX IF NOT EXISTS nudges_learner ON nudges (learner_id, sent_at);
