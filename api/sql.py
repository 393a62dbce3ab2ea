"""Every SQL statement the API runs, each a small named function. `?` placeholders only.

The sign-in statements (links, the sessions' list and lifetime) are written in
api/sql_signin.py, the xAPI trail's in api/sql_xapi.py, the notebook's in api/sql_notes.py, a
video's watched intervals in api/sql_video.py, all re-exported here, so callers and tests know
one interface: `sql.<name>`.
"""

from __future__ import annotations

from .sql_certificates import *  # noqa: F403 - re-exported: one interface, sql.<name>
from .sql_export import *  # noqa: F403 - re-exported: one interface, sql.<name>
from .sql_notes import *  # noqa: F403 - re-exported: one interface, sql.<name>
from .sql_nudges import *  # noqa: F403 - re-exported: one interface, sql.<name>
from .sql_retention import *  # noqa: F403 - re-exported: one interface, sql.<name>
from .sql_signin import *  # noqa: F403 - re-exported: one interface, sql.<name>
from .sql_video import *  # noqa: F403 - re-exported: one interface, sql.<name>
from .sql_xapi import *  # noqa: F403 - re-exported: one interface, sql.<name>
from .storage import Statement as S

LEARNER_COLUMNS = (
    "l.id, l.name, l.email, l.team_id, l.tz, l.open_step, l.course_version, l.opened_at, l.xp, "
    "l.videos_done, l.quizzes_passed, l.modules_done, l.streak, l.streak_best, l.streak_day, "
    "l.last_move, "
    # Whether the open step is already done: it stays open until the learner moves on.
    "EXISTS (SELECT 1 FROM completions c WHERE c.learner_id = l.id AND c.step_id = l.open_step) "
    "AS open_done"
)


# -- course versions ---------------------------------------------------------------------------


def current_course() -> S:
    return S("SELECT version, seq FROM course_versions ORDER BY seq DESC LIMIT 1")


def course_manifest(version: str) -> S:
    return S("SELECT manifest FROM course_versions WHERE version = ?", (version,))


def publish_course(version: str, manifest: str, now: str) -> S:
    """Make `version` current; publishing an older version again makes it current again."""
    return S(
        "INSERT INTO course_versions (seq, version, manifest, published_at) "
        "VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM course_versions), ?, ?, ?) "
        "ON CONFLICT (version) DO UPDATE SET "
        "seq = (SELECT MAX(seq) + 1 FROM course_versions), published_at = excluded.published_at",
        (version, manifest, now),
    )


# -- learners, invites, sessions ---------------------------------------------------------------


def enroll(learner_id: str, name: str, email: str, team_id: str, tz: str, now: str) -> S:
    """A new learner; their invite is a sign-in link (new_link) of the same batch."""
    return S(
        "INSERT INTO learners (id, name, email, team_id, tz, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (learner_id, name, email, team_id, tz, now),
    )


def learner_by_email(email: str) -> S:
    return S("SELECT id, active_at FROM learners WHERE email = ?", (email,))


def learner_by_id(learner_id: str) -> S:
    return S(f"SELECT {LEARNER_COLUMNS} FROM learners l WHERE l.id = ?", (learner_id,))


def learner_by_session(token_hash: str, now: str, view_step: str | None = None) -> S:
    """The learner of a live session, when the session was last seen (`seen`), and the current
    course version (`current_version`: folded in, so the version kept per process is checked
    without a statement of its own, api/versions.py). With `view_step`, also their saved view
    of that video step (`view_*`, NULL without one: sql_video.video_view's columns), for a
    video report read in one statement."""
    params: tuple[str, ...] = (token_hash, now)
    view = join = ""
    if view_step is not None:
        view = (
            ", v.intervals AS view_intervals, v.watched AS view_watched, "
            "v.first_play_at AS view_first_play_at, v.revision AS view_revision"
        )
        join = "LEFT JOIN video_views v ON v.learner_id = l.id AND v.step_id = ? "
        params = (view_step, *params)
    return S(
        f"SELECT {LEARNER_COLUMNS}, s.last_seen AS seen, "
        f"(SELECT version FROM course_versions ORDER BY seq DESC LIMIT 1) AS current_version{view} "
        f"FROM sessions s JOIN learners l ON l.id = s.learner_id {join}"
        "WHERE s.token_hash = ? AND s.expires_at > ?",
        params,
    )


