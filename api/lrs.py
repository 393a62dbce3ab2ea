"""Forwarding xAPI statements to an external Learning Record Store (optional).

The statements an event makes are written with it (api/xapi.py); the ones after the place kept
in `xapi_outbox` (the seq up to which the LRS has had them) are an outbox. A learner's request
never waits for the LRS: it only nudges the forwarder, which sends the outbox in order, in
batches, with `POST {SILLON_LRS_URL}/statements` (xAPI 1.0.3, HTTP Basic), and retries with
exponential backoff while the LRS is unreachable, overloaded or refuses the credentials. A
batch the LRS rejects as a whole (400, 409, 413) is sent again one statement at a time, so one
statement it will never take (logged, then passed) does not hold up the rest. Each delivery
moves the place once: one row written per batch, whatever its size.

Locally, `python build.py serve` runs the forwarder beside the app; on Cloudflare the Worker's
cron trigger (wrangler.toml `[triggers]`) calls `Forwarder.flush` every minute.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import sql
from .storage import Database
from .xapi import VERSION

if TYPE_CHECKING:  # imported when forwarding is on, not by every Worker isolate
    import httpx

log = logging.getLogger("sillon.lrs")

BATCH = 50
RETRY_STATUSES = {401, 403, 404, 408, 425, 429}  # and every 5xx: the LRS or its set-up, not us
URL_ENV, USERNAME_ENV, PASSWORD_ENV = "SILLON_LRS_URL", "SILLON_LRS_USERNAME", "SILLON_LRS_PASSWORD"


@dataclass(frozen=True)
class LrsConfig:
    url: str  # the LRS's xAPI endpoint, e.g. https://lrs.example.org/xapi
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str | None]) -> LrsConfig | None:
        """SILLON_LRS_URL (+ _USERNAME/_PASSWORD, secrets), or None when forwarding is off."""
        url = (env.get(URL_ENV) or "").strip()
        if not url:
            return None
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{URL_ENV} must be an http(s) URL, not {url!r}")
        return cls(url.rstrip("/"), env.get(USERNAME_ENV) or None, env.get(PASSWORD_ENV) or None)


class Unavailable(Exception):
    """The LRS did not take a batch this time (network, 5xx, 429, credentials): retry later."""


class Forwarder:
    """Sends the outbox to one LRS; `run` keeps doing so, `flush` does it once."""

    def __init__(
        self,
        db: Database,
        config: LrsConfig,
        client: httpx.AsyncClient | None = None,
        backoff: tuple[float, float] = (1.0, 300.0),
        poll: float = 30.0,
    ) -> None:
        self.db, self.config = db, config
        self.client = client  # None: a client per flush, on the loop that flushes
        self.backoff, self.poll = backoff, poll
        self.wake = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None  # where `run` waits
        self.rejected = 0
        self.failures = 0  # consecutive failed attempts (drives the backoff)

    def nudge(self) -> None:
        """New statements are waiting (called after a learner's event; never blocks)."""
        if self.loop is None:
            return  # not running: `flush` (the Worker's cron) takes them when it comes
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is self.loop:
            self.wake.set()
        else:  # an event answered on another loop or thread
            self.loop.call_soon_threadsafe(self.wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        """Forward until `stop`: at each nudge, every `poll` seconds, backing off on failure."""
        self.loop = asyncio.get_running_loop()
        while not stop.is_set():
            self.wake.clear()  # before sending: a nudge during the flush is not lost
            try:
                await self.flush()
                self.failures = 0
                delay = self.poll
            except Unavailable as exc:
                self.failures += 1
                delay = self.delay()
                log.warning("LRS unavailable (%s); next try in %.1f s", exc, delay)
            except Exception:  # a bug or a database problem must not end forwarding for good
                self.failures += 1
                delay = self.delay()
                log.exception("forwarding xAPI statements failed; next try in %.1f s", delay)
            waits = {asyncio.ensure_future(stop.wait())}
            if not self.failures:
                waits.add(asyncio.ensure_future(self.wake.wait()))
            await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            for waiting in waits:
                waiting.cancel()

    def delay(self) -> float:
        """Exponential backoff with jitter: base x 2^(failures-1), at most the cap."""
        base, cap = self.backoff
        return float(min(cap, base * 2 ** (self.failures - 1)) * random.uniform(0.5, 1.0))

    async def flush(self) -> int:
        """Send everything waiting, oldest first; return how many statements the LRS took."""
        import httpx

        if self.client is not None:
            return await self._flush(self.client)
        async with httpx.AsyncClient(timeout=10.0) as client:
            return await self._flush(client)

    async def _flush(self, client: httpx.AsyncClient) -> int:
        sent = 0
        while True:
            rows = (await self.db.execute(sql.statements_to_forward(BATCH))).rows
            if not rows:
                return sent
            batch = [(int(r["seq"]), str(r["statement"])) for r in rows]
            if await self.send(client, batch):
                await self.mark(batch[-1][0])
                sent += len(batch)
                continue
            for single in batch:  # the LRS refused the batch: find the statement it refuses
                if await self.send(client, [single]):
                    sent += 1
                else:
                    self.rejected += 1
                    log.error("the LRS refused xAPI statement #%d for good; skipped", single[0])
                await self.mark(single[0])

    async def send(self, client: httpx.AsyncClient, batch: list[tuple[int, str]]) -> bool:
        """POST a batch: True when taken, False when refused for good, Unavailable to retry."""
        import httpx

        body = "[" + ",".join(text for _, text in batch) + "]"
        options: dict[str, Any] = {}
        if self.config.username is not None:
            options["auth"] = httpx.BasicAuth(self.config.username, self.config.password or "")
        try:
            response = await client.post(
                f"{self.config.url}/statements",
                content=body.encode(),
                **options,
                headers={"X-Experience-API-Version": VERSION, "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code in RETRY_STATUSES or response.status_code >= 500:
            raise Unavailable(f"HTTP {response.status_code}")
        if 200 <= response.status_code < 300:
            return True
        detail = response.text[:200]
        log.warning(
            "LRS answered %d to %d statement(s): %s", response.status_code, len(batch), detail
        )
        return False

    async def mark(self, through: int) -> None:
        """Move the outbox's place past `through` (one row written, however many were sent)."""
        await self.db.batch([sql.statements_forwarded(through)])
