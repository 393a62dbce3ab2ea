-- The quiz gate (issue 14). A quiz that draws its questions (`draw: k`) shows each attempt k
-- questions of its pool, choices shuffled: the server decides the draw when the player asks for
-- the attempt and keeps it here until that attempt is graded (one row per learner and quiz).
-- `questions` is JSON, in the order shown: [[pool index, [choice indexes in shown order]], ...];
-- `id` is random, so the batch that grades the attempt can check the draw is still the one read.
CREATE TABLE IF NOT EXISTS quiz_draws (
  learner_id      TEXT NOT NULL REFERENCES learners (id) ON DELETE CASCADE,
  step_id         TEXT NOT NULL,
  id              TEXT NOT NULL,
  course_version  TEXT NOT NULL,
  questions       TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (learner_id, step_id)
);

-- The perfect bonus now needs a perfect first attempt.
UPDATE badges SET rule = 'Score 100% on a quiz at the first attempt' WHERE id = 'perfectionist';