def all_learners() -> S:
    return S(f"SELECT {LEARNER_COLUMNS} FROM learners l ORDER BY l.team_id, l.name")


# -- progress ----------------------------------------------------------------------------------


def completed_steps(learner_id: str) -> S:
    return S(
        "SELECT step_id, module_id, course_version FROM completions WHERE learner_id = ? "
        "ORDER BY completed_at, rowid",
        (learner_id,),
    )


def completed_modules(learner_id: str) -> S:
    return S("SELECT module_id FROM module_completions WHERE learner_id = ?", (learner_id,))


def set_open_step(learner_id: str, step_id: str | None, version: str, now: str) -> S:
    """Place the learner for a (new) course version; guarded so it never undoes a newer move."""
    return S(
        "UPDATE learners SET open_step = ?, course_version = ?, opened_at = ? "
        "WHERE id = ? AND course_version IS NOT ?",
        (step_id, version, now, learner_id, version),
    )


def advance(learner_id: str, from_step: str, to_step: str | None, now: str, last_move: str) -> S:
    """Move on to the next step, only if `from_step` is still the open one (never twice, never
    back); the batch's `still_open` guard makes sure `from_step` is done. `last_move` (JSON: the
    event id and its answer) is what a replay of this move answers: no `events` row."""
    return S(
        "UPDATE learners SET open_step = ?, opened_at = ?, last_move = ? "
        "WHERE id = ? AND open_step = ?",
        (to_step, now, last_move, learner_id, from_step),
    )


def complete_step(learner_id: str, step_id: str, kind: str, module_id: str, now: str) -> S:
    """Record a finished step with the learner's team, course version and time on the step.

    They are read from the learner's row by this INSERT (no extra round trip); the step stays
    open (opened_at unchanged) until the learner moves on (`advance`).
    """
    return S(
        "INSERT INTO completions (learner_id, step_id, kind, module_id, completed_at, team_id, "
        "course_version, seconds) SELECT id, ?, ?, ?, ?, team_id, course_version, "
        "MAX(0.0, ROUND((julianday(?) - julianday(opened_at)) * 86400.0, 3)) "
        "FROM learners WHERE id = ? ON CONFLICT DO NOTHING",
        (step_id, kind, module_id, now, now, learner_id),
    )


def time_on_steps(learner_id: str) -> S:
    """Seconds the learner's completed steps were open, summed (the end of course summary)."""
    return S(
        "SELECT COALESCE(SUM(seconds), 0) AS seconds FROM completions WHERE learner_id = ?",
        (learner_id,),
    )


def best_scores(learner_id: str) -> S:
    """Each quiz's best score (the end of course summary)."""
    return S(
        "SELECT step_id, MAX(score) AS score FROM quiz_attempts WHERE learner_id = ? "
        "GROUP BY step_id",
        (learner_id,),
    )


def complete_module(learner_id: str, module_id: str, now: str) -> S:
    return S(
        "INSERT INTO module_completions (learner_id, module_id, completed_at) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (learner_id, module_id, now),
    )


def reset_learner(learner_id: str, first_step: str | None, version: str, now: str) -> list[S]:
    """Start the course again ("redoubler"): progress goes, XP and badges stay (earned once)."""
    return [
        S("DELETE FROM completions WHERE learner_id = ?", (learner_id,)),
        S("DELETE FROM module_completions WHERE learner_id = ?", (learner_id,)),
        S("DELETE FROM video_views WHERE learner_id = ?", (learner_id,)),
        S("DELETE FROM quiz_draws WHERE learner_id = ?", (learner_id,)),
        S(
            "UPDATE learners SET open_step = ?, course_version = ?, opened_at = ?, "
            "videos_done = 0, quizzes_passed = 0, modules_done = 0 WHERE id = ?",
            (first_step, version, now, learner_id),
        ),
    ]


