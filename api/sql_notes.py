"""The notebook's statements (api/notes.py): a learner's notes, theirs alone.

Part of api/sql.py, which re-exports every function here (call them as `sql.<name>`); apart
only to keep each module short. `?` placeholders only.
"""

from __future__ import annotations

from .storage import Statement as S


def notes_of(learner_id: str) -> S:
    return S(
        "SELECT step_id, text, updated_at FROM notes WHERE learner_id = ?",
        (learner_id,),
    )


def note_exists(learner_id: str, step_id: str) -> S:
    return S(
        "SELECT 1 AS found FROM notes WHERE learner_id = ? AND step_id = ?",
        (learner_id, step_id),
    )


def save_note(learner_id: str, step_id: str, text: str, now: str) -> S:
    return S(
        "INSERT INTO notes (learner_id, step_id, text, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (learner_id, step_id) DO UPDATE SET text = excluded.text, "
        "updated_at = excluded.updated_at",
        (learner_id, step_id, text, now),
    )


def delete_note(learner_id: str, step_id: str) -> S:
    return S("DELETE FROM notes WHERE learner_id = ? AND step_id = ?", (learner_id, step_id))


def notes_counted(team_id: str) -> S:
    """How many notes each learner of a team keeps: the teacher sees the count, not the text."""
    return S(
        "SELECT n.learner_id, COUNT(*) AS notes FROM learners l JOIN notes n "
        "ON n.learner_id = l.id WHERE l.team_id = ? GROUP BY n.learner_id",
        (team_id,),
    )
