"""The real app (serve's Starlette app, no watcher) on a real SQLite file, with a test clock,
driven in-process: a cohort of learners, each with their own cookie jar."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MethodType
from typing import Any

import httpx
from starlette.testclient import TestClient

from api.app import Api
from api.settings import Settings
from builder.config import BuildConfig
from serve.server import create_app
from support.clock import ADMIN, TALLY_SECRET, Clock

# A request sent by in_flight: (cookies, headers, url, JSON body).
Call = tuple[dict[str, str], dict[str, str], str, dict[str, Any]]


def event() -> str:
    """A new event id."""
    return str(uuid.uuid4())


def move_on(browser: TestClient, step: str, eid: str | None = None) -> httpx.Response:
    """The Next button: leave the done open step for the next one (POST /api/next)."""
    return browser.post("/api/next", json={"eventId": eid or event(), "stepId": step})


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Every error: the status, and exactly {"error": {"code", "message"}}, with `retryAfter`
    (whole seconds, also the Retry-After header) when it says when to try again."""
    assert response.status_code == status, response.text
    body = one_error_shape(response)
    assert body["error"]["code"] == code, body
    return body


def one_error_shape(response: httpx.Response) -> dict[str, Any]:
    """{"error": {"code", "message"}}, both non-empty text, and `retryAfter` (whole seconds
    >= 1, the Retry-After header too) when it says when to try again; the body."""
    body: dict[str, Any] = response.json()
    fields = set(body["error"]) - {"retryAfter"}
    assert set(body) == {"error"} and fields == {"code", "message"}, body
    if "retryAfter" in body["error"]:
        retry = body["error"]["retryAfter"]
        assert isinstance(retry, int) and retry >= 1, body
        assert response.headers["retry-after"] == str(retry), body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body


class Cohort:
    """The app, its clock, and helpers to enroll and sign learners in."""

    def __init__(self, client: TestClient, clock: Clock, db: Path, content: Path) -> None:
        self.client, self.clock, self.db, self.content = client, clock, db, content

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN}"}

    def enroll(
        self, name: str = "Ada", team: str = "t1", email: str | None = None, tz: str | None = None
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "email": email or f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.org",
            "teamId": team,
        }
        if tz:
            body["tz"] = tz
        response = self.client.post("/api/admin/learners", json=body, headers=self.admin())
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def sign_in(self, invite: str) -> TestClient:
        """A separate browser (cookie jar) signed in with the invite token."""
        browser = TestClient(self.client.app, base_url="http://testserver")
        response = browser.post("/api/session", json={"inviteToken": invite})
        assert response.status_code == 200, response.text
        return browser

    def learner(
        self, name: str = "Ada", team: str = "t1", tz: str | None = None
    ) -> tuple[dict[str, Any], TestClient]:
        created = self.enroll(name, team, tz=tz)
        return created, self.sign_in(created["inviteToken"])


@contextmanager
def cohort(content: Path, tmp: Path, **settings: Any) -> Iterator[Cohort]:
    """Build `content` into tmp and serve it in-process, on tmp/sillon.sqlite3."""
    clock = Clock()
    config = BuildConfig.make(
        content=content, out=tmp / "site", private=tmp / "private", disk_cache=False
    )
    db = tmp / "sillon.sqlite3"
    options = {
        "db_path": str(db),
        "admin_token": ADMIN,
        "tally_secret": TALLY_SECRET,
        "secret": "s" * 32,
    }
    options.update(settings)
    app = create_app(config, Settings(**options), watch=False, clock=clock)
    with TestClient(app, base_url="http://testserver") as client:
        yield Cohort(client, clock, db, content)


def in_flight(app: Cohort, calls: list[Call], yielding: bool = False) -> list[httpx.Response]:
    """POST (cookies, headers, url, body) all at once into the running app, in its event loop.

    With `yielding`, every database call first lets the other requests run, as on D1 where each
    statement is a network round trip and no transaction spans them (tests/test_api_interleaving).
    """
    asgi = app.client.app
    db = the_api(asgi).db

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=asgi)
        clients = [
            httpx.AsyncClient(transport=transport, base_url="http://testserver", cookies=cookies)
            for cookies, _, _, _ in calls
        ]
        sent = (
            client.post(url, json=body, headers=headers)
            for client, (_, headers, url, body) in zip(clients, calls, strict=True)
        )
        try:
            if yielding:
                yield_before_each_statement(db)
            return list(await asyncio.gather(*sent))
        finally:
            if yielding:
                del db.execute, db.batch  # the class's own methods again
            for client in clients:
                await client.aclose()

    portal = app.client.portal
    assert portal is not None
    return portal.call(go)


def the_api(asgi: Any) -> Api:
    """The Api object behind serve's app (the owner of its routes' endpoints)."""
    found: Api = next(
        r.endpoint.__self__
        for r in asgi.routes
        if isinstance(getattr(r, "endpoint", None), MethodType)
        and isinstance(r.endpoint.__self__, Api)
    )
    return found


def yield_before_each_statement(db: Any) -> None:
    """Let other requests run before each statement (D1's round trips), on this instance."""
    execute, batch = db.execute, db.batch

    async def execute_later(statement: Any) -> Any:
        await asyncio.sleep(0)
        return await execute(statement)

    async def batch_later(statements: Any) -> Any:
        await asyncio.sleep(0)
        return await batch(statements)

    db.execute, db.batch = execute_later, batch_later