# -- events (idempotency) ----------------------------------------------------------------------


def event_response(learner_id: str, event_id: str) -> S:
    return S(
        "SELECT kind, response FROM events WHERE learner_id = ? AND event_id = ?",
        (learner_id, event_id),
    )


def record_event(learner_id: str, event_id: str, kind: str, response: str, now: str) -> S:
    return S(
        "INSERT INTO events (learner_id, event_id, kind, response, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (learner_id, event_id, kind, response, now),
    )


# -- guards ------------------------------------------------------------------------------------


def still_open(learner_id: str, step_id: str, done: bool, event_id: str) -> S:
    """Abort the whole batch if the learner's open step moved, or was completed (or, by a
    reset, uncompleted), since it was read, or if the event is recorded already (a replay: in
    `events`, or as the learner's last move on, `learners.last_move`).

    Every learner action acts on the open step; on D1 a concurrent request (a reset, another
    completion, a move on) may change it between this request's read and its write. A replay
    is looked up only once its batch is refused: one round trip fewer for every new event.
    """
    return S(
        "INSERT INTO guards (ok) SELECT 0 WHERE NOT EXISTS "
        "(SELECT 1 FROM learners WHERE id = ? AND open_step = ? "
        "AND json_extract(last_move, '$.eventId') IS NOT ?) OR EXISTS "
        "(SELECT 1 FROM completions WHERE learner_id = ? AND step_id = ?) IS NOT ? "
        "OR EXISTS (SELECT 1 FROM events WHERE learner_id = ? AND event_id = ?)",
        (learner_id, step_id, event_id, learner_id, step_id, int(done), learner_id, event_id),
    )


def known_awards(learner_id: str, causes: list[str], badges: list[str]) -> S:
    """Which of these XP causes and badges the learner already has (so answers never announce
    them again, e.g. after a reset); an indexed lookup per name."""
    parts: list[str] = []
    params: list[str] = []
    if causes:
        marks = ", ".join("?" for _ in causes)
        parts.append(
            f"SELECT cause AS award FROM xp_logs WHERE learner_id = ? AND cause IN ({marks})"
        )
        params += [learner_id, *causes]
    if badges:
        marks = ", ".join("?" for _ in badges)
        parts.append(
            "SELECT 'badge:' || badge_id AS award FROM learner_badges "
            f"WHERE learner_id = ? AND badge_id IN ({marks})"
        )
        params += [learner_id, *badges]
    return S(" UNION ALL ".join(parts), tuple(params))


# -- quizzes -----------------------------------------------------------------------------------


def record_attempt(
    learner_id: str,
    step_id: str,
    source: str,
    score: float,
    passed: bool,
    perfect: bool,
    answers: str,
    now: str,
) -> S:
    return S(
        "INSERT INTO quiz_attempts (learner_id, step_id, source, score, passed, perfect, answers, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (learner_id, step_id, source, score, int(passed), int(perfect), answers, now),
    )


def quiz_history(learner_id: str, step_id: str) -> S:
    """A learner's attempts at a quiz, as the gate needs them (api/quiz.py): how many ever, the
    last one's id, the failures since the last pass, when the last attempt was and its score."""
    return S(
        "SELECT COUNT(*) AS tried, COALESCE(MAX(id), 0) AS last_id, "
        "COALESCE(SUM(passed = 0 AND id > (SELECT COALESCE(MAX(p.id), 0) FROM quiz_attempts p "
        "WHERE p.learner_id = ? AND p.step_id = ? AND p.passed = 1)), 0) AS failed, "
        "MAX(created_at) AS last_at, (SELECT l.score FROM quiz_attempts l WHERE l.learner_id = ? "
        "AND l.step_id = ? ORDER BY l.id DESC LIMIT 1) AS last_score "
        "FROM quiz_attempts WHERE learner_id = ? AND step_id = ?",
        (learner_id, step_id, learner_id, step_id, learner_id, step_id),
    )


