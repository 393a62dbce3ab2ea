"""The pages of a learner's day in real Chromium (issue 15): the XP toast beside the controls,
no sideways scroll on a phone, the handout's locked entries, signed-out pages, the join page's
pasted link and rate limit, the profile's badges, dates and level, the leaderboard's ties, the
favicon, the dark scheme and the phone's header."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.browser import WAIT, page_errors, screenshot, sign_in
from support.launch import Site

from api import rules

pytestmark = [pytest.mark.browser, pytest.mark.live]

PHONE = {"width": 375, "height": 812}
LAPTOP = {"width": 1280, "height": 800}

# Every visible button and select whose centre is in the viewport, and what is drawn there.
COVERED_CONTROLS = """() => {
  const toast = document.getElementById('toast').getBoundingClientRect();
  return Array.from(document.querySelectorAll('button, select')).filter(function (c) {
    const r = c.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight;
  }).map(function (c) {
    const r = c.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    const overlaps = !(toast.right <= r.left || toast.left >= r.right
      || toast.bottom <= r.top || toast.top >= r.bottom);
    return {control: c.id || c.textContent.trim(), reached: !!hit && c.contains(hit), overlaps};
  }).filter(function (c) { return !c.reached || c.overlaps; });
}"""


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """A page factory: a fresh French browser context of the given viewport for each call; no
    page may raise an error or break the Content Security Policy."""
    contexts: list[Any] = []
    errors: list[list[str]] = []

    def make(viewport: dict[str, int] = LAPTOP, **options: Any) -> Any:
        context = browser.new_context(viewport=viewport, locale="fr-FR", **options)
        contexts.append(context)
        page = context.new_page()
        errors.append(page_errors(page))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not any(errors), errors


def finish_module_one(page: Any, site: Site) -> None:
    """Finish SOM01 through the API as the signed-in page's learner, at the honest pace: the
    first video reported whole (then again once the speed cap allows), the lessons, the quiz
    passed; each done step left for the next (POST /api/next) when the API keeps it open."""
    module = [s for s in site.manifest()["steps"] if s["module"] == "SOM01"]
    for step in module:
        body: dict[str, Any] = {"stepId": step["id"]}
        if step["kind"] == "quiz":
            url, body["answers"] = "/api/quiz-submission", [q["answer"] for q in step["questions"]]
        elif step.get("video"):
            url, body["intervals"] = "/api/video-event", [[0, step["video"]["duration"]]]
        else:
            url = "/api/lesson-done"
        page.evaluate(FINISH_STEP, [url, body])
    assert "SOM01" in {c for c in page.evaluate(DONE_MODULES)}


FINISH_STEP = """async ([url, body]) => {
  const post = (to, data) => fetch(to, {method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(Object.assign({eventId: crypto.randomUUID()}, data))})
    .then(r => r.json());
  let answer = await post(url, body);
  while (answer.completesIn !== undefined && !answer.complete) {
    await new Promise(done => setTimeout(done, answer.completesIn * 1000 + 300));
    answer = await post(url, {stepId: body.stepId, intervals: []});
  }
  const me = await fetch('/api/learner').then(r => r.json());
  if (me.currentStepDone) await post('/api/next', {stepId: body.stepId});
}"""
DONE_MODULES = """async () => {
  const me = await fetch('/api/learner').then(r => r.json());
  const outline = await fetch('/outline.json').then(r => r.json());
  return outline.modules.filter(m => m.steps.every(s => me.completed.includes(s.id)))
    .map(m => m.id);
}"""


def earn_xp_in_the_player(page: Any, site: Site) -> None:
    """Open the player and watch the first video at 2x: the XP toast shows."""
    page.goto(site.url + "/learn/")
    page.wait_for_selector("#step video", timeout=WAIT)
    page.select_option("#speed", "2")
    page.evaluate(
        "() => { const v = document.querySelector('#step video'); v.muted = true; v.play(); }"
    )
    page.wait_for_selector("#toast:not([hidden])", timeout=WAIT)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280", "375"])
def test_pages_xp_toast_never_covers_a_control(
    new_page: Any, site: Site, viewport: dict[str, int]
) -> None:
    page = new_page(viewport)
    sign_in(page, site, f"Toast{viewport['width']}")
    earn_xp_in_the_player(page, site)
    for scroll in ("0", "document.documentElement.scrollHeight"):
        page.evaluate(f"window.scrollTo(0, {scroll})")
        assert page.evaluate(COVERED_CONTROLS) == [], scroll
    screenshot(page, f"toast-{viewport['width']}")


def built_pages(site: Site) -> list[str]:
    """The address of every page of site/ (a step's fragment is opened as a page too)."""
    root = site.workdir / "site"
    pages = []
    for path in sorted(root.rglob("*.html")):
        rel = path.relative_to(root).as_posix()
        pages.append("/" + rel.removesuffix("index.html"))
    return pages


def wide_pages(page: Any, site: Site, paths: list[str]) -> dict[str, int]:
    """The pages wider than the 360 px screen, with their width."""
    wide = {}
    for path in paths:
        page.goto(site.url + path)  # the preview's live reload never lets the network idle
        page.wait_for_timeout(400)  # the pages' scripts fill them in
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 360:
            wide[path] = width
    return wide


@pytest.mark.slow
def test_pages_no_page_scrolls_sideways_at_360(new_page: Any, site: Site) -> None:
    paths = built_pages(site)
    assert {"/", "/learn/", "/me/", "/board/", "/join/", "/admin/", "/404.html"} <= set(paths)
    assert "/kms/SOM01/fiche-select.html" in paths and "/kms/locked.html" in paths
    narrow = {"width": 360, "height": 740}
    visitor = new_page(narrow)
    assert wide_pages(visitor, site, paths) == {}, "signed out"
    learner = new_page(narrow)
    sign_in(learner, site, "Narrow")
    finish_module_one(learner, site)  # SOM01's handout pages open, SOM02's stay locked
    learner.goto(site.url + "/kms/SOM01/fiche-select.html")
    assert learner.query_selector(".kms-page h1") is not None
    screenshot(learner, "kms-page-360")
    assert wide_pages(learner, site, paths) == {}, "signed in, SOM01 done"


def test_pages_locked_handout_entries_look_and_act_locked(new_page: Any, site: Site) -> None:
    page = new_page(PHONE)
    sign_in(page, site, "Locked")
    finish_module_one(page, site)
    page.goto(site.url + "/kms/SOM01/fiche-select.html")
    page.wait_for_selector(".kms-group[data-module-id='SOM02'] .kms-locked-entry", timeout=WAIT)
    for module in ("SOM02", "SOM03"):
        group = f".kms-group[data-module-id='{module}']"
        assert page.query_selector_all(f"{group} a") == [], module
        entries = page.query_selector_all(f"{group} .kms-locked-entry")
        assert len(entries) >= 2  # its pages and its file
        for entry in entries:
            assert f"verrouillé : s'ouvre à la fin du module {module}" in entry.inner_text()
    opened = ".kms-group[data-module-id='SOM01']"
    assert page.query_selector_all(f"{opened} .kms-locked-entry") == []
    assert page.query_selector(f"{opened} a[href$='bibliotheque.sql']") is not None
    pdf = page.query_selector(".kms-pdf .kms-locked-entry")
    if (site.workdir / "site" / "kms" / "handout.pdf").exists():
        assert pdf is not None and pdf.is_disabled() and "Verrouillé" in pdf.inner_text()
        assert page.query_selector(".kms-pdf a") is None
    screenshot(page, "kms-locked-entries-375")


@pytest.mark.parametrize("path", ["/board/", "/me/", "/kms/"])
def test_pages_signed_out_pages_say_how_to_get_in(new_page: Any, site: Site, path: str) -> None:
    page = new_page(PHONE)
    page.goto(site.url + path)
    page.wait_for_selector("[data-signed-out]:not([hidden])", timeout=WAIT)
    shown = page.inner_text("main")
    assert "Demandez votre lien d'invitation" in shown
    assert "Chargement" not in shown and "–" not in shown
    assert page.query_selector(".kms-locked:not([hidden])") is None


def test_pages_join_takes_a_link_pasted_in_the_same_tab(new_page: Any, site: Site) -> None:
    page = new_page()
    page.goto(site.url + "/join/")
    page.wait_for_selector("#join-email:not([hidden])", timeout=WAIT)
    token = site.enroll("Pasted")["inviteToken"]
    page.evaluate("token => { location.hash = token; }", token)  # as pasting /join/#token does
    page.wait_for_url(site.url + "/", timeout=WAIT)
    assert page.evaluate("fetch('/api/learner').then(r => r.status)") == 200


def test_pages_join_waits_out_a_rate_limit_then_signs_in(new_page: Any, site: Site) -> None:
    for n in range(12):  # the address's failed sign-ins (10) spent on made-up links
        httpx.post(site.url + "/api/session", json={"inviteToken": f"guess-{n}"})
    refused = httpx.post(site.url + "/api/session", json={"inviteToken": "guess-12"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    page = new_page()
    page.goto(site.enroll("Patient")["inviteUrl"])
    page.wait_for_function(
        "() => /Trop de tentatives : nouvel essai dans \\d+ s/.test("
        "document.getElementById('join-status').textContent)",
        timeout=WAIT,
    )
    assert page.is_hidden("#join-failed")
    page.wait_for_url(site.url + "/", timeout=WAIT)


def test_pages_rank_ties_share_a_rank() -> None:
    assert rules.ranks([300, 120, 120, 40, 40, 0]) == [1, 2, 2, 4, 4, 6]
    assert rules.ranks([]) == []


def test_pages_board_ranks_ties_alike(new_page: Any, site: Site) -> None:
    for name in ("Bea", "Cy"):
        site.enroll(name, team="ties")
    page = new_page()
    created = site.enroll("Ada", team="ties")
    page.goto(created["inviteUrl"])
    page.wait_for_url(site.url + "/", timeout=WAIT)
    page.goto(site.url + "/board/")
    page.click("[role='tab'][data-period='all']")
    page.wait_for_function(
        "() => document.querySelectorAll('.leaderboard tbody tr').length === 3", timeout=WAIT
    )
    ranks = page.eval_on_selector_all(
        ".leaderboard tbody tr td:first-child", "cells => cells.map(c => c.textContent)"
    )
    assert ranks == ["1", "1", "1"]  # nobody has XP yet: all first


def test_pages_profile_badges_dates_and_level(new_page: Any, site: Site) -> None:
    page = new_page()
    sign_in(page, site, "Profile")
    earn_xp_in_the_player(page, site)
    page.goto(site.url + "/me/")
    page.wait_for_selector("[data-fill='me-badges'] li", timeout=WAIT)
    me = page.evaluate("fetch('/api/learner').then(r => r.json())")
    offered = {b["id"] for b in me["badges"]}
    # 3 videos, 4 quizzes, 3 modules: no "Video 5", "Video 25", "Quiz Master" nor "Expert".
    assert offered == {
        "first-video",
        "first-quiz",
        "perfectionist",
        "streak-7",
        "streak-30",
        "som-complete",
    }
    assert page.locator(".badge").count() == len(offered)
    earned = page.inner_text("[data-fill='me-badges']")
    day = re.search(r"obtenu le (.+)", earned)
    assert day and re.fullmatch(r"\d{1,2} \w+ \d{4}", day.group(1).strip()), earned
    assert not re.search(r"\d{4}-\d{2}-\d{2}", earned)
    assert me["xpToNextLevel"] == rules.XP_PER_LEVEL - me["xp"] % rules.XP_PER_LEVEL
    assert page.inner_text("[data-fill='me-next-level']") == (
        f"Encore {me['xpToNextLevel']} XP pour le niveau {me['level'] + 1}"
    )
    screenshot(page, "me-1280")


def test_pages_favicon_and_phone_header(new_page: Any, site: Site) -> None:
    page = new_page(PHONE)
    sign_in(page, site, "Phone")
    for path in ("/", "/learn/", "/me/", "/board/", "/kms/"):
        page.goto(site.url + path)
        href = page.get_attribute("link[rel='icon']", "href")
        assert href and re.fullmatch(r"/static/favicon\.[0-9a-f]{10}\.svg", href), href
        height = page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height")
        assert height <= 64, (path, height)
    icon = httpx.get(site.url + href)
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    page.goto(site.url + "/me/")
    page.wait_for_selector(".me-sign-out:visible", timeout=WAIT)  # sign-out, off the header
    screenshot(page, "header-375")


@pytest.mark.slow
def test_pages_dark_scheme_is_dark_and_readable(new_page: Any, site: Site) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = new_page(LAPTOP, color_scheme="dark", bypass_csp=True)
    sign_in(page, site, "Night")
    axe = Axe()
    for path in ("/", "/me/", "/board/", "/kms/", "/learn/"):
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
        assert max(channels) < 64, (path, background)
        violations = axe.run(page).response["violations"]
        serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == [], (path, serious)
    screenshot(page, "home-dark-1280")
