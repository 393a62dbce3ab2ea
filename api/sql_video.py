"""A video step's watched intervals (`video_views`): read, saved over the revision that was read,
and saved in one statement by a report whose every premise the statement checks (api/watching).
"""

from __future__ import annotations

from .storage import Statement as S


def video_view(learner_id: str, step_id: str) -> S:
    return S(
        "SELECT intervals, watched, first_play_at, revision FROM video_views "
        "WHERE learner_id = ? AND step_id = ?",
        (learner_id, step_id),
    )


def video_view_unchanged(learner_id: str, step_id: str, revision: int) -> S:
    """Abort the whole batch (CHECK fails) if the row changed since it was read.

    D1 has no transactions across round trips, so a concurrent report could otherwise
    overwrite another's merged intervals; this makes the loser's batch fail and retry.
    """
    return S(
        "INSERT INTO guards (ok) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM video_views "
        "WHERE learner_id = ? AND step_id = ? AND revision = ?)",
        (learner_id, step_id, revision),
    )


def save_video_view(
    learner_id: str, step_id: str, intervals: str, watched: float, now: str, revision: int
) -> S:
    """Insert or update the merged intervals, only over the revision that was read."""
    return S(
        "INSERT INTO video_views (learner_id, step_id, intervals, watched, first_play_at, "
        "updated_at, revision) VALUES (?, ?, ?, ?, ?, ?, 0) "
        "ON CONFLICT (learner_id, step_id) DO UPDATE SET intervals = excluded.intervals, "
        "watched = excluded.watched, updated_at = excluded.updated_at, "
        "revision = video_views.revision + 1 WHERE video_views.revision = ?",
        (learner_id, step_id, intervals, watched, now, now, revision),
    )


def insert_video_view(learner_id: str, step_id: str, intervals: str, watched: float, now: str) -> S:
    """A step's first saved intervals; a row there already (a concurrent first report) breaks
    the key, which aborts the whole batch (Conflict): it is decided again over that row."""
    return S(
        "INSERT INTO video_views (learner_id, step_id, intervals, watched, first_play_at, "
        "updated_at, revision) VALUES (?, ?, ?, ?, ?, ?, 0)",
        (learner_id, step_id, intervals, watched, now, now),
    )


def save_known_view(
    *,
    learner_id: str,
    step_id: str,
    intervals: str,
    watched: float,
    now: str,
    revision: int,
    version: str,
    done: bool,
    event_id: str,
    caller: tuple[str, str],
) -> S:
    """A mid-video report in one statement: save the merged intervals only if everything this
    process knew when it decided still holds, else change nothing (0 rows: the caller decides
    again from the database, as any report).

    What it knew: the row's `revision`; the caller, still this learner (`caller` is
    ("session", token hash) for a live session, ("email", address) for a learner Cloudflare
    Access vouched for); the learner's open step, on course `version`, still the current one;
    the step's done state; the event not recorded yet, in `events` or as the learner's last
    move on (a replay gets its first answer).
    """
    kind, who = caller
    if kind == "session":
        identity = (
            "EXISTS (SELECT 1 FROM sessions WHERE token_hash = ? AND learner_id = ? "
            "AND expires_at > ?)"
        )
        identity_params: tuple[object, ...] = (who, learner_id, now)
    else:
        identity = "EXISTS (SELECT 1 FROM learners WHERE id = ? AND email = ?)"
        identity_params = (learner_id, who)
    return S(
        "UPDATE video_views SET intervals = ?, watched = ?, updated_at = ?, "
        "revision = revision + 1 WHERE learner_id = ? AND step_id = ? AND revision = ? "
        f"AND {identity} "
        "AND EXISTS (SELECT 1 FROM learners WHERE id = ? AND open_step = ? AND course_version = ? "
        "AND json_extract(last_move, '$.eventId') IS NOT ?) "
        "AND (SELECT version FROM course_versions ORDER BY seq DESC LIMIT 1) = ? "
        "AND EXISTS (SELECT 1 FROM completions WHERE learner_id = ? AND step_id = ?) = ? "
        "AND NOT EXISTS (SELECT 1 FROM events WHERE learner_id = ? AND event_id = ?)",
        (
            *(intervals, watched, now, learner_id, step_id, revision),
            *identity_params,
            *(learner_id, step_id, version, event_id, version),
            *(learner_id, step_id, int(done), learner_id, event_id),
        ),
    )


def known_view_saved() -> S:
    """Abort the whole batch unless the statement before it changed a row: what follows a
    one-call save (its xAPI trail) is written only if the save's premises held."""
    return S("INSERT INTO guards (ok) SELECT 0 WHERE changes() = 0")
