"""Abuse limits: token buckets per session and per client address, answered 429.

In-process buckets: exact for the local server (one process); on Cloudflare each Worker isolate
keeps its own, so the limits there are per isolate (Cloudflare's rate limiting rules are the
place for a global ceiling). The numbers are documented in the README.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ApiError


@dataclass(frozen=True)
class Rule:
    name: str
    capacity: int  # burst
    per_minute: float  # steady rate

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


# Invite guessing and session opening, per address.
SESSION = Rule("session", capacity=10, per_minute=10)
# Learner events, per session: the player reports every 4 s (15/min) and, after an outage,
# replays its queue one event at a time.
EVENTS = Rule("events", capacity=240, per_minute=120)
# Any write, per address (a classroom behind one NAT shares it).
WRITES = Rule("writes", capacity=1200, per_minute=600)
# Admin calls, per address.
ADMIN = Rule("admin", capacity=60, per_minute=60)
# Sign-in emails, per email address (enrolled or not, so the limit tells nothing): 3 at once,
# then one every 5 minutes. Per client they also spend the SESSION bucket.
EMAIL = Rule("email", capacity=3, per_minute=0.2)
# Device links a learner makes, per learner.
DEVICE_LINKS = Rule("device-links", capacity=10, per_minute=2)
MAX_BUCKETS = 100_000


class Limiter:
    def __init__(self) -> None:
        self.buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, rule: Rule, key: str, now: float) -> None:
        """Spend one token of `key`'s bucket, or refuse with 429 and when to retry."""
        tokens, updated = self.buckets.get((rule.name, key), (float(rule.capacity), now))
        tokens = min(float(rule.capacity), tokens + max(0.0, now - updated) * rule.per_second)
        if tokens < 1.0:
            retry = math.ceil((1.0 - tokens) / rule.per_second)
            raise TooMany(rule, retry)
        if len(self.buckets) >= MAX_BUCKETS:
            self.buckets.clear()  # bounded memory: forgetting is the safe side
        self.buckets[(rule.name, key)] = (tokens - 1.0, now)


class TooMany(ApiError):
    def __init__(self, rule: Rule, retry_after: int) -> None:
        super().__init__(
            429,
            "too_many_requests",
            f"Too many requests ({rule.name}: {rule.per_minute:g} a minute); "
            f"retry in {retry_after} s.",
        )
        self.retry_after = retry_after
