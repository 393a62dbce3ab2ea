-- When each learner was last seen (the cohort insight's "last active", api/insight.py): NULL
-- until they first sign in, so a learner who never opened their invite is told apart from one
-- stuck on the first step. Kept to the hour, like sessions.last_seen: by the triggers below
-- for every session opened or seen again, and by api/context.py for Cloudflare Access.
ALTER TABLE learners ADD COLUMN active_at TEXT;
UPDATE learners SET active_at = (SELECT MAX(t) FROM (
    SELECT COALESCE(s.last_seen, s.created_at) AS t FROM sessions s
      WHERE s.learner_id = learners.id
    UNION ALL SELECT k.used_at FROM signin_links k WHERE k.learner_id = learners.id
    UNION ALL SELECT e.created_at FROM events e WHERE e.learner_id = learners.id
    UNION ALL SELECT c.completed_at FROM completions c WHERE c.learner_id = learners.id));

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
