"""When the player reports what was watched, in real Chromium on a real serve (issue 18): every
15 s while a video plays steadily, at once on play, pause, seek and page hide, and at once when
the learner's coverage reaches the share the step completes at (not at the next heartbeat).

The reports are the page's POST /api/video-event requests as Chromium sends them
(`page.on("request")`), one per event id: on page hide the durable queue resends by beacon what
it holds, the same events. The example course's first video is replaced by a real 30 s clip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.browser import WAIT, current, laptop_page, play, sign_in
from support.course import example_with_clip
from support.launch import Site

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.slow]

VIDEO = "document.querySelector('#step video')"
PERIOD = 15.0  # s of wall clock between reports while a video plays steadily
AT_ONCE = 1.0  # s: a report made "at once" reaches the wire within this


@dataclass(frozen=True)
class Report:
    at: float  # wall-clock time (time.time()) Chromium sent it
    body: dict[str, Any]
    request: Any

    @property
    def action(self) -> str | None:
        action: str | None = self.body.get("action")
        return action

    def answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.request.response().json()
        return answer


class Reports:
    """The video reports a page sends, one per event id, in the order sent."""

    def __init__(self, page: Any) -> None:
        self.sent: dict[str, Report] = {}
        page.on("request", self.seen)

    def seen(self, request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/api/video-event"):
            body = request.post_data_json
            self.sent.setdefault(body["eventId"], Report(time.time(), body, request))

    def since(self, moment: float) -> list[Report]:
        return sorted((r for r in self.sent.values() if r.at >= moment), key=lambda r: r.at)


def site_with_clip(tmp_path: Path, completion: float) -> Iterator[Site]:
    running = Site(tmp_path, example_with_clip(tmp_path, 30, completion))
    yield running
    running.stop()


@pytest.fixture
def steady(tmp_path: Path) -> Iterator[Site]:
    """The example course, its first video a 30 s clip that completes at 95%."""
    yield from site_with_clip(tmp_path, 0.95)


@pytest.fixture
def early(tmp_path: Path) -> Iterator[Site]:
    """The example course, its first video a 30 s clip that completes at 35% (10.5 s)."""
    yield from site_with_clip(tmp_path, 0.35)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from laptop_page(browser)


def open_video(page: Any, site: Site) -> None:
    """Ada signed in, the player on her first video, its media loaded."""
    sign_in(page, site)
    page.goto(site.url + "/learn/")
    page.wait_for_selector("#step video", timeout=WAIT)
    page.wait_for_function(f"() => {VIDEO}.readyState >= 1", timeout=WAIT)


def wait_until(page: Any, moment: float) -> None:
    """Let the page run until wall-clock `moment` (Playwright's wait: requests are seen)."""
    page.wait_for_timeout(max(0.0, moment - time.time()) * 1000)


def one_report_at_once(page: Any, reports: Reports, script: str) -> Report:
    """Run `script` in the page: exactly one report follows, within AT_ONCE."""
    before = time.time()
    page.evaluate(script)
    wait_until(page, before + AT_ONCE + 0.5)
    sent = reports.since(before)
    assert len(sent) == 1, [(r.at - before, r.body) for r in sent]
    assert sent[0].at - before <= AT_ONCE, sent[0].at - before
    return sent[0]


def pauses(site: Site) -> int:
    """The pauses the server wrote down (xAPI `paused` statements: a pause is a plain report,
    with no event record, api/watching.py)."""
    query = "SELECT COUNT(*) FROM xapi_statements WHERE statement LIKE '%/verbs/paused%'"
    return int(site.rows(query)[0][0])


def hide_page(hidden: bool) -> str:
    """A script that turns the page hidden (or visible again) as a switch of tab does: the
    document's visibility state, then its visibilitychange event (headless Chromium keeps every
    tab visible, so the state is set by hand)."""
    if hidden:
        state = (
            "Object.defineProperty(document, 'visibilityState', {value: 'hidden', "
            "configurable: true}); Object.defineProperty(document, 'hidden', {value: true, "
            "configurable: true});"
        )
    else:
        state = "delete document.visibilityState; delete document.hidden;"
    return f"() => {{ {state} document.dispatchEvent(new Event('visibilitychange')); }}"


def test_player_reports_every_15_s_and_at_once_on_pause_seek_and_hide(
    page: Any, steady: Site
) -> None:
    open_video(page, steady)
    reports = Reports(page)
    start = time.time()
    play(page)
    wait_until(page, start + PERIOD + 1.5)
    played, *beats = reports.since(start)
    assert played.action == "played" and played.at - start <= AT_ONCE, played.body
    # Steady play: nothing until the heartbeat, one heartbeat about 15 s after play.
    assert [round(b.at - played.at, 1) for b in beats] == [pytest.approx(PERIOD, abs=0.75)]
    assert beats[0].action is None and beats[0].body["intervals"][-1][1] > PERIOD - 1
    # A pause, a seek back, a play: each reported at once.
    paused = one_report_at_once(page, reports, f"{VIDEO}.pause()")
    assert paused.action == "paused" and paused.body["time"] > PERIOD
    seeked = one_report_at_once(page, reports, f"{VIDEO}.currentTime = 3")
    assert (seeked.action, seeked.body["timeTo"]) == ("seeked", 3), seeked.body
    assert seeked.body["timeFrom"] > PERIOD
    assert one_report_at_once(page, reports, f"{VIDEO}.play()").action == "played"
    page.wait_for_timeout(1500)
    # The tab hidden while the video plays: what was watched, at once; back, it plays on.
    hidden = one_report_at_once(page, reports, hide_page(True))
    watched = hidden.body["intervals"][-1]
    assert hidden.action == "paused" and watched[0] == pytest.approx(3, abs=0.5) and watched[1] > 4
    assert one_report_at_once(page, reports, hide_page(False)).action == "played"
    # Leaving the page fires pagehide and visibilitychange: one report, sent at once (Chromium
    # sends it as the page unloads, which its request events do not show: the server's
    # statements tell). Back on the player, the queue sends whatever it still holds: nothing new.
    page.wait_for_timeout(1000)
    before = pauses(steady)
    page.goto(steady.url + "/me/")
    steady.wait_until(lambda: pauses(steady) > before, AT_ONCE, "the report of leaving")
    page.goto(steady.url + "/learn/")
    page.wait_for_selector("#step video", timeout=WAIT)
    page.wait_for_function("() => window.SillonQueue.pending() === 0", timeout=WAIT)
    assert pauses(steady) == before + 1
    last = steady.rows("SELECT statement FROM xapi_statements ORDER BY seq DESC LIMIT 1")[0][0]
    assert last.count("/verbs/paused") == 1, last


def test_player_reports_at_once_when_coverage_reaches_the_share(page: Any, early: Site) -> None:
    """The share is 10.5 s: 4 s watched before a reload, then the rest from where it stopped.
    The report that completes the step leaves within a second of the media reaching 10.5 s,
    counting what was watched before the reload (not 15 s later, at the next heartbeat)."""
    open_video(page, early)
    play(page)
    page.wait_for_function(f"() => {VIDEO}.currentTime >= 4", timeout=WAIT)
    page.evaluate(f"{VIDEO}.pause()")
    page.wait_for_function("() => window.SillonQueue.pending() === 0", timeout=WAIT)
    page.reload()
    page.wait_for_selector("#step video", timeout=WAIT)
    page.wait_for_function(f"() => {VIDEO}.currentTime >= 4", timeout=WAIT)  # resumed
    page.evaluate(
        f"() => {{ const v = {VIDEO}; v.addEventListener('timeupdate', () => {{ "
        "if (!window.reachedAt && v.currentTime >= 10.5) window.reachedAt = Date.now() / 1000; "
        "}); }"
    )
    reports = Reports(page)
    start = time.time()
    play(page)
    page.wait_for_selector("#next:not([disabled])", timeout=10_000)
    page.wait_for_timeout(2000)  # one such report, not one per timeupdate
    played, *after = reports.since(start)
    assert played.action == "played" and played.answer()["complete"] is False
    assert len(after) == 1, [(r.at - start, r.body) for r in after]
    completing = after[0]
    assert completing.action is None and completing.answer()["complete"] is True
    reached = page.evaluate("window.reachedAt")
    assert 10.5 <= completing.body["intervals"][-1][1] < 11.5, completing.body
    assert -0.3 <= completing.at - reached <= AT_ONCE, completing.at - reached
    me = current(page)
    assert me["currentStepDone"] is True and me["completed"] == ["som01-bienvenue"]
    assert page.inner_text("#toast").startswith("+10 XP"), page.inner_text("#toast")
