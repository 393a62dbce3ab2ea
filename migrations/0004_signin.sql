-- The sign-in lifecycle (api/signin.py): every way in is a one-time link, stored hashed, that
-- opens exactly one session; sessions slide 30 days from their last use.
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

ALTER TABLE sessions ADD COLUMN last_seen TEXT;  -- written at most once an hour (api/signin.py)
ALTER TABLE sessions ADD COLUMN device TEXT;     -- from the User-Agent, shortened
UPDATE sessions SET last_seen = created_at;

-- Invites of learners enrolled before this migration become links. One that opened a session
-- still recorded counts as used; an unused one signs in once.
INSERT OR IGNORE INTO signin_links (token_hash, learner_id, kind, created_at, used_at)
  SELECT invite_hash, id, 'invite', created_at,
         (SELECT MIN(s.created_at) FROM sessions s WHERE s.learner_id = learners.id)
  FROM learners WHERE invite_hash IS NOT NULL;
