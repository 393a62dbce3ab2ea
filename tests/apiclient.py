"""The real app (serve's Starlette app, no watcher) on a real SQLite file, with a test clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient
from testclock import ADMIN, TALLY_SECRET, Clock

from api.app import Settings
from builder.config import BuildConfig
from serve.server import create_app


def event() -> str:
    return str(uuid.uuid4())


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Every error: the status, and exactly {"error": {"code", "message"}}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
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
