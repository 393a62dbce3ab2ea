"""Abuse limits: token buckets per address, per session and per sign-in link, answered 429.

In-process buckets: exact for the local server (one process); on Cloudflare each Worker isolate
keeps its own, so the limits there are per isolate (Cloudflare's rate limiting rules are the
place for a global ceiling). The numbers are documented in the README ("Abuse limits").

Opening a session is limited three ways, because a classroom and a guesser differ in how their
attempts end: a class behind one NAT opens its invites all at once and they succeed; a guesser's
fail. SESSION (every attempt, per address) has a burst for two classes of 30; SESSION_FAILURES
(unknown tokens, per address) is strict, and once it is empty the address may try no token at
all, a right one neither, so a hit cannot slip by; LINK (every try of one token, from any
address) keeps a known link (a used one, one seen over a shoulder) from being hammered.

Why guessing stays hopeless: a token is 32 random bytes (api/auth.py), 2^256 = 1.16e77 of them,
and the server finds it by its SHA-256, so a wrong token is answered the same 401 whatever it
resembles: there is no prefix to find a piece at a time. With a million live links (invites,
and device and email links for their minutes), a random guess hits one with probability
1e6 / 2^256, so a hit takes 2^256 / 1e6 = 1.16e71 guesses on average. One address may fail 6
times a minute after its first 10, 3.16e6 a year: 3.7e64 years for one hit; a million addresses
(or Worker isolates) together, 3.7e58 years. Attempts sent together all pass the failures'
check before the first is spent, so a guesser timing them can reach SESSION's 30 a minute:
7.3e63 years, 7.3e57 from a million addresses. Even a billion guesses a second, unlimited,
take 3.7e54 years; the universe is 1.4e10 years old. The limits keep a guesser's load on the
database small; the tokens' entropy is what keeps the accounts.
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


# Opening a session (and asking for a sign-in email), every attempt, per address: two classes
# of 30 behind one NAT at once, then a class a minute (a refused join page retries by itself).
SESSION = Rule("session", capacity=60, per_minute=30)
# Attempts with a token that opens nothing because no link has it (401), per address: a
# classroom's succeed, a guesser's fail. Checked before every attempt, spent by a failed one.
SESSION_FAILURES = Rule("session-failures", capacity=10, per_minute=6)
# Tries of one token (by its hash), from any address, whatever their answer.
LINK = Rule("link", capacity=5, per_minute=2)
# Learner events, per session: the player reports every 15 s while a video plays (4/min), at
# once on play, pause and seek, and, after an outage, replays its queue one event at a time.
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
# Exports of a learner's data, per learner: each reads every row about them.
EXPORTS = Rule("exports", capacity=5, per_minute=1)
MAX_BUCKETS = 100_000


class Limiter:
    def __init__(self) -> None:
        self.buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, rule: Rule, key: str, now: float, spend: bool = True) -> None:
        """Spend one token of `key`'s bucket (or, not `spend`ing, only see that one is left),
        or refuse with 429 and when to retry."""
        tokens, updated = self.buckets.get((rule.name, key), (float(rule.capacity), now))
        tokens = min(float(rule.capacity), tokens + max(0.0, now - updated) * rule.per_second)
        if tokens < 1.0:
            retry = math.ceil((1.0 - tokens) / rule.per_second)
            raise TooMany(rule, retry)
        if not spend:
            return
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
