"""The nudges' statements (api/nudges.py): claim a learner's daily reminder, mark how it went,
read the log.

Part of api/sql.py, which re-exports every function here (call them as `sql.<name>`); apart
only to keep each module short. `?` placeholders only.
"""

from __future__ import annotations

from .storage import Statement as S


def claim_nudge(
    nudge_id: str, learner_id: str, step_id: str | None, now: str, since: str, stale: str, by: str
) -> S:
    """Claim today's reminder: inserted only when no reminder of the learner was sent since
    `since`, nor is being sent (a claim newer than `stale`: one left 'sending' by a process that
    died does not block the day). One statement, so simultaneous claims make one row."""
    return S(
        "INSERT INTO nudges (id, learner_id, step_id, sent_at, sent_by, status) "
        "SELECT ?, ?, ?, ?, ?, 'sending' WHERE NOT EXISTS (SELECT 1 FROM nudges "
        "WHERE learner_id = ? AND sent_at > ? "
        "AND (status = 'sent' OR (status = 'sending' AND sent_at > ?)))",
        (nudge_id, learner_id, step_id, now, by, learner_id, since, stale),
    )


def mark_nudge(nudge_id: str, status: str, error: str | None) -> S:
    return S("UPDATE nudges SET status = ?, error = ? WHERE id = ?", (status, error, nudge_id))


def last_nudges(team_id: str) -> S:
    """When each learner of a team was last reminded (successfully)."""
    return S(
        "SELECT n.learner_id, MAX(n.sent_at) AS sent_at FROM learners l JOIN nudges n "
        "ON n.learner_id = l.id WHERE l.team_id = ? AND n.status = 'sent' GROUP BY n.learner_id",
        (team_id,),
    )


def nudges_log(team_id: str) -> S:
    """Every reminder to a team's learners, newest first."""
    return S(
        "SELECT n.id, n.learner_id, l.name, n.step_id, n.sent_at, n.sent_by, n.status, n.error "
        "FROM nudges n JOIN learners l ON l.id = n.learner_id WHERE l.team_id = ? "
        "ORDER BY n.sent_at DESC, n.id",
        (team_id,),
    )


def nudge_target(learner_id: str) -> S:
    """What a reminder needs of a learner, and what says whether they are stalled."""
    return S(
        "SELECT id, name, email, team_id, open_step, course_version, opened_at, active_at "
        "FROM learners WHERE id = ?",
        (learner_id,),
    )
