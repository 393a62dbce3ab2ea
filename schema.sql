-- Sillon's one schema, valid on SQLite and on Cloudflare D1: the end state that migrations/
-- applied in order reach (0001 is this file as first released; tests/test_schema.py compares
-- the two). Statements are idempotent (IF NOT EXISTS, OR IGNORE).
-- Times are ISO-8601 UTC text ('2026-11-24T20:04:05.123Z'); days are 'YYYY-MM-DD'.

-- A published course: the private manifest the build writes, one row per version.
CREATE TABLE IF NOT EXISTS course_versions (
  seq           INTEGER PRIMARY KEY,          -- publication order; the highest is current
  version       TEXT NOT NULL UNIQUE,         -- the manifest's content hash
  manifest      TEXT NOT NULL,                -- JSON: steps in order, durations, answer keys
  published_at  TEXT NOT NULL
);

-- Learners, with their progress pointer and the counters awards read (one row read per rule).
CREATE TABLE IF NOT EXISTS learners (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  email           TEXT NOT NULL UNIQUE,
  team_id         TEXT NOT NULL,
  tz              TEXT NOT NULL DEFAULT 'UTC',   -- IANA zone: streak days are local days
  invite_hash     TEXT UNIQUE,                   -- before 0004 (now signin_links): unused
  open_step       TEXT,                          -- the one open step (NULL: finished)
  course_version  TEXT,                          -- version open_step was computed for
  opened_at       TEXT,                          -- when open_step opened
  xp              INTEGER NOT NULL DEFAULT 0,    -- = SUM(xp_logs.amount), kept by a trigger
  videos_done     INTEGER NOT NULL DEFAULT 0,
  quizzes_passed  INTEGER NOT NULL DEFAULT 0,
  modules_done    INTEGER NOT NULL DEFAULT 0,
  streak          INTEGER NOT NULL DEFAULT 0,
  streak_best     INTEGER NOT NULL DEFAULT 0,
  streak_day      TEXT,                          -- last local day with a learning event
  created_at      TEXT NOT NULL,
  active_at       TEXT,                          -- last seen, to the hour (NULL: never signed in)
  last_move       TEXT                           -- JSON {eventId, answer} of the last Next
);
CREATE INDEX IF NOT EXISTS learners_team ON learners (team_id, xp DESC);

-- A signed-in browser. It ends 30 days after its last use (expires_at = last_seen + 30 days;
-- last_seen is written at most once an hour: api/signin.py).
CREATE TABLE IF NOT EXISTS sessions (
  token_hash  TEXT PRIMARY KEY,                  -- sha256 of the cookie value
  learner_id  TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  created_at  TEXT NOT NULL,
  expires_at  TEXT NOT NULL,
  last_seen   TEXT,
  device      TEXT                               -- from the User-Agent, shortened
);
CREATE INDEX IF NOT EXISTS sessions_learner ON sessions (learner_id);

-- learners.active_at follows the learner's sessions (the cohort insight's "last active"):
-- set when a session opens and each time one is seen again (at most once an hour). Cloudflare
-- Access learners have no session: api/context.py writes it for them, as often.
CREATE TRIGGER IF NOT EXISTS learners_signed_in AFTER INSERT ON sessions
BEGIN
  UPDATE learners SET active_at = COALESCE(NEW.last_seen, NEW.created_at)
    WHERE id = NEW.learner_id
      AND (active_at IS NULL OR active_at < COALESCE(NEW.last_seen, NEW.created_at));
END;

CREATE TRIGGER IF NOT EXISTS learners_seen AFTER UPDATE OF last_seen ON sessions
  WHEN NEW.last_seen IS NOT NULL
BEGIN
  UPDATE learners SET active_at = NEW.last_seen
    WHERE id = NEW.learner_id AND (active_at IS NULL OR active_at < NEW.last_seen);
END;

-- One-time sign-in links: the invite, a device link (10 minutes), an emailed link (15 minutes).
-- The batch that opens a session marks its link used, only if it was not (api/sql.py
-- redeem_link), so one link opens one session however many requests race for it.
CREATE TABLE IF NOT EXISTS signin_links (
  token_hash    TEXT PRIMARY KEY,                -- sha256 of the link's token
  learner_id    TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  kind          TEXT NOT NULL,                   -- invite | device | email
  created_at    TEXT NOT NULL,
  expires_at    TEXT,                            -- NULL: an invite, until used or re-issued
  used_at       TEXT,                            -- set once, by the batch that opens the session
  session_hash  TEXT                             -- the session it opened
);
CREATE INDEX IF NOT EXISTS signin_links_learner ON signin_links (learner_id);

