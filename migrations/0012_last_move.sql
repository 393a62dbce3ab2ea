-- A learner's last move on (POST /api/next), as JSON {"eventId", "answer"}: the answer a
-- replay of that event gets (api/learning.py `replay`). Moving on writes this column of the
-- row it updates anyway, not an `events` row: 1 row written a move, not 3 (issue 18).
ALTER TABLE learners ADD COLUMN last_move TEXT;