def attempts_unchanged(learner_id: str, step_id: str, last_id: int) -> S:
    """Abort the whole batch if an attempt was recorded since the history was read: two attempts
    raced, and the loser is decided again (its cooldown, its first-attempt bonus)."""
    return S(
        "INSERT INTO guards (ok) SELECT 0 WHERE (SELECT COALESCE(MAX(id), 0) FROM quiz_attempts "
        "WHERE learner_id = ? AND step_id = ?) != ?",
        (learner_id, step_id, last_id),
    )


def quiz_draw(learner_id: str, step_id: str) -> S:
    return S(
        "SELECT id, course_version, questions FROM quiz_draws WHERE learner_id = ? AND step_id = ?",
        (learner_id, step_id),
    )


def save_draw(
    learner_id: str, step_id: str, draw_id: str, version: str, questions: str, now: str
) -> S:
    """Keep a new draw, unless one for this course version is already kept (it stays)."""
    return S(
        "INSERT INTO quiz_draws (learner_id, step_id, id, course_version, questions, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (learner_id, step_id) DO UPDATE SET "
        "id = excluded.id, course_version = excluded.course_version, "
        "questions = excluded.questions, created_at = excluded.created_at "
        "WHERE quiz_draws.course_version IS NOT excluded.course_version",
        (learner_id, step_id, draw_id, version, questions, now),
    )


def draw_unchanged(learner_id: str, step_id: str, draw_id: str) -> S:
    """Abort the whole batch if the draw being graded is no longer the kept one."""
    return S(
        "INSERT INTO guards (ok) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM quiz_draws "
        "WHERE learner_id = ? AND step_id = ? AND id = ?)",
        (learner_id, step_id, draw_id),
    )


def end_draw(learner_id: str, step_id: str) -> S:
    """The attempt was graded: the next one is drawn anew."""
    return S("DELETE FROM quiz_draws WHERE learner_id = ? AND step_id = ?", (learner_id, step_id))


# -- XP, badges, streaks -----------------------------------------------------------------------


def award_xp(learner_id: str, amount: int, cause: str, now: str) -> S:
    """Record an award once per cause; the trigger keeps learners.xp and xp_history in step."""
    return S(
        "INSERT INTO xp_logs (learner_id, amount, cause, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (learner_id, amount, cause, now),
    )


# One statement per counter, so no column name is ever formatted into SQL at run time.
_BADGE_BY_COUNTER = {
    "videos_done": "SELECT id, ?, ? FROM learners WHERE id = ? AND videos_done >= ?",
    "quizzes_passed": "SELECT id, ?, ? FROM learners WHERE id = ? AND quizzes_passed >= ?",
    "modules_done": "SELECT id, ?, ? FROM learners WHERE id = ? AND modules_done >= ?",
    "streak": "SELECT id, ?, ? FROM learners WHERE id = ? AND streak >= ?",
}


def award_badge_at(learner_id: str, badge_id: str, counter: str, threshold: int, now: str) -> S:
    """Give a badge once the learner's counter reaches the threshold (read in the same batch)."""
    return S(
        "INSERT INTO learner_badges (learner_id, badge_id, earned_at) "
        + _BADGE_BY_COUNTER[counter]
        + " ON CONFLICT DO NOTHING",
        (badge_id, now, learner_id, threshold),
    )


def award_badge(learner_id: str, badge_id: str, now: str) -> S:
    return S(
        "INSERT INTO learner_badges (learner_id, badge_id, earned_at) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (learner_id, badge_id, now),
    )


def progress_rows(learner_id: str) -> S:
    """A learner's progress in one statement: the steps completed (`part` 0: `id` the step, in
    the order finished) then every badge (`part` 1, in the catalogue's order, `earned_at` when
    the learner has it)."""
    return S(
        "SELECT 0 AS part, step_id AS id, NULL AS name, NULL AS rule, NULL AS earned_at, "
        "completed_at AS k1, rowid AS k2 FROM completions WHERE learner_id = ? "
        "UNION ALL SELECT 1, b.id, b.name, b.rule, lb.earned_at, b.sort, 0 FROM badges b "
        "LEFT JOIN learner_badges lb ON lb.badge_id = b.id AND lb.learner_id = ? "
        "ORDER BY part, k1, k2",
        (learner_id, learner_id),
    )