-- Steps a learner finished, in the order finished. A fact recorded once, with what the cohort
-- insight reads (api/insight.py): the learner's team, the course version they followed and how
-- long the step was open, all copied from the learner's row by the INSERT itself. NULL in rows
-- recorded before migration 0003 (team_id was filled in by it).
CREATE TABLE IF NOT EXISTS completions (
  learner_id      TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  step_id         TEXT NOT NULL,
  kind            TEXT NOT NULL,                 -- video | lesson | quiz
  module_id       TEXT NOT NULL,
  completed_at    TEXT NOT NULL,
  team_id         TEXT,
  course_version  TEXT,                          -- course_versions.version followed
  seconds         REAL,                          -- completed_at - the learner's opened_at
  PRIMARY KEY (learner_id, step_id)
);
-- A team's completions step by step in time order: the insight's exact medians read them in
-- one scan of the team's entries (api/sql.py step_times).
CREATE INDEX IF NOT EXISTS completions_team ON completions (team_id, step_id, seconds);

CREATE TABLE IF NOT EXISTS module_completions (
  learner_id    TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  module_id     TEXT NOT NULL,
  completed_at  TEXT NOT NULL,
  PRIMARY KEY (learner_id, module_id)
);

-- Watched media intervals of a video step, merged (JSON [[start, end], ...] in media seconds).
CREATE TABLE IF NOT EXISTS video_views (
  learner_id     TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  step_id        TEXT NOT NULL,
  intervals      TEXT NOT NULL,
  watched        REAL NOT NULL,                  -- length of the union, seconds
  first_play_at  TEXT NOT NULL,                  -- server time of the first report
  updated_at     TEXT NOT NULL,
  revision       INTEGER NOT NULL DEFAULT 0,     -- optimistic guard between read and write
  PRIMARY KEY (learner_id, step_id)
);

