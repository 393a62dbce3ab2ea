"""The teacher's reminders on the admin page in real Chromium, against `build.py serve` with a
real SMTP server (aiosmtpd): only stalled learners can be ticked, "remind" emails each a link
that signs them in, and a second click the same day is refused row by row."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import WAIT, laptop_page, screenshot
from support.course import EXAMPLE
from support.launch import ADMIN, Site
from support.signin import Inbox, link_in, smtp_server

pytestmark = [pytest.mark.browser, pytest.mark.live]


class MailingSite(Site):
    """serve with the SMTP settings of email sign-in, pointing at `port`."""

    def __init__(self, workdir: Path, content: Path, port: int) -> None:
        self.environment = {
            "SILLON_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "SILLON_SMTP_FROM": "Prof <prof@example.org>",
        }
        super().__init__(workdir, content)


@pytest.fixture
def mailing(tmp_path: Path) -> Iterator[tuple[MailingSite, Inbox]]:
    import shutil

    shutil.copytree(EXAMPLE, tmp_path / "content")
    with smtp_server() as (inbox, port):
        site = MailingSite(tmp_path, tmp_path / "content", port)
        yield site, inbox
        site.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from laptop_page(browser)


def placed(site: Site, name: str) -> str:
    """A learner signed in and placed on the first step; their id."""
    created = site.enroll(name)
    with httpx.Client(base_url=site.url, timeout=10) as client:
        assert client.post("/api/session", json={"inviteToken": created["inviteToken"]}).is_success
        assert client.get("/api/learner").status_code == 200
    return str(created["userId"])


def test_nudges_browser_tick_stalled_and_remind(
    page: Any, mailing: tuple[MailingSite, Inbox]
) -> None:
    site, inbox = mailing
    ada, bob = placed(site, "Ada"), placed(site, "Bob")
    # Ada's step opened 8 days ago (the database as a week of absence leaves it).
    long_ago = (datetime.now(UTC) - timedelta(days=8)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with sqlite3.connect(site.db) as db:
        db.execute("UPDATE learners SET opened_at = ? WHERE id = ?", (long_ago, ada))
    page.goto(site.url + "/admin/")
    page.fill("#admin-token", ADMIN)
    page.click("#admin-login button[type=submit]")
    page.wait_for_selector("#admin-steps tbody tr", timeout=WAIT)
    page.click("#admin-learners summary")
    page.wait_for_selector(f"#admin-learners tr[data-user-id='{bob}']", timeout=WAIT)
    assert page.locator(f"tr[data-user-id='{ada}'] .admin-nudge-pick").count() == 1
    assert page.locator(f"tr[data-user-id='{bob}'] .admin-nudge-pick").count() == 0  # not stalled
    page.click("#admin-nudge-send")
    assert (
        page.text_content("#admin-nudge-status") == "Cochez d'abord au moins un apprenant bloqué."
    )
    page.click("#admin-nudge-all")
    page.click("#admin-nudge-send")
    page.wait_for_function(
        "() => document.getElementById('admin-nudge-status').textContent.startsWith('1 rappel')",
        timeout=WAIT,
    )
    assert inbox.arrived.wait(10)
    (message,) = inbox.messages
    assert message["To"].startswith("ada-")
    assert page.text_content(f"tr[data-user-id='{ada}'] .admin-nudge-result") == " rappel envoyé"
    assert page.is_disabled(f"tr[data-user-id='{ada}'] .admin-nudge-pick")
    page.locator(f"tr[data-user-id='{bob}']").scroll_into_view_if_needed()
    screenshot(page, "nudge-admin-1280")
    # The link signs Ada in, once.
    with httpx.Client(base_url=site.url, timeout=10) as client:
        opened = client.post("/api/session", json={"inviteToken": link_in(message)})
        assert opened.status_code == 200 and opened.json()["userId"] == ada
    # Reloaded, the row says when she was reminded; asking again today is refused.
    page.reload()
    page.click("#admin-learners summary")
    page.wait_for_selector(f"tr[data-user-id='{ada}'] .admin-nudge-when", timeout=WAIT)
    page.check(f"tr[data-user-id='{ada}'] .admin-nudge-pick")
    page.click("#admin-nudge-send")
    page.wait_for_selector(f"tr[data-user-id='{ada}'] .admin-nudge-result", timeout=WAIT)
    assert "déjà relancé" in page.text_content(f"tr[data-user-id='{ada}'] .admin-nudge-result")
    assert len(inbox.messages) == 1
