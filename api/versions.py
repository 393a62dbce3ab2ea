"""The current course version, as the API acts on it: read from the database, parsed once, and
kept in the process, so a request does not read `course_versions` every time.

It is read again only when it can have changed:

- a publish made by this process (`published()`, which api.app.publish_manifest calls: the
  admin endpoint, serve's rebuild, `python build.py publish` in-process) takes effect at once:
  the next request reads the current version again;
- a publish made by another process (another serve, `python build.py publish` against the same
  SQLite file, another Worker isolate on the same D1) is seen within RECHECK seconds: a cached
  version older than that is checked against the database (one small read) before use. The
  seconds are the API's clock's (tests move it; a clock set back reads again at once). A
  learner's session read carries the current version too (`told`), so a request that reads
  it needs no read of its own.

A learner placed on a version just replaced is placed again on the next request that reads the
new one (api.learning.Learning.place), so the window is that of any request already in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from . import sql
from .clock import Clock
from .course import Course, parse_manifest
from .errors import ApiError
from .storage import Database

RECHECK = 1.0  # seconds a version read from the database is used without looking again

_publishes = 0  # publishes made by this process: a cache that saw fewer reads again


def publishes() -> int:
    """How many publishes this process made (a read after it knows of them all)."""
    return _publishes


def published() -> None:
    """Say that this process just published a version: every cache reads it on next use."""
    global _publishes
    _publishes += 1


class CurrentCourse:
    """The current version over one database, re-read at most every RECHECK seconds of `clock`
    (at once after a publish of this process); `loaded` is told of each version parsed."""

    def __init__(self, db: Database, clock: Clock, loaded: Callable[[Course], None]) -> None:
        self.db, self.clock, self.loaded = db, clock, loaded
        self.course: Course | None = None
        self.checked: datetime | None = None  # when the database was last read
        self.seen = -1  # the publishes of this process the last read came after

    async def get(self) -> Course:
        """The current version: the kept one while it is fresh, else the database's."""
        if self.course is not None and self.fresh():
            return self.course
        seen, checked = _publishes, self.clock()
        row = (await self.db.execute(sql.current_course())).first()
        if row is None:
            raise ApiError(
                503, "no_course", "No course is published yet (python build.py publish)."
            )
        if self.course is None or self.course.version != row["version"]:
            manifest = (await self.db.execute(sql.course_manifest(row["version"]))).first()
            assert manifest is not None
            self.course = parse_manifest(manifest["manifest"])
            self.loaded(self.course)
        self.seen, self.checked = seen, checked
        return self.course

    def told(self, version: str | None, read_at: datetime, after: int) -> None:
        """A request's read said which version is current (read at `read_at`, after `after`
        publishes of this process: `publishes()` before it): the kept one is fresh again if it
        is that one; another one is read at the next `get`."""
        if self.course is not None and self.course.version == version:
            self.seen, self.checked = after, read_at
        else:
            self.checked = None

    def fresh(self) -> bool:
        if self.checked is None or self.seen != _publishes:
            return False
        return 0 <= (self.clock() - self.checked).total_seconds() < RECHECK
