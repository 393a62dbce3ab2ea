-- The learner's notebook: one note per learner and step, theirs alone (api/notes.py).
CREATE TABLE IF NOT EXISTS notes (
  learner_id  TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  step_id     TEXT NOT NULL,
  text        TEXT NOT NULL,                     -- Markdown, as typed (at most 20 KB)
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (learner_id, step_id)
);
