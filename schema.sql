-- Sillon's one schema, valid on SQLite and on Cloudflare D1.
-- The learning API (issue 3) extends it; every table is created IF NOT EXISTS so it can be
-- applied to an existing database.

CREATE TABLE IF NOT EXISTS learners (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  email       TEXT NOT NULL UNIQUE,
  team_id     TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS video_views (
  id          INTEGER PRIMARY KEY,
  learner_id  TEXT NOT NULL REFERENCES learners(id),
  step_id     TEXT NOT NULL,
  started_at  REAL NOT NULL,
  ended_at    REAL NOT NULL,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS quiz_attempts (
  id          INTEGER PRIMARY KEY,
  learner_id  TEXT NOT NULL REFERENCES learners(id),
  step_id     TEXT NOT NULL,
  score       REAL NOT NULL,
  passed      INTEGER NOT NULL,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS badges (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  rule        TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS xp_logs (
  id          INTEGER PRIMARY KEY,
  learner_id  TEXT NOT NULL REFERENCES learners(id),
  amount      INTEGER NOT NULL,
  cause       TEXT NOT NULL,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (learner_id, cause)
);

INSERT OR IGNORE INTO badges (id, name, rule) VALUES
  ('first-video', 'First Video', 'Complete your first video'),
  ('video-5', 'Video 5', 'Complete 5 videos'),
  ('video-25', 'Video 25', 'Complete 25 videos'),
  ('first-quiz', 'First Quiz', 'Pass your first quiz'),
  ('quiz-master', 'Quiz Master', 'Pass 10 quizzes'),
  ('perfectionist', 'Perfectionist', 'Score 100% on a quiz'),
  ('streak-7', 'Streak 7', 'Learn 7 days in a row'),
  ('streak-30', 'Streak 30', 'Learn 30 days in a row'),
  ('som-complete', 'SOM Complete', 'Complete a module'),
  ('expert', 'Expert', 'Complete 5 modules');
