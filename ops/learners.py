"""Operator commands on the local database: publish, enroll (one or a CSV), re-invite, list,
export, reset.

`python build.py publish` and `python build.py learners ...` call these; they use the same
statements and rules as the API, on the SQLite file named by SILLON_DB (or --db).
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar, cast

from api import insight, rules, signin, sql
from api.app import Api, publish_manifest
from api.clock import iso
from api.errors import ApiError
from api.learner import Learner
from api.settings import Settings
from api.sqlite import SQLiteDatabase

from .errors import CommandError

T = TypeVar("T")
CSV_FIELDS = ("name", "email", "teamId", "tz")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _api(settings: Settings) -> Api:
    return Api(settings, SQLiteDatabase(settings.db_path))


def publish(settings: Settings, manifest: Path) -> str:
    """Make a built course (its private manifest) the current version in the database."""
    if not manifest.is_file():
        raise CommandError(f"{manifest}: no manifest here (run `python build.py` first)")
    api = _api(settings)
    try:
        return _run(
            publish_manifest(api.db, manifest.read_text(encoding="utf-8"), iso(api.clock()))
        )
    except ApiError as exc:
        raise CommandError(f"{manifest}: {exc.message}") from None


def enroll(settings: Settings, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Enroll learners and return each with their invite URL; all rows are checked first."""
    api = _api(settings)
    base_url = settings.site_url()  # SILLON_BASE_URL, else serve's default address
    checked = _check_rows(api, rows)
    invites: list[dict[str, str]] = []
    for name, email, team, tz in checked:
        created = _run(api.create_learner(name, email, team, tz))
        url = f"{base_url}/join/#{created['inviteToken']}"
        invites.append(
            {
                "userId": created["userId"],
                "name": name,
                "email": email,
                "teamId": team,
                "inviteUrl": url,
            }
        )
    return invites


def reinvite(settings: Settings, email: str, revoke_sessions: bool) -> tuple[str, int]:
    """Re-issue a learner's invite (the admin API's re-issue): the new link and how many
    sessions ended; every link of theirs not used yet stops working."""
    api = _api(settings)
    address = email.strip().lower()
    found = _run(api.db.execute(sql.learner_by_email(address))).first()
    if found is None:
        raise CommandError(f"{address} is not enrolled (enroll with `learners add`)")
    token, ended = _run(signin.reinvite(api, found["id"], revoke_sessions))
    return f"{settings.site_url()}/join/#{token}", ended


def _check_rows(api: Api, rows: list[dict[str, str]]) -> list[tuple[str, str, str, str]]:
    """Validate every row before enrolling anyone, so a bad file enrolls nobody."""
    checked: list[tuple[str, str, str, str]] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        name, email, team = (str(row.get(k) or "").strip() for k in ("name", "email", "teamId"))
        email = email.lower()
        tz = str(row.get("tz") or "").strip() or api.settings.default_tz
        where = f"row {number}" if len(rows) > 1 else "learner"
        if not name or "@" not in email or not team:
            raise CommandError(f"{where}: name, email and teamId are required (got {row!r})")
        if not rules.valid_zone(tz):
            raise CommandError(f"{where}: unknown time zone {tz!r}")
        if email in seen or _run(api.db.execute(sql.learner_by_email(email))).first():
            raise CommandError(
                f"{where}: {email} is already enrolled "
                f"(a lost link: `python build.py learners invite {email}`)"
            )
        seen.add(email)
        checked.append((name, email, team, tz))
    return checked


def read_csv(path: Path) -> list[dict[str, str]]:
    """Read learners from a CSV with a header: name,email,teamId[,tz]."""
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"name", "email", "teamId"} - set(reader.fieldnames or ())
        if missing:
            raise CommandError(
                f"{path}:1: missing column(s) {', '.join(sorted(missing))} "
                "(header: name,email,teamId[,tz])"
            )
        return [dict(row) for row in reader]


def progress_rows(settings: Settings) -> list[dict[str, Any]]:
    """Every learner's progress, as the API computes it."""
    api = _api(settings)

    async def collect() -> list[dict[str, Any]]:
        course = await api.learning.course()
        known = await insight.published(api.db)
        result = []
        for row in (await api.db.execute(sql.all_learners())).rows:
            learner = await api.learning.place(cast(Learner, row), course)
            progress = await api.progress_of(learner, course)
            done = (await api.db.execute(sql.completed_steps(learner["id"]))).rows
            versions = [row["course_version"] for row in done]
            result.append(
                {
                    "userId": progress["userId"],
                    "name": progress["name"],
                    "teamId": progress["teamId"],
                    "xp": progress["xp"],
                    "level": progress["level"],
                    "completed": len(progress["completed"]),
                    "totalSteps": progress["totalSteps"],
                    "currentStep": progress["currentStep"]["id"]
                    if progress["currentStep"]
                    else "(finished)",
                    "streak": progress["streak"]["current"],
                    "badges": " ".join(b["id"] for b in progress["badges"] if b["earnedAt"]),
                    # The version they follow now, and those they finished steps under, in order.
                    "courseVersion": learner["course_version"],
                    "versionsFollowed": insight.followed(known, versions),
                }
            )
        return result

    try:
        return _run(collect())
    except ApiError as exc:
        raise CommandError(exc.message) from None


def table(rows: list[dict[str, Any]]) -> str:
    """A plain text table for the terminal."""
    if not rows:
        return "(no learners)"
    columns = ["name", "teamId", "xp", "completed", "currentStep", "streak", "userId"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    for row in rows:
        cells = [
            str(row[c]) if c != "completed" else f"{row[c]}/{row['totalSteps']}" for c in columns
        ]
        lines.append(
            "  ".join(cell.ljust(widths[c]) for cell, c in zip(cells, columns, strict=True))
        )
    return "\n".join(lines)


def reset(settings: Settings, user_id: str) -> str:
    """Start a learner's course again (the API's reset); return the step they are back on."""
    try:
        course = _run(_api(settings).learning.reset(user_id))
    except ApiError as exc:
        if exc.code == "unknown_learner":
            raise CommandError(f"no learner '{user_id}'") from None
        raise CommandError(exc.message) from None
    return course.first or "(empty course)"


def nudge(settings: Settings, user_ids: list[str], team: str | None) -> list[dict[str, Any]]:
    """Email a reminder to stalled learners (the given ones, or every stalled one of `team`):
    what the admin page's "Remind" does, once a day per learner at most, logged."""
    from api import nudges

    if settings.smtp is None:
        raise CommandError("reminders need email: set SILLON_SMTP_URL and SILLON_SMTP_FROM")
    api = _api(settings)
    try:
        if team is not None:
            rows = _run(insight.team_learners(api.db, team, api.clock()))
            user_ids = [row["userId"] for row in rows if row["stalled"]]
            if not user_ids:
                return []
        return _run(nudges.remind(api, user_ids, settings.site_url(), "cli"))
    except ApiError as exc:
        raise CommandError(exc.message) from None
