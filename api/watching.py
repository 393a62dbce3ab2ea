"""Video reports: what a report of watched intervals decides, and a mid-video report in one
database call.

The player reports the media intervals watched (api/rules.py checks and merges them, and alone
decides when the step completes). A report is *plain* when it completes nothing, awards
nothing and counts no learning day: it merges intervals and, for a play, pause or seek, writes
that down as an xAPI statement whose id derives from the event id. Both are the same if done
twice, so a plain report writes no event record (`events`): sent again, it is decided again
and answers the same. Every other report is recorded once and a replay gets its first answer
(api/learning.py `commit`).

Plain reports are what a watching learner sends all the time (heartbeats while the video
plays, and its plays, pauses and seeks). When this process decided the learner's previous
report on the step, it still knows what that decision left: the learner, the course version,
the saved intervals and their row revision (`Known`, one per caller, the last SIZE callers).
The next report is decided from that, without reading, and if plain it is written by one
UPDATE that checks every premise in the database (sql.save_known_view): the caller's session
(or Cloudflare Access's learner), the open step on a course version still current, the step's
done state, the row's revision, the event id not recorded. One database call: for a heartbeat
one statement and one row written; for a play, pause or seek, the xAPI statement in the same
batch behind a guard. If a premise fails (another process or Worker isolate served the learner
meanwhile, a publish, a sign-out, a reset, a move on, a replay) the UPDATE changes nothing and
the report is decided again from the database like any other: the answer is the same.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from . import rules, sql
from .auth import SEEN_EVERY
from .clock import iso
from .course import Course, StepInfo
from .errors import ApiError
from .learner import Learner
from .outcome import Outcome
from .storage import Conflict, Database, Statement

if TYPE_CHECKING:
    from .versions import CurrentCourse

SIZE = 5_000  # callers remembered per process (a Worker isolate has 128 MB): ~1 KB each


@dataclass(frozen=True)
class Caller:
    """Who sends a request, as proven: ("session", the cookie's token hash) or ("email", the
    address Cloudflare Access vouched for); `seen`, when known: when their use was last written
    down (api/context.py writes it at most once an hour)."""

    kind: str
    key: str
    seen: str | None = None


@dataclass(frozen=True)
class View:
    """A learner's watched intervals of one video step, as saved, with the row's revision."""

    intervals: list[rules.Interval]
    watched: float
    first_play_at: str
    revision: int

    @classmethod
    def of(cls, row: Mapping[str, Any] | None) -> View | None:
        if row is None:
            return None
        spans = [(float(a), float(b)) for a, b in json.loads(row["intervals"])]
        return cls(spans, float(row["watched"]), row["first_play_at"], int(row["revision"]))


@dataclass(frozen=True)
class Prefetched:
    """A learner's saved view of a step, read with their session (sql.learner_by_session)."""

    step_id: str
    view: View | None

    @classmethod
    def popped(cls, step_id: str | None, row: dict[str, Any]) -> Prefetched | None:
        """Take the view's columns (`view_*`) out of a session read's row."""
        if step_id is None:
            return None
        view = {
            key.removeprefix("view_"): row.pop(key) for key in list(row) if key.startswith("view_")
        }
        return cls(step_id, View.of(view if view["revision"] is not None else None))


@dataclass
class Watch:
    """What one video report decides: the view after it, what else it writes, the answer, and
    the learner as it leaves them (the open step's done state, the streak's day)."""

    step: StepInfo
    before: View | None
    after: View
    outcome: Outcome
    answer: dict[str, Any]
    learner: Learner

    @property
    def plain(self) -> bool:
        """Nothing completed, awarded or counted: the merged intervals and, for a play, pause
        or seek, its xAPI statement (whose id derives from the event id) are all it writes,
        both the same if written twice: nothing to record for a replay."""
        return not self.outcome.statements

    def trail(self, learner_id: str, event_id: str, now: str) -> list[Statement]:
        """The xAPI statements of a play, pause or seek (none for a heartbeat)."""
        return self.outcome.trail.records(event_id, now) if self.outcome.trail else []

    def save(self, learner_id: str) -> list[Statement]:
        """Save the merged intervals: the first ones by an INSERT (a row there already breaks
        its key), later ones only over the revision that was read (else: Conflict)."""
        intervals, after = json.dumps(self.after.intervals), self.after
        if self.before is None:
            return [
                sql.insert_video_view(
                    learner_id, self.step.id, intervals, after.watched, after.first_play_at
                )
            ]
        revision = self.before.revision
        return [
            sql.video_view_unchanged(learner_id, self.step.id, revision),
            sql.save_video_view(
                learner_id, self.step.id, intervals, after.watched, after.first_play_at, revision
            ),
        ]


