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
