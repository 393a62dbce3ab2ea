"""The learner's own data, as GET /api/learner/export hands it over (api/export.py): every row
about them, their notes' text included. Reads only.

Part of api/sql.py, which re-exports every function here (call them as `sql.<name>`); apart
only to keep each module short. `?` placeholders only.
"""

from __future__ import annotations

from .storage import Statement as S


def export_profile(learner_id: str) -> S:
    return S(
        "SELECT id, name, email, team_id, tz, xp, streak, streak_best, streak_day, created_at, "
        "active_at FROM learners WHERE id = ?",
        (learner_id,),
    )


def export_rows(table: str, learner_id: str) -> S:
    """Every row of one of the learner's tables (its columns as they are), oldest first."""
    columns, order = EXPORTED[table]
    return S(f"SELECT {columns} FROM {table} WHERE learner_id = ? ORDER BY {order}", (learner_id,))


# table -> (columns handed over, order): never a token or a session's hash.
EXPORTED = {
    "completions": ("step_id, kind, module_id, completed_at, course_version, seconds", "rowid"),
    "module_completions": ("module_id, completed_at", "completed_at"),
    "video_views": ("step_id, intervals, watched, first_play_at, updated_at", "first_play_at"),
    "quiz_attempts": ("step_id, source, score, passed, perfect, answers, created_at", "id"),
    "learner_badges": ("badge_id, earned_at", "earned_at"),
    "xp_logs": ("amount, cause, created_at", "id"),
    "notes": ("step_id, text, updated_at", "updated_at"),
    "sessions": ("device, created_at, last_seen, expires_at", "created_at"),
    "certificates": ("id, course_version, credential, issued_at, revoked_at", "issued_at"),
    "nudges": ("step_id, sent_at, status", "sent_at"),
}