class Decider(Protocol):
    """What decides a report (api/learning.py's Learning): its database, clock and course."""

    db: Database
    current: CurrentCourse

    def clock(self) -> datetime: ...

    def recorded(self) -> None: ...

    def watch(
        self,
        learner: Learner,
        course: Course,
        before: View | None,
        body: Mapping[str, Any],
        now: datetime,
    ) -> Watch: ...


@dataclass(frozen=True)
class Known:
    """What a caller's last video report left, as this process decided it (`seen`: Caller's)."""

    learner: Learner
    version: str
    view: View
    seen: str | None


class Watching:
    """The callers' `Known`, least recently reporting forgotten first."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self.known: OrderedDict[tuple[str, str], Known] = OrderedDict()

    def remember(self, caller: Caller, course: Course, watch: Watch) -> None:
        key = (caller.kind, caller.key)
        self.known[key] = Known(watch.learner, course.version, watch.after, caller.seen)
        self.known.move_to_end(key)
        while len(self.known) > self.size:
            self.known.popitem(last=False)

    def forget(self, caller: Caller) -> None:
        self.known.pop((caller.kind, caller.key), None)

    async def report(
        self, learning: Decider, caller: Caller, event_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Decide and write a plain report in one call from what this process knows
        (`save_plain`); None when it cannot (nothing known, not plain, refused, a premise
        failed): decide it again."""
        known = self.known.get((caller.kind, caller.key))
        course = learning.current.course
        now = learning.clock()
        if known is None or course is None or course.version != known.version:
            return None
        if not _fresh_use(known.seen, now):
            return None  # the read path writes the use down (api/context.py)
        try:
            watch = learning.watch(known.learner, course, known.view, body, now)
        except ApiError:
            self.forget(caller)  # the database's state answers why (or that it is fine)
            return None
        if not watch.plain:
            return None
        if not await save_plain(learning, known, watch, caller, event_id):
            self.forget(caller)
            return None
        self.known[(caller.kind, caller.key)] = replace(
            known, learner=watch.learner, view=watch.after
        )
        self.known.move_to_end((caller.kind, caller.key))
        return watch.answer


async def save_plain(
    learning: Decider, known: Known, watch: Watch, caller: Caller, event_id: str
) -> bool:
    """Write a plain report decided from `known` in one call, if its premises hold (else
    nothing: False). The save alone for a heartbeat; for a play, pause or seek, the save, a
    guard that aborts the batch unless the save changed its row, and the xAPI statement. Used
    by `report` and, once the state is read, by every plain report on a saved view
    (api/learning.py `video_event`): the same premises as its guards, in one statement."""
    now = iso(learning.clock())
    trail = watch.trail(known.learner["id"], event_id, now)
    guarded = [sql.known_view_saved(), *trail] if trail else []
    try:
        save = _save(known, watch, caller, event_id, now)
        saved = (await learning.db.batch([save, *guarded]))[0].changes == 1
    except Conflict:
        return False
    if saved and trail:
        learning.recorded()
    return saved


def _save(known: Known, watch: Watch, caller: Caller, event_id: str, now: str) -> Statement:
    """The one statement that saves a report decided from `known`, if its premises hold."""
    return sql.save_known_view(
        learner_id=known.learner["id"],
        step_id=watch.step.id,
        intervals=json.dumps(watch.after.intervals),
        watched=watch.after.watched,
        now=now,
        revision=known.view.revision,
        version=known.version,
        done=bool(known.learner["open_done"]),
        event_id=event_id,
        caller=(caller.kind, caller.key),
    )


def _fresh_use(seen: str | None, now: datetime) -> bool:
    return seen is not None and seen > iso(now - SEEN_EVERY)
