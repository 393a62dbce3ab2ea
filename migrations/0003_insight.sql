-- Cohort insight (api/insight.py) and the course version each step was finished under.
-- A completion now remembers the learner's team, the course version they followed and how long
-- the step was open; rows recorded before this migration keep NULL for the last two (unknown).
ALTER TABLE completions ADD COLUMN team_id TEXT;
ALTER TABLE completions ADD COLUMN course_version TEXT;
ALTER TABLE completions ADD COLUMN seconds REAL;
UPDATE completions
  SET team_id = (SELECT l.team_id FROM learners l WHERE l.id = completions.learner_id);
-- A team's completions of a step in time order: its exact median is one LIMIT/OFFSET seek.
CREATE INDEX IF NOT EXISTS completions_team ON completions (team_id, step_id, seconds);

-- Learners per team and course version ('' until first placed), kept by triggers so the teams
-- and versions lists read one row per (team, version), never every learner.
CREATE TABLE IF NOT EXISTS cohort (
  team_id         TEXT NOT NULL,
  course_version  TEXT NOT NULL,
  learners        INTEGER NOT NULL,
  PRIMARY KEY (team_id, course_version)
);
INSERT INTO cohort (team_id, course_version, learners)
  SELECT team_id, COALESCE(course_version, ''), COUNT(*) FROM learners
  GROUP BY team_id, COALESCE(course_version, '');

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
-- the funnel (done), how many of those have a time (timed: the medians' ranks) and quiz first
-- tries (tried, passed). A team's insight reads one row per step here, not its completions.
CREATE TABLE IF NOT EXISTS team_steps (
  team_id  TEXT NOT NULL,
  step_id  TEXT NOT NULL,
  done     INTEGER NOT NULL DEFAULT 0,
  timed    INTEGER NOT NULL DEFAULT 0,
  tried    INTEGER NOT NULL DEFAULT 0,
  passed   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (team_id, step_id)
);

INSERT INTO team_steps (team_id, step_id, done, timed)
  SELECT team_id, step_id, COUNT(*), COUNT(seconds) FROM completions
  WHERE team_id IS NOT NULL GROUP BY team_id, step_id;
INSERT INTO team_steps (team_id, step_id, tried, passed)
  SELECT l.team_id, a.step_id, COUNT(*), SUM(a.passed) FROM quiz_attempts a
  JOIN learners l ON l.id = a.learner_id
  WHERE a.id = (SELECT MIN(b.id) FROM quiz_attempts b
    WHERE b.learner_id = a.learner_id AND b.step_id = a.step_id)
  GROUP BY l.team_id, a.step_id
  ON CONFLICT (team_id, step_id) DO UPDATE SET tried = excluded.tried, passed = excluded.passed;

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
