-- One row that /api/health rewrites now and then on the local backend (api/writer.py), to
-- learn whether the database takes writes (a read-only file or a full disk still reads).
CREATE TABLE IF NOT EXISTS health (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at  TEXT NOT NULL
);
