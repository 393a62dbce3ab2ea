"""What the database keeps, and for how long: the retention policy, in one place.

Two tables grow with every learner event; the policy bounds them:

- **Event answers** (`events`, the idempotency record: the answer each event id got, so a
  replay gets the first answer) are kept SILLON_KEEP_EVENTS_DAYS days (default 60). Replays
  come from the player's durable queue (static/queue.js): it keeps an event until the server
  answers it and resends it at the next load of the player in that browser; in practice within
  seconds, at worst when the learner comes back. 60 days is twice a session's life (a session
  ends 30 days after its last use: api/auth.py). An event replayed later than that is decided
  afresh, as a new one, and adds nothing: completions, XP and badges are unique-keyed
  (api/learning.py), watched intervals merge into what is there, a step left since answers
  409 step_closed, a step done answers without awards (tests/test_retention.py). Two traces
  remain: a *failed* built-in quiz attempt replayed on a quiz still open counts as a new
  attempt, and a play, pause or seek replayed on a video still open is written down again as
  an xAPI statement if its statement was pruned too (with its first id: an LRS keeps the
  first and answers 409 to the repeat, which the forwarder logs and skips).
- **xAPI statements** (`xapi_statements`). With an LRS (SILLON_LRS_URL) the LRS is the record:
  a statement is deleted SILLON_KEEP_FORWARDED_DAYS days (default 30) after it was stored,
  and never before the LRS had it (an LRS down for months leaves the outbox whole). Without an
  LRS the table is the only record (GET /api/xapi/statements): a statement is kept
  SILLON_KEEP_XAPI_DAYS days (default 365) after it was stored. Both take `forever`.

Ended sessions and sign-in links are not swept here: they stay few (a learner's ended
sessions are deleted at their next sign-in, their ended device and email links when they get
a new one: api/signin.py), and deleting them for everyone would change answers (a learner's
data export lists ended sessions, a re-issue counts them in `sessionsEnded`, an old link
would answer 401 "not valid" instead of 410 "expired").

A round deletes at most CHUNK rows of each table in one batch and reads little more than it
deletes (api/sql_retention.py). The Worker runs one round at each cron trigger (every minute:
up to 1.44 million rows of each table a day); `python build.py serve` runs a pass (rounds
until nothing is due, pausing between them so requests write in between) at start and then
every hour; `python build.py prune` runs a pass now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from . import sql_retention
from .clock import Clock, iso
from .storage import Database, DatabaseError

log = logging.getLogger("sillon.retention")

CHUNK = 1000  # rows of each table a round deletes, at most
PASS_EVERY = 3600.0  # seconds between serve's passes
PAUSE = 0.05  # seconds between the rounds of a pass: requests write in between
MAX_DAYS = 36_500
FOREVER = "forever"
EVENTS_ENV = "SILLON_KEEP_EVENTS_DAYS"
XAPI_ENV = "SILLON_KEEP_XAPI_DAYS"
FORWARDED_ENV = "SILLON_KEEP_FORWARDED_DAYS"


@dataclass(frozen=True)
class Retention:
    """How many days each kind of row is kept (None: forever)."""

    events_days: int = 60
    xapi_days: int | None = 365  # after storing, without an LRS
    forwarded_days: int | None = 30  # after storing, once forwarded, with an LRS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Retention:
        """The days set in `env`, the defaults for the others (ValueError for a bad value)."""

        def or_forever(name: str, default: int | None) -> int | None:
            value = env.get(name)
            if not value:
                return default
            return None if value.lower() == FOREVER else _days(name, value)

        events = env.get(EVENTS_ENV)
        return cls(
            _days(EVENTS_ENV, events, forever=False) if events else cls.events_days,
            or_forever(XAPI_ENV, cls.xapi_days),
            or_forever(FORWARDED_ENV, cls.forwarded_days),
        )

    def describe(self, lrs: bool) -> str:
        """The policy in force, in one line (for logs and the prune command)."""
        if lrs:
            kept = f"xAPI statements {_said(self.forwarded_days)} once the LRS has them"
        else:
            kept = f"xAPI statements {_said(self.xapi_days)} (no LRS)"
        return f"event answers kept {self.events_days} days, {kept}"


def _days(name: str, value: str, forever: bool = True) -> int:
    """A whole number of days, or ValueError saying what `name` takes."""
    if value.isdigit() and 1 <= int(value) <= MAX_DAYS:
        return int(value)
    other = f", or {FOREVER}" if forever else ""
    raise ValueError(
        f"{name} must be a whole number of days from 1 to {MAX_DAYS}{other}, not {value!r}"
    )


def _said(days: int | None) -> str:
    return "kept forever" if days is None else f"kept {days} days"


@dataclass
class Pruned:
    """Rows deleted, per table."""

    events: int = 0
    statements: int = 0

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __str__(self) -> str:
        return f"{self.events} event answer(s), {self.statements} xAPI statement(s)"


async def prune(
    db: Database,
    policy: Retention,
    now: datetime,
    lrs: bool,
    chunk: int = CHUNK,
) -> Pruned:
    """One round: delete what the policy lets go, at most `chunk` rows of each table, in one
    batch (one D1 round trip); `lrs`: an LRS is configured."""

    def ago(delta: timedelta) -> str:
        return iso(now - delta)

    events = sql_retention.prune_events(ago(timedelta(days=policy.events_days)), chunk)
    statements = {"events": events}
    days = policy.forwarded_days if lrs else policy.xapi_days
    if days is not None:
        prune_xapi = (
            sql_retention.prune_forwarded_statements
            if lrs
            else sql_retention.prune_stored_statements
        )
        statements["statements"] = prune_xapi(ago(timedelta(days=days)), chunk)
    results = await db.batch(list(statements.values()))
    return Pruned(**{name: r.changes for name, r in zip(statements, results, strict=True)})


async def prune_all(
    db: Database,
    policy: Retention,
    now: datetime,
    lrs: bool,
    progress: Callable[[Pruned], None] = lambda pruned: None,
    pause: float = PAUSE,
    chunk: int = CHUNK,
    stop: asyncio.Event | None = None,
) -> Pruned:
    """A pass: rounds until one deletes nothing or `stop` is set, pausing between them;
    `progress` is told of each round that deleted something. The total."""
    total = Pruned()
    while not (stop and stop.is_set()):
        pruned = await prune(db, policy, now, lrs, chunk)
        if not pruned:
            break
        progress(pruned)
        total += pruned
        await asyncio.sleep(pause)
    return total


class Pruner:
    """serve's pruning: a pass at start, then one every `every` seconds, until `stop`."""

    def __init__(
        self,
        db: Database,
        policy: Retention,
        lrs: bool,
        clock: Clock,
        every: float = PASS_EVERY,
    ) -> None:
        self.db, self.policy, self.lrs, self.clock, self.every = db, policy, lrs, clock, every

    async def run(self, stop: asyncio.Event) -> None:
        log.info("retention: %s", self.policy.describe(self.lrs))
        while not stop.is_set():
            try:
                pruned = await prune_all(self.db, self.policy, self.clock(), self.lrs, stop=stop)
                if pruned:
                    log.info("pruned %s", pruned)
            except DatabaseError as exc:  # storage refusing writes, a lock held elsewhere
                log.warning("pruning failed (%s); next try in %.0f s", exc, self.every)
            except Exception:  # a bug must not end pruning for good, nor serve
                log.exception("pruning failed; next try in %.0f s", self.every)
            waiting = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiting}, timeout=self.every)
            waiting.cancel()
