"""xAPI: every learning event also as an xAPI 1.0.3 statement (ADL's video profile for videos).

Statements are made from what the server decided (merged watched intervals, grades, the steps
it closed), never from what the client claims, and written in the same batch as the event they
describe: they exist exactly when the event does, and a replayed event (same derived statement
ids) adds none. Admins read them from `GET /api/xapi/statements`; `api/lrs.py` can forward them
to an external Learning Record Store.

Vocabulary:
- video steps (https://w3id.org/xapi/video): `played`, `paused`, `seeked` as the player reports
  them, `completed` when the server completes the step (result extensions `progress` and
  `played-segments`, context extension `length`);
- text lessons and modules: ADL `completed`; quizzes (built-in and Tally): ADL `passed` or
  `failed` with the scaled score.
Activity ids are IRIs under the site's base URL (`SILLON_BASE_URL`), learners are accounts on it
(`account.name` is the learner id: no e-mail address leaves the platform).
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from . import sql
from .clock import iso
from .course import Course, StepInfo
from .errors import ApiError
from .learner import Learner
from .storage import Database, Statement

VERSION = "1.0.3"
DEFAULT_SITE = "http://127.0.0.1:8000"
# Statement ids are uuid5(NAMESPACE, learner/event/verb): the same event always makes the same ids.
NAMESPACE = uuid.UUID("5f0c6a52-8a8e-4f57-9c1e-5b1d1c2f3a40")

VIDEO = "https://w3id.org/xapi/video"
ADL_VERB = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITY = "http://adlnet.gov/expapi/activities/"
VERBS = {
    "played": f"{VIDEO}/verbs/played",
    "paused": f"{VIDEO}/verbs/paused",
    "seeked": f"{VIDEO}/verbs/seeked",
    "completed": f"{ADL_VERB}completed",
    "passed": f"{ADL_VERB}passed",
    "failed": f"{ADL_VERB}failed",
}
VIDEO_ACTIONS = ("played", "paused", "seeked")
TYPES = {
    "video": f"{VIDEO}/activity-type/video",
    "lesson": f"{ADL_ACTIVITY}lesson",
    "quiz": f"{ADL_ACTIVITY}assessment",
    "module": f"{ADL_ACTIVITY}module",
    "course": f"{ADL_ACTIVITY}course",
    "profile": f"{ADL_ACTIVITY}profile",
}
EXT_TIME = f"{VIDEO}/extensions/time"
EXT_TIME_FROM = f"{VIDEO}/extensions/time-from"
EXT_TIME_TO = f"{VIDEO}/extensions/time-to"
EXT_PROGRESS = f"{VIDEO}/extensions/progress"
EXT_SEGMENTS = f"{VIDEO}/extensions/played-segments"
EXT_LENGTH = f"{VIDEO}/extensions/length"
EXT_THRESHOLD = f"{VIDEO}/extensions/completion-threshold"
EXT_SESSION = f"{VIDEO}/extensions/session-id"
PAGE_SIZE, PAGE_MAX = 100, 500
TIME_SLACK = 1.0  # media seconds a reported position may exceed the duration by (rounding)


@dataclass(frozen=True)
class VideoAction:
    """A media interaction the player reports with a video event (optional in the API)."""

    verb: str  # played | paused | seeked
    time: float  # the position, or the seek's target
    time_from: float | None = None


def video_action(body: Mapping[str, Any], duration: float) -> VideoAction | None:
    """Read the optional `action` of a video event: 422 when it is malformed, None when absent."""
    verb = body.get("action")
    if verb is None:
        return None
    if verb not in VIDEO_ACTIONS:
        raise ApiError(422, "invalid", f"'action' must be one of {', '.join(VIDEO_ACTIONS)}.")

    def position(name: str) -> float:
        value = body.get(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= duration + TIME_SLACK
        ):
            raise ApiError(
                422, "invalid", f"'{name}' must be a media time between 0 and {duration} s."
            )
        return min(float(value), duration)

    if verb == "seeked":
        return VideoAction(verb, position("timeTo"), position("timeFrom"))
    return VideoAction(verb, position("time"))


class Statements:
    """Builds the statements of one learner's event into the event's batch."""

    def __init__(self, site: str, learner: Learner, course: Course) -> None:
        self.site = site.rstrip("/")
        self.learner = learner
        self.course = course
        self.made: list[dict[str, Any]] = []

    def video(
        self,
        step: StepInfo,
        action: VideoAction | None,
        segments: list[tuple[float, float]],
        watched: float,
        completed: bool,
        completion: float,
    ) -> None:
        duration = step.duration or 0.0
        length = {EXT_LENGTH: duration}
        played = _segments(segments)
        progress = round(min(1.0, watched / duration), 4) if duration else 0.0
        where: dict[str, Any]
        if action is not None and action.verb == "seeked":
            assert action.time_from is not None
            where = {EXT_TIME_FROM: _time(action.time_from), EXT_TIME_TO: _time(action.time)}
            self.add(step, "seeked", {"extensions": where}, {})
        elif action is not None and action.verb == "paused":
            where = {EXT_TIME: _time(action.time), EXT_SEGMENTS: played, EXT_PROGRESS: progress}
            self.add(step, "paused", {"extensions": where}, length)
        elif action is not None:
            self.add(step, "played", {"extensions": {EXT_TIME: _time(action.time)}}, {})
        if completed:
            end = action.time if action is not None else (segments[-1][1] if segments else 0.0)
            where = {EXT_TIME: _time(end), EXT_SEGMENTS: played, EXT_PROGRESS: progress}
            result = {"completion": True, "extensions": where}
            self.add(step, "completed", result, {**length, EXT_THRESHOLD: completion})

    def lesson(self, step: StepInfo) -> None:
        self.add(step, "completed", {"completion": True}, {})

    def quiz(self, step: StepInfo, score: float, passed: bool, source: str) -> None:
        result = {
            "score": {"scaled": round(score, 4)},
            "success": passed,
            "completion": passed,
            "extensions": {f"{self.site}/xapi/extensions/source": source},
        }
        self.add(step, "passed" if passed else "failed", result, {})

    def module(self, module_id: str) -> None:
        activity = self.activity(f"modules/{module_id}", "module", module_id)
        self.made.append(self.statement("completed", activity, {"completion": True}, None, {}))

    def add(
        self, step: StepInfo, verb: str, result: dict[str, Any], extensions: dict[str, Any]
    ) -> None:
        activity = self.activity(f"steps/{step.id}", step.kind, step.title)
        module = self.activity(f"modules/{step.module}", "module", step.module)
        self.made.append(self.statement(verb, activity, result, module, extensions))

    def activity(self, path: str, kind: str, name: str) -> dict[str, Any]:
        language = self.course.language
        return {
            "objectType": "Activity",
            "id": f"{self.site}/{path}",
            "definition": {"type": TYPES[kind], "name": {language: name or path}},
        }

    def statement(
        self,
        verb: str,
        activity: dict[str, Any],
        result: dict[str, Any],
        parent: dict[str, Any] | None,
        extensions: dict[str, Any],
    ) -> dict[str, Any]:
        learner, course = self.learner, self.course
        course_activity = self.activity("", "course", course.title)
        parents = [parent, course_activity] if parent else [course_activity]
        context: dict[str, Any] = {
            "platform": "Sillon",
            "language": course.language,
            "contextActivities": {"parent": parents},
            "extensions": {
                **extensions,
                f"{self.site}/xapi/extensions/course-version": course.version,
            },
        }
        if activity["definition"]["type"] == TYPES["video"]:
            profile = {"id": VIDEO, "definition": {"type": TYPES["profile"]}}
            context["contextActivities"]["category"] = [profile]
            # The profile's viewing session: the step's one opening for this learner.
            opening = f"{learner['id']}/{activity['id']}/{learner.get('opened_at')}"
            context["extensions"][EXT_SESSION] = str(uuid.uuid5(NAMESPACE, opening))
        return {
            "actor": {
                "objectType": "Agent",
                "name": learner["name"],
                "account": {"homePage": self.site + "/", "name": learner["id"]},
            },
            "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
            "object": activity,
            "result": result,
            "context": context,
            "version": VERSION,
        }

    def records(self, event_id: str, now: str) -> list[Statement]:
        """The INSERTs for the event's batch, each statement with its id and the server's time.

        `stored` and `authority` are the LRS's to set: `page` adds `stored` when serving.
        """
        rows = []
        for made in self.made:
            key = f"{self.learner['id']}/{event_id}/{made['verb']['id']}/{made['object']['id']}"
            made = {"id": str(uuid.uuid5(NAMESPACE, key)), **made, "timestamp": now}
            text = json.dumps(made, ensure_ascii=False, separators=(",", ":"))
            rows.append(sql.record_statement(made["id"], self.learner["id"], now, text))
        return rows


async def page(db: Database, query: Mapping[str, str], path: str) -> dict[str, Any]:
    """One page of stored statements, as an LRS answers (`statements` and a `more` link).

    Query: `since` (ISO 8601; statements stored at or after it), `limit` (1..500, default 100),
    `cursor` (from `more`). In storing order (a statement stored later always comes after), so
    a reader that follows `more` sees each statement once, and later ones as they come.
    """
    unknown = sorted(set(query) - {"since", "limit", "cursor"})
    if unknown:
        raise ApiError(422, "invalid", f"Unknown parameter '{unknown[0]}'.")
    since = _since(query.get("since"))
    limit = _limit(query.get("limit"))
    after = _cursor(query["cursor"]) if "cursor" in query else 0
    rows = (await db.execute(sql.statements_page(since, after, limit))).rows
    statements = [{**json.loads(r["statement"]), "stored": r["stored"]} for r in rows]
    more = ""
    if len(rows) == limit:
        last = rows[-1]
        token = base64.urlsafe_b64encode(str(last["seq"]).encode()).decode()
        following = {"since": since, "limit": limit, "cursor": token} if since else {}
        more = f"{path}?{urlencode(following or {'limit': limit, 'cursor': token})}"
    return {"statements": statements, "more": more}


def _since(value: str | None) -> str:
    if value is None:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            422, "invalid", "'since' must be an ISO 8601 time, e.g. 2026-11-24T08:00:00Z."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without offset is taken as UTC
    return iso(moment)


def _limit(value: str | None) -> int:
    if value is None:
        return PAGE_SIZE
    if not value.isdigit() or not 1 <= int(value) <= PAGE_MAX:
        raise ApiError(422, "invalid", f"'limit' must be a whole number from 1 to {PAGE_MAX}.")
    return int(value)


def _cursor(value: str) -> int:
    try:
        text = base64.urlsafe_b64decode(value.encode("ascii")).decode()
        seq = int(text) if text.isascii() and text.isdigit() else -1
        if not 0 <= seq <= sql.SEQ_MAX:
            raise ValueError(text)
        return seq
    except (ValueError, UnicodeError):
        raise ApiError(422, "invalid", "'cursor' must be a value from a 'more' link.") from None


def _segments(segments: list[tuple[float, float]]) -> str:
    """The profile's played-segments text: 'start[.]end' pairs joined by '[,]'."""
    return "[,]".join(f"{_time(a)}[.]{_time(b)}" for a, b in segments)


def _time(value: float) -> float:
    return round(value, 3)
