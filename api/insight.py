"""Cohort insight for teachers: where a team stalls, its funnel along the path, the median time
per step, quiz first-try pass rates, its streaks, and the course versions its learners follow.

Read-only and admin-only, and bounded: a team's request reads its learners (one index row
each), its `team_steps` counters (one row per step, kept by triggers in the batch of each
completion and quiz attempt) and, for the exact medians, each of its timed completions once
(one scan of the team's entries in the (team, step, seconds) index); never another team's rows.
It runs 5 statements whatever the number of steps. A seek per step read only about half of the
completions, but D1 runs 5 terms a compound SELECT and binds 100 parameters, and SQLite's
OFFSET cannot follow an outer row: seeks took a statement per 5 steps, 20 for 100 steps, where
D1's free plan allows 50 queries a Worker invocation. The teams and versions lists read the
`cohort` counters (one row per team and course version).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import auth, limits, rules, sql
from .clock import iso
from .context import Context
from .course import Course, StepInfo
from .csvfile import csv_text
from .errors import ApiError
from .storage import Database

STALL_DAYS = 7  # on the same step for longer than this: stalled
STREAKS = ((0, 0), (1, 1), (2, 3), (4, 6), (7, 13), (14, 29), (30, None))
TABLES = ("steps", "streaks", "learners")
TEAM_MAX = 64  # as enrolment allows


@dataclass(frozen=True)
class Version:
    seq: int
    version: str
    published_at: str
    current: bool

    @property
    def label(self) -> str:
        """What people see: the publication number (the hash is in the exports)."""
        return f"v{self.seq}"

    def public(self, learners: int) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "label": self.label,
            "version": self.version,
            "publishedAt": self.published_at,
            "current": self.current,
            "learners": learners,
        }


async def published(db: Database) -> dict[str, Version]:
    """Every published version by hash; the highest seq is the current one."""
    rows = (await db.execute(sql.course_versions())).rows
    last = rows[-1]["seq"] if rows else None
    return {
        r["version"]: Version(r["seq"], r["version"], r["published_at"], r["seq"] == last)
        for r in rows
    }


# -- the figures -------------------------------------------------------------------------------


async def teams(db: Database) -> list[dict[str, Any]]:
    rows = (await db.execute(sql.cohort_teams())).rows
    return [{"teamId": r["team_id"], "learners": r["learners"]} for r in rows]


async def versions(db: Database) -> list[dict[str, Any]]:
    """Published versions, newest first, with how many learners follow each."""
    known = await published(db)
    counts = {
        r["course_version"]: r["learners"] for r in (await db.execute(sql.cohort_versions())).rows
    }
    return [
        v.public(counts.get(v.version, 0)) for v in sorted(known.values(), key=lambda v: -v.seq)
    ]


def live_streak(learner: dict[str, Any], now: datetime) -> int:
    """The streak as it stands today: a streak whose last day is before yesterday is over."""
    if not learner["streak_day"]:
        return 0
    today = rules.local_day(now, learner["tz"])
    last = date.fromisoformat(learner["streak_day"])
    return int(learner["streak"]) if today - last <= timedelta(days=1) else 0


def streak_label(low: int, high: int | None) -> str:
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def stalled(learner: Mapping[str, Any], now: datetime) -> bool:
    """Signed in, on a step (not finished) opened more than STALL_DAYS days ago: the insight's
    "stalled" count and the learners a teacher may remind (api/nudges.py)."""
    opened = learner["opened_at"]
    placed = learner["active_at"] and learner["course_version"] and learner["open_step"]
    return bool(placed and opened and opened < iso(now - timedelta(days=STALL_DAYS)))


@dataclass
class Positions:
    """Where a team's learners stand, from their rows. Each learner counts once: never signed
    in, not started (signed in, never placed), finished, or on a step."""

    on_step: dict[str, int] = field(default_factory=dict)
    stalled: dict[str, int] = field(default_factory=dict)
    following: dict[str, int] = field(default_factory=dict)  # course version -> learners
    never_signed_in: int = 0
    not_started: int = 0
    finished: int = 0

    @classmethod
    def of(cls, learners: list[dict[str, Any]], now: datetime) -> Positions:
        found = cls()
        for learner in learners:
            version, step = learner["course_version"], learner["open_step"]
            if version:  # placed (a reset or an admin's look places one who never signed in)
                found.following[version] = found.following.get(version, 0) + 1
            if learner["active_at"] is None:
                found.never_signed_in += 1  # not on a step, never stalled there
                continue
            if not version:
                found.not_started += 1
                continue
            if step is None:
                found.finished += 1
                continue
            found.on_step[step] = found.on_step.get(step, 0) + 1
            if stalled(learner, now):
                found.stalled[step] = found.stalled.get(step, 0) + 1
        return found


async def medians(db: Database, team: str) -> dict[str, float]:
    """Exact median seconds per step of the team's timed completions, in one statement."""
    rows = (await db.execute(sql.step_times(team))).rows
    return {
        row["step_id"]: round(statistics.median(map(float, row["seconds"].split(","))), 3)
        for row in rows
    }