CREATE TABLE IF NOT EXISTS quiz_attempts (
  id          INTEGER PRIMARY KEY,
  learner_id  TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  step_id     TEXT NOT NULL,
  source      TEXT NOT NULL,                     -- builtin | tally
  score       REAL NOT NULL,
  passed      INTEGER NOT NULL,
  perfect     INTEGER NOT NULL,
  answers     TEXT NOT NULL,                     -- JSON
  created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS quiz_attempts_learner ON quiz_attempts (learner_id, step_id);

-- An attempt in progress of a quiz that draws its questions (`draw: k`): the questions and the
-- choice order the server showed, JSON [[pool index, [choice indexes in shown order]], ...],
-- kept until that attempt is graded; `id` is random, so the grading batch can check the draw.
CREATE TABLE IF NOT EXISTS quiz_draws (
  learner_id      TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  step_id         TEXT NOT NULL,
  id              TEXT NOT NULL,
  course_version  TEXT NOT NULL,
  questions       TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (learner_id, step_id)
);

-- Never holds a row: a statement inserting ok = 0 here aborts its whole batch (optimistic
-- concurrency without transactions, see sql.video_view_unchanged).
CREATE TABLE IF NOT EXISTS guards (
  ok  INTEGER NOT NULL CHECK (ok = 1)
);

-- One row that /api/health rewrites now and then on the local backend (api/writer.py), to
-- learn whether the database takes writes (a read-only file or a full disk still reads).
CREATE TABLE IF NOT EXISTS health (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at  TEXT NOT NULL
);

-- Client event ids already answered: a replay gets the stored answer and changes nothing.
CREATE TABLE IF NOT EXISTS events (
  learner_id  TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  kind        TEXT NOT NULL,
  response    TEXT NOT NULL,                     -- JSON answered the first time
  created_at  TEXT NOT NULL,
  PRIMARY KEY (learner_id, event_id)
);

-- xAPI: every learning event also as an xAPI statement (api/xapi.py), written in the same batch
-- as the event. Its rowid order is time order (api/sql_xapi.py `record_statement`), so paging,
-- `since`, retention and the forwarder read rowid ranges: two rows written a statement.
CREATE TABLE IF NOT EXISTS xapi_statements (
  seq           INTEGER PRIMARY KEY,             -- >= stored's ms since 1970 x 1024, increasing
  id            TEXT NOT NULL UNIQUE,            -- the statement's UUID (derived, so replays dedupe)
  learner_id    TEXT NOT NULL,
  stored        TEXT NOT NULL,                   -- server time, ISO-8601 UTC
  statement     TEXT NOT NULL                    -- JSON
);

-- The optional forwarder's place (api/lrs.py): every statement up to `seq` was delivered to
-- the LRS or refused by it for good.
CREATE TABLE IF NOT EXISTS xapi_outbox (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL                          -- delivered up to here (0: nothing yet)
);
INSERT OR IGNORE INTO xapi_outbox (id, seq) VALUES (1, 0);

CREATE TABLE IF NOT EXISTS badges (
  id     TEXT PRIMARY KEY,
  name   TEXT NOT NULL,
  rule   TEXT NOT NULL,
  sort   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS learner_badges (
  learner_id  TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  badge_id    TEXT NOT NULL REFERENCES badges (id),
  earned_at   TEXT NOT NULL,
  PRIMARY KEY (learner_id, badge_id)
);

-- Every XP award, once per cause ('video:<step>', 'quiz:<step>', 'module:<id>', 'day:<date>').
CREATE TABLE IF NOT EXISTS xp_logs (
  id          INTEGER PRIMARY KEY,
  learner_id  TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  amount      INTEGER NOT NULL,
  cause       TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  UNIQUE (learner_id, cause)
);

-- A learner's XP total at the end of each UTC day they earned any: a period's XP is the total
-- now minus the total before the period, one indexed row per learner.
CREATE TABLE IF NOT EXISTS xp_history (
  learner_id  TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  day         TEXT NOT NULL,
  total       INTEGER NOT NULL,
  PRIMARY KEY (learner_id, day)
);

CREATE TRIGGER IF NOT EXISTS xp_logs_total AFTER INSERT ON xp_logs
BEGIN
  UPDATE learners SET xp = xp + NEW.amount WHERE id = NEW.learner_id;
  INSERT INTO xp_history (learner_id, day, total)
    VALUES (NEW.learner_id, substr(NEW.created_at, 1, 10),
            (SELECT xp FROM learners WHERE id = NEW.learner_id))
    ON CONFLICT (learner_id, day) DO UPDATE SET total = excluded.total;
END;

CREATE TRIGGER IF NOT EXISTS completions_count AFTER INSERT ON completions
BEGIN
  UPDATE learners
    SET videos_done = videos_done + (NEW.kind = 'video'),
        quizzes_passed = quizzes_passed + (NEW.kind = 'quiz')
    WHERE id = NEW.learner_id;
END;

CREATE TRIGGER IF NOT EXISTS module_completions_count AFTER INSERT ON module_completions
BEGIN
  UPDATE learners SET modules_done = modules_done + 1 WHERE id = NEW.learner_id;
END;

-- Learners per team and course version ('' until first placed), kept by triggers so the teams
-- and versions lists read one row per (team, version), never every learner.
CREATE TABLE IF NOT EXISTS cohort (
  team_id         TEXT NOT NULL,
  course_version  TEXT NOT NULL,
  learners        INTEGER NOT NULL,
  PRIMARY KEY (team_id, course_version)
);

CREATE TRIGGER IF NOT EXISTS cohort_enroll AFTER INSERT ON learners
BEGIN
  INSERT INTO cohort (team_id, course_version, learners)
    VALUES (NEW.team_id, COALESCE(NEW.course_version, ''), 1)
    ON CONFLICT (team_id, course_version) DO UPDATE SET learners = learners + 1;
END;

CREATE TRIGGER IF NOT EXISTS cohort_leave AFTER DELETE ON learners
BEGIN
  UPDATE cohort SET learners = learners - 1
    WHERE team_id = OLD.team_id AND course_version = COALESCE(OLD.course_version, '');
END;

CREATE TRIGGER IF NOT EXISTS cohort_move AFTER UPDATE OF team_id, course_version ON learners
  WHEN OLD.team_id IS NOT NEW.team_id OR OLD.course_version IS NOT NEW.course_version
BEGIN
  UPDATE cohort SET learners = learners - 1
    WHERE team_id = OLD.team_id AND course_version = COALESCE(OLD.course_version, '');
  INSERT INTO cohort (team_id, course_version, learners)
    VALUES (NEW.team_id, COALESCE(NEW.course_version, ''), 1)
    ON CONFLICT (team_id, course_version) DO UPDATE SET learners = learners + 1;
END;

-- Per team and step, kept by triggers in the batch that records the completion or the attempt:
-- the funnel (done), how many of those have a time (timed; no longer read: the medians scan the
-- completions, see completions_team) and quiz first tries (tried, passed). A team's insight
-- reads one row per step here for its funnel and quiz rates, not its completions.
CREATE TABLE IF NOT EXISTS team_steps (
  team_id  TEXT NOT NULL,
  step_id  TEXT NOT NULL,
  done     INTEGER NOT NULL DEFAULT 0,
  timed    INTEGER NOT NULL DEFAULT 0,
  tried    INTEGER NOT NULL DEFAULT 0,
  passed   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (team_id, step_id)
);

CREATE TRIGGER IF NOT EXISTS team_steps_done AFTER INSERT ON completions
  WHEN NEW.team_id IS NOT NULL
BEGIN
  INSERT INTO team_steps (team_id, step_id, done, timed)
    VALUES (NEW.team_id, NEW.step_id, 1, NEW.seconds IS NOT NULL)
    ON CONFLICT (team_id, step_id) DO UPDATE
    SET done = done + 1, timed = timed + excluded.timed;
END;

CREATE TRIGGER IF NOT EXISTS team_steps_undone AFTER DELETE ON completions
  WHEN OLD.team_id IS NOT NULL
BEGIN
  UPDATE team_steps SET done = done - 1, timed = timed - (OLD.seconds IS NOT NULL)
    WHERE team_id = OLD.team_id AND step_id = OLD.step_id;
END;

CREATE TRIGGER IF NOT EXISTS team_steps_first_try AFTER INSERT ON quiz_attempts
  WHEN NOT EXISTS (SELECT 1 FROM quiz_attempts
    WHERE learner_id = NEW.learner_id AND step_id = NEW.step_id AND id < NEW.id)
BEGIN
  INSERT INTO team_steps (team_id, step_id, tried, passed)
    SELECT team_id, NEW.step_id, 1, NEW.passed FROM learners WHERE id = NEW.learner_id
    ON CONFLICT (team_id, step_id) DO UPDATE
    SET tried = tried + 1, passed = passed + excluded.passed;
END;

INSERT OR IGNORE INTO badges (id, name, rule, sort) VALUES
  ('first-video', 'First Video', 'Finish your first video', 1),
  ('video-5', 'Video 5', 'Finish 5 videos', 2),
  ('video-25', 'Video 25', 'Finish 25 videos', 3),
  ('first-quiz', 'First Quiz', 'Pass your first quiz', 4),
  ('quiz-master', 'Quiz Master', 'Pass 5 quizzes', 5),
  ('perfectionist', 'Perfectionist', 'Score 100% on a quiz at the first attempt', 6),
  ('streak-7', 'Streak 7', 'Learn 7 days in a row', 7),
  ('streak-30', 'Streak 30', 'Learn 30 days in a row', 8),
  ('som-complete', 'SOM Complete', 'Finish a module (SOM)', 9),
  ('expert', 'Expert', 'Finish 5 modules (SOMs)', 10);

-- The learner's notebook: one note per learner and step, theirs alone (api/notes.py).
CREATE TABLE IF NOT EXISTS notes (
  learner_id  TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  step_id     TEXT NOT NULL,
  text        TEXT NOT NULL,                     -- Markdown, as typed (at most 20 KB)
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (learner_id, step_id)
);

-- Certificates of completion (api/certificates.py): an Open Badges 3.0 credential, signed and
-- issued once per learner. The row outlives nothing it should not: no cascade from learners, so
-- a certificate's revocation bit (status_index) is never handed to another certificate.
CREATE TABLE IF NOT EXISTS certificates (
  id              TEXT PRIMARY KEY,              -- random uuid: the credential is urn:uuid:<id>
  learner_id      TEXT NOT NULL UNIQUE,          -- one certificate per learner, for good
  status_index    INTEGER NOT NULL UNIQUE,       -- its bit in the revocation status list
  course_version  TEXT NOT NULL,                 -- the version the learner finished
  credential      TEXT NOT NULL,                 -- the compact JWS, exactly as issued
  issued_at       TEXT NOT NULL,
  revoked_at      TEXT,                          -- set once, by the teacher (never undone)
  revoked_reason  TEXT
);

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
