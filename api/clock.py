"""Time: the clock the API runs on (tests give it a fake one) and its ISO-8601 text form.

Its own module so that every other one (learning, xAPI, insight, the LRS forwarder) can use it
without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """`2026-12-02T06:18:25.123Z`: the one text form of a moment in the database and answers."""
    # isoformat truncates to the millisecond as strftime's %f[:-3] did, at a third of its cost
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_iso(text: str) -> datetime:
    """Read back what `iso` wrote."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