def learning_day(learner_id: str, day: str, streak: int, previous_day: str | None) -> S:
    """Count a local day of learning, only over the streak state that was read."""
    return S(
        "UPDATE learners SET streak_day = ?, streak = ?, streak_best = MAX(streak_best, ?) "
        "WHERE id = ? AND streak_day IS ?",
        (day, streak, streak, learner_id, previous_day),
    )


# -- leaderboards ------------------------------------------------------------------------------


def leaderboard(team_id: str, before_day: str | None) -> S:
    """A team's XP since `before_day` (all time when None): one index row, one history row each.

    Unsorted on purpose: the caller ranks in Python, which saves D1 a row per learner that a
    SQL sort would read back from its temporary b-tree.
    """
    if before_day is None:
        return S("SELECT id, name, xp FROM learners WHERE team_id = ?", (team_id,))
    return S(
        "SELECT l.id, l.name, l.xp - COALESCE((SELECT h.total FROM xp_history h "
        "WHERE h.learner_id = l.id AND h.day < ? ORDER BY h.day DESC LIMIT 1), 0) AS xp "
        "FROM learners l WHERE l.team_id = ?",
        (before_day, team_id),
    )


# -- cohort insight (api/insight.py): one team at a time, through its indexes -----------------


def course_versions() -> S:
    """Every published version, oldest first (a few rows; the manifests are not read)."""
    return S("SELECT seq, version, published_at FROM course_versions ORDER BY seq")


def cohort_teams() -> S:
    """Learners per team, from the `cohort` counters: one row per (team, version)."""
    return S(
        "SELECT team_id, SUM(learners) AS learners FROM cohort GROUP BY team_id "
        "HAVING SUM(learners) > 0 ORDER BY team_id"
    )


def cohort_versions() -> S:
    """Learners per course version they follow ('' = not placed yet), from the counters."""
    return S(
        "SELECT course_version, SUM(learners) AS learners FROM cohort GROUP BY course_version "
        "HAVING SUM(learners) > 0"
    )


def team_learners(team_id: str) -> S:
    """A team's learners, unsorted (the caller sorts, saving D1 a sort's rows)."""
    return S(
        "SELECT id, name, email, open_step, course_version, opened_at, xp, streak, streak_day, "
        "tz, active_at FROM learners WHERE team_id = ?",
        (team_id,),
    )


def team_steps(team_id: str) -> S:
    """A team's counters per step: finished, first tries and passes."""
    return S(
        "SELECT step_id, done, tried, passed FROM team_steps WHERE team_id = ?",
        (team_id,),
    )


def step_times(team_id: str) -> S:
    """A team's timed completions, one row per step, their seconds comma-separated.

    One scan of the team's entries in the (team, step, seconds) index, no sort, one parameter
    whatever the number of steps (api/insight.py says why). '%!.17g': 17 significant digits
    give each REAL back exactly.
    """
    return S(
        "SELECT step_id, group_concat(printf('%!.17g', seconds)) AS seconds FROM completions "
        "WHERE team_id = ? AND seconds IS NOT NULL GROUP BY step_id",
        (team_id,),
        scan=True,  # one row per completion of the team: 20,000 for a team of 490 (bench)
    )


def team_completed_versions(team_id: str) -> S:
    """Steps each learner of a team finished under each course version (NULL: before 0003)."""
    return S(
        "SELECT c.learner_id, c.course_version, COUNT(*) AS steps, MIN(c.completed_at) AS since "
        "FROM learners l JOIN completions c ON c.learner_id = l.id WHERE l.team_id = ? "
        "GROUP BY c.learner_id, c.course_version",
        (team_id,),
        scan=True,
    )


def health() -> S:
    return S("SELECT 1 AS ok")


def write_probe(now: str) -> S:
    """A harmless write that reaches the disk (the row changes every time)."""
    return S(
        "INSERT INTO health (id, checked_at) VALUES (1, ?) "
        "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        (now,),
    )
