"""The admin page of cohort insight: built apart from every learner page, and used in real
Chromium against a real `serve` of the example course (sign-in, the steps table, the CSV
download, the learners, another team, sign-out)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import page_errors, screenshot
from support.client import event
from support.insight import STEPS_HEADER, insight_course
from support.launch import ADMIN, Site

from builder.config import BuildConfig
from builder.pipeline import build


def test_insight_admin_page_is_built_and_linked_from_no_learner_page(tmp_path: Path) -> None:
    config = BuildConfig.make(
        content=insight_course(tmp_path / "course"), out=tmp_path / "site", disk_cache=False
    )
    build(config)
    page = (config.out / "admin/index.html").read_text()
    assert '<input id="admin-token" name="token" type="password"' in page
    assert "<script>" not in page and "style=" not in page, "strict CSP: no inline code"
    assert 'src="/static/admin.' in page and "noindex" in page
    for other in config.out.rglob("*.html"):
        if other.name != "index.html" or other.parent.name != "admin":
            assert "/admin" not in other.read_text(), other


def seed(site: Site) -> None:
    """Team blue: Ada (the first video watched) and Bob, both placed; team red: Cy."""
    for name in ("Ada", "Bob"):
        created = site.enroll(name, team="blue")
        with httpx.Client(base_url=site.url) as learner:
            learner.post("/api/session", json={"inviteToken": created["inviteToken"]})
            assert learner.get("/api/learner").status_code == 200  # placed on the first step
            if name == "Ada":  # the first video (9 s): started, then reported whole 0.3 s on
                body = {"eventId": event(), "stepId": "som01-bienvenue", "intervals": []}
                assert learner.post("/api/video-event", json=body).status_code == 200
                time.sleep(0.3)  # 95% of 9 s at 2x, less the 4 s slack: 0.275 s
                body = {"eventId": event(), "stepId": "som01-bienvenue", "intervals": [[0, 9]]}
                assert learner.post("/api/video-event", json=body).json()["complete"] is True
    site.enroll("Cy", team="red")


def sign_in_as_admin(page: Any, site: Site) -> None:
    """A wrong token refused, then the right one: team blue's steps are shown."""
    page.goto(site.url + "/admin/")
    page.fill("#admin-token", "not-the-token")
    page.click("#admin-login button[type=submit]")
    page.wait_for_selector("#admin-error:not([hidden])", timeout=15_000)
    assert page.text_content("#admin-error") == "Ce jeton n'est pas accepté."
    page.fill("#admin-token", ADMIN)
    page.click("#admin-login button[type=submit]")
    page.wait_for_selector("#admin-steps tbody tr", timeout=15_000)


def check_team_steps(page: Any) -> None:
    """Team blue's figures, and the token kept for the tab only."""
    assert page.input_value("#admin-team") == "blue"
    assert page.text_content("[data-fill='learners']") == "2"
    first = page.locator("#admin-steps tbody tr[data-step-id='som01-bienvenue'] td")
    cells = [" ".join(t.split()) for t in first.all_text_contents()]
    # position, module, on the step (Bob, and Ada: her video done, the step stays open until
    # she moves on), stalled, finished by (Ada), median, first try
    assert cells[:4] == ["1", "SOM01", "2", "0"] and cells[4].startswith("1 (50")
    assert page.locator("#admin-steps caption").text_content() == "Le parcours étape par étape"
    screenshot(page, "admin-insight-1280")
    assert page.evaluate("sessionStorage.getItem('sillon-admin-token')") == ADMIN
    assert page.evaluate("localStorage.getItem('sillon-admin-token')") is None


def check_steps_download(page: Any) -> None:
    """The steps table downloaded as CSV."""
    with page.expect_download() as downloading:
        page.click("[data-csv='steps']")
    download = downloading.value
    assert download.suggested_filename == "insight-blue-steps.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
    assert list(rows[0]) == STEPS_HEADER
    assert (rows[0]["stepId"], rows[0]["completed"], rows[0]["onStep"]) == (
        "som01-bienvenue",
        "1",
        "2",
    )


def check_learners(page: Any) -> None:
    """The learners table, opened: Ada's row."""
    page.click("#admin-learners summary")
    page.wait_for_selector("#admin-learners tbody tr", timeout=15_000)
    page.locator("#admin-learners").scroll_into_view_if_needed()
    screenshot(page, "admin-insight-learners-1280")
    ada = page.locator("#admin-learners tbody tr", has_text="Ada").locator("td")
    # the reminder's box (none: not stalled, test_nudges_browser.py), open step (its title),
    # last active (a date: test_insight_day.py), version followed,
    # versions of finished steps, finished, streak, how many notes (none), and the buttons that
    # re-issue the learner's sign-in link and reset them (test_insight_day.py)
    found = [" ".join(t.split()) for t in ada.all_text_contents()]
    assert found[:2] + found[3:] == [
        "",
        "Bienvenue dans le cours",
        "v1",
        "v1",
        "1",
        "1",
        "0",
        "Nouveau lien",
        "Réinitialiser",
    ]
    page.once("dialog", lambda dialog: dialog.accept())  # "Send Ada a new link?"
    ada.locator("button", has_text="Nouveau lien").click()
    page.wait_for_selector("#admin-reissued:not([hidden])", timeout=15_000)
    link = page.input_value("#admin-reissued-url")
    token = link.split("/join/#", 1)[1]
    with httpx.Client(base_url=link.split("/join/", 1)[0]) as other:
        opened = other.post("/api/session", json={"inviteToken": token})
        assert opened.status_code == 200 and opened.json()["name"] == "Ada", opened.text


def check_other_team_and_sign_out(page: Any) -> None:
    """Team red, kept over a reload; signing out forgets the token."""
    page.select_option("#admin-team", "red")
    page.wait_for_selector("#admin-team-view[data-team='red']", timeout=15_000)
    assert page.text_content("[data-fill='learners']") == "1"
    page.reload()  # the token stays for the tab, the team in the address
    page.wait_for_selector("#admin-team-view[data-team='red']", timeout=15_000)
    page.click("#admin-sign-out")
    assert page.evaluate("sessionStorage.getItem('sillon-admin-token')") is None
    assert page.is_visible("#admin-login")


@pytest.mark.live
@pytest.mark.slow
def test_insight_admin_page_in_chromium(browser: Any, site: Site) -> None:
    seed(site)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems = page_errors(page)
    try:
        sign_in_as_admin(page, site)
        check_team_steps(page)
        check_steps_download(page)
        check_learners(page)
        check_other_team_and_sign_out(page)
    finally:
        context.close()
    assert not problems, problems