def streak_buckets(learners: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    streaks = [live_streak(learner, now) for learner in learners]
    return [
        {
            "label": streak_label(low, high),
            "min": low,
            "max": high,
            "learners": sum(1 for s in streaks if s >= low and (high is None or s <= high)),
        }
        for low, high in STREAKS
    ]


async def team_insight(db: Database, course: Course, team: str, now: datetime) -> dict[str, Any]:
    """The five insights of one team (404 when the team has no learners)."""
    learners = (await db.execute(sql.team_learners(team))).rows
    if not learners:
        raise ApiError(404, "unknown_team", f"No learner in team '{team}'.")
    counters = {r["step_id"]: r for r in (await db.execute(sql.team_steps(team))).rows}
    median = await medians(db, team)
    known = await published(db)
    where = Positions.of(learners, now)
    size = len(learners)
    steps = [
        _step_row(position, step, counters, median, where, size)
        for position, step in enumerate(course.steps, start=1)
    ]
    current = known.get(course.version)
    return {
        "teamId": team,
        "generatedAt": iso(now),
        "stallDays": STALL_DAYS,
        "course": {
            "title": course.title,
            "version": course.version,
            "label": current.label if current else None,
            "steps": len(course.steps),
        },
        "learners": size,
        "neverSignedIn": where.never_signed_in,
        "notStarted": where.not_started,
        "finished": where.finished,
        "elsewhere": sum(n for s, n in where.on_step.items() if s not in course.index),
        "versions": [
            known[v].public(n) if v in known else _unknown(v, n)
            for v, n in sorted(where.following.items(), key=lambda item: _order(known, item[0]))
        ],
        "steps": steps,
        "streaks": streak_buckets(learners, now),
    }


def _step_row(
    position: int,
    step: StepInfo,
    counters: dict[str, dict[str, Any]],
    median: dict[str, float],
    where: Positions,
    size: int,
) -> dict[str, Any]:
    """One step of the team's path: who is on it, stalled there, done, how fast, first tries."""
    counter = counters.get(step.id, {"done": 0, "tried": 0, "passed": 0})
    quiz = None
    if step.kind == "quiz":
        tried, passed = counter["tried"], counter["passed"]
        quiz = {"tried": tried, "firstTryPassed": passed, "firstTryRate": _share(passed, tried)}
    return {
        "position": position,
        "id": step.id,
        "title": step.title,
        "kind": step.kind,
        "module": step.module,
        "onStep": where.on_step.get(step.id, 0),
        "stalled": where.stalled.get(step.id, 0),
        "completed": counter["done"],
        "completedShare": _share(counter["done"], size),
        "medianSeconds": median.get(step.id),
        "quiz": quiz,
    }


async def team_learners(db: Database, team: str, now: datetime) -> list[dict[str, Any]]:
    """One row per learner of the team: where they are and which course versions they followed."""
    learners = (await db.execute(sql.team_learners(team))).rows
    if not learners:
        raise ApiError(404, "unknown_team", f"No learner in team '{team}'.")
    known = await published(db)
    finished: dict[str, list[tuple[str, str | None, int]]] = {}
    for row in (await db.execute(sql.team_completed_versions(team))).rows:
        finished.setdefault(row["learner_id"], []).append(
            (row["since"], row["course_version"], row["steps"])
        )
    notes = {r["learner_id"]: r["notes"] for r in (await db.execute(sql.notes_counted(team))).rows}
    reminded = {
        r["learner_id"]: r["sent_at"] for r in (await db.execute(sql.last_nudges(team))).rows
    }
    result = []
    for learner in sorted(learners, key=lambda r: (r["name"].casefold(), r["id"])):
        history = sorted(finished.get(learner["id"], []), key=lambda item: item[0])
        version = known.get(learner["course_version"] or "")
        if learner["active_at"] is None:
            where = "(never signed in)"
        elif not learner["course_version"]:
            where = "(not started)"
        else:
            where = learner["open_step"] or "(finished)"
        result.append(
            {
                "userId": learner["id"],
                "name": learner["name"],
                "email": learner["email"],
                "teamId": team,
                "courseVersion": learner["course_version"] or "",
                "courseVersionLabel": version.label if version else "",
                "versionsFollowed": followed(known, [v for _, v, _ in history]),
                "currentStep": where,
                "completed": sum(n for _, _, n in history),
                "xp": learner["xp"],
                "streak": live_streak(learner, now),
                "openSince": learner["opened_at"] or "",
                "lastActive": learner["active_at"] or "",
                "notes": notes.get(learner["id"], 0),  # how many, never what they say
                "stalled": stalled(learner, now),
                "lastReminded": reminded.get(learner["id"], ""),
            }
        )
    return result


def step_rows(insight: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps table as flat CSV rows."""
    rows = []
    for step in insight["steps"]:
        quiz = step["quiz"] or {}
        rows.append(
            {
                "teamId": insight["teamId"],
                "courseVersion": insight["course"]["version"],
                "position": step["position"],
                "stepId": step["id"],
                "title": step["title"],
                "kind": step["kind"],
                "module": step["module"],
                "onStep": step["onStep"],
                "stalled": step["stalled"],
                "completed": step["completed"],
                "completedShare": step["completedShare"],
                "medianSeconds": step["medianSeconds"],
                "quizTried": quiz.get("tried"),
                "firstTryPassed": quiz.get("firstTryPassed"),
                "firstTryRate": quiz.get("firstTryRate"),
            }
        )
    return rows


def streak_rows(insight: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "teamId": insight["teamId"],
            "streak": s["label"],
            "min": s["min"],
            "max": s["max"],
            "learners": s["learners"],
        }
        for s in insight["streaks"]
    ]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def followed(known: dict[str, Version], versions: list[str | None]) -> str:
    """The versions steps were finished under, in order of first use: 'v1 v3' ('?': unknown)."""
    return " ".join(_label(known, v) for v in dict.fromkeys(versions))


def _label(known: dict[str, Version], version: str | None) -> str:
    if version is None:
        return "?"  # finished before versions were recorded per step (migration 0003)
    return known[version].label if version in known else version[:10]


def _order(known: dict[str, Version], version: str) -> int:
    return known[version].seq if version in known else 0


def _unknown(version: str, learners: int) -> dict[str, Any]:
    return {
        "seq": None,
        "label": version[:10],
        "version": version,
        "publishedAt": None,
        "current": False,
        "learners": learners,
    }


# -- endpoints ---------------------------------------------------------------------------------


def team_param(request: Request) -> str:
    team = request.query_params.get("teamId", "").strip()
    if not team:
        raise ApiError(422, "invalid", "'teamId' is required.")
    if len(team) > TEAM_MAX:
        raise ApiError(422, "invalid", f"'teamId' is at most {TEAM_MAX} characters.")
    return team


def _admin(api: Context, request: Request) -> None:
    api.limit(request, limits.ADMIN)
    auth.require_admin(request, api.settings.admin_token)


async def list_teams(api: Context, request: Request) -> Response:
    """GET /api/admin/teams: every team with its number of learners."""
    _admin(api, request)
    return JSONResponse({"teams": await teams(api.db)})


async def list_versions(api: Context, request: Request) -> Response:
    """GET /api/admin/versions: published course versions, newest first, with their learners."""
    _admin(api, request)
    return JSONResponse({"versions": await versions(api.db)})


async def insight(api: Context, request: Request) -> Response:
    """GET /api/admin/insight?teamId=: the team's progress along the current path."""
    _admin(api, request)
    team = team_param(request)
    course = await api.learning.course()
    return JSONResponse(await team_insight(api.db.lagging(), course, team, api.clock()))


async def list_learners(api: Context, request: Request) -> Response:
    """GET /api/admin/learners?teamId=: the team's learners and the versions they followed."""
    _admin(api, request)
    team = team_param(request)
    return JSONResponse(
        {"teamId": team, "learners": await team_learners(api.db.lagging(), team, api.clock())}
    )


async def insight_csv(api: Context, request: Request) -> Response:
    """GET /api/admin/insight.csv?teamId=&table=steps|streaks|learners: the same, as CSV."""
    _admin(api, request)
    team = team_param(request)
    table = request.query_params.get("table", "steps")
    if table not in TABLES:
        raise ApiError(422, "invalid", f"'table' must be one of {', '.join(TABLES)}.")
    now = api.clock()
    if table == "learners":
        rows = await team_learners(api.db.lagging(), team, now)
    else:
        found = await team_insight(api.db.lagging(), await api.learning.course(), team, now)
        rows = step_rows(found) if table == "steps" else streak_rows(found)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", team)
    return Response(
        csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="insight-{name}-{table}.csv"'},
    )


def routes(api: Context) -> list[Route]:
    """The admin insight routes, bound to the API (Api.routes lists them)."""
    return [
        Route("/api/admin/teams", partial(list_teams, api), methods=["GET"]),
        Route("/api/admin/versions", partial(list_versions, api), methods=["GET"]),
        Route("/api/admin/learners", partial(list_learners, api), methods=["GET"]),
        Route("/api/admin/insight", partial(insight, api), methods=["GET"]),
        Route("/api/admin/insight.csv", partial(insight_csv, api), methods=["GET"]),
    ]
