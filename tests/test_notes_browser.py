"""The notebook beside the player in real Chromium, on the example course: a note typed is
saved through the durable queue, comes back after a reload, stays when its step closes, and no
HTML or script written in a note ever runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import WAIT, laptop_page, screenshot, sign_in, watch_video
from support.launch import Site

pytestmark = [pytest.mark.browser, pytest.mark.live]

FIRST, SECOND = "som01-bienvenue", "som01-tables"
HOSTILE = (
    "# Idées\n\n<img src=x onerror=\"window.pwned = 'img'\">\n"
    "<script>window.pwned = 'script'</script>\n**gras** [lien](javascript:window.pwned='link')\n"
)
SAVED = "() => document.getElementById('notes-status').textContent === 'Enregistré'"


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    yield from laptop_page(browser)


def notebook(page: Any) -> list[tuple[str, str]]:
    notes = page.evaluate("fetch('/api/notes').then(r => r.json())")["notes"]
    return [(note["stepId"], note["text"]) for note in notes]


def test_notes_browser_typed_saved_kept_and_never_run(page: Any, site: Site) -> None:
    sign_in(page, site, "Noémie")
    page.goto(site.url + "/learn/")
    page.wait_for_selector(f"#step [data-step-id='{FIRST}']", timeout=WAIT)
    page.wait_for_selector("#notes:not([hidden])", timeout=WAIT)
    assert page.input_value("#notes-text") == ""
    page.fill("#notes-text", HOSTILE)
    page.wait_for_function(SAVED, timeout=WAIT)
    assert notebook(page) == [(FIRST, HOSTILE)]
    page.reload()
    page.wait_for_selector("#notes:not([hidden])", timeout=WAIT)
    assert page.input_value("#notes-text") == HOSTILE  # the text as typed, shown as text
    assert page.evaluate("window.pwned") is None
    assert page.locator("#notes img, #step img[src='x']").count() == 0
    # The step closes for good; its note stays in the notebook; the next step's is empty.
    watch_video(page)
    page.click("#next")
    page.wait_for_selector(f"#step [data-step-id='{SECOND}']", timeout=WAIT)
    page.wait_for_function("() => document.getElementById('notes-text').value === ''")
    page.fill("#notes-text", "Une table, des lignes, des colonnes.")
    page.wait_for_function(SAVED, timeout=WAIT)
    page.locator("#notes").scroll_into_view_if_needed()
    screenshot(page, "notes-player-1280")
    assert notebook(page) == [(FIRST, HOSTILE), (SECOND, "Une table, des lignes, des colonnes.")]
    assert page.evaluate("window.pwned") is None


def test_notes_browser_typed_then_gone_at_once_is_not_lost(page: Any, site: Site) -> None:
    """Leaving the page before the pause that saves: the note is queued on the way out, and
    sent (at once, or on the next visit)."""
    sign_in(page, site, "Pressée")
    page.goto(site.url + "/learn/")
    page.wait_for_selector("#notes:not([hidden])", timeout=WAIT)
    page.fill("#notes-text", "vite, avant de partir")
    page.goto(site.url + "/me/")  # no pause: the save had not been queued yet
    page.goto(site.url + "/learn/")
    page.wait_for_selector("#notes:not([hidden])", timeout=WAIT)
    page.wait_for_function("() => window.SillonQueue.pending() === 0", timeout=WAIT)
    assert notebook(page) == [(FIRST, "vite, avant de partir")]
    assert page.input_value("#notes-text") == "vite, avant de partir"


def test_notes_browser_opens_when_its_script_arrives_after_the_step(page: Any, site: Site) -> None:
    """notes.js arriving after the player announced the open step (a slow network, a busy
    machine: deferred scripts run in order, but the player's fetches may answer in between)
    still opens the note of that step."""
    import time

    def late(route: Any) -> None:
        time.sleep(1.5)  # the player has read the learner and loaded the step by then
        route.continue_()

    sign_in(page, site, "Tardive")
    page.route("**/notes*.js", late)
    page.goto(site.url + "/learn/")
    page.wait_for_selector(f"#step [data-step-id='{FIRST}']", timeout=WAIT)
    page.wait_for_selector("#notes:not([hidden])", timeout=WAIT)
    page.fill("#notes-text", "arrivée en retard")
    page.wait_for_function(SAVED, timeout=WAIT)
    assert (FIRST, "arrivée en retard") in notebook(page)


def test_notes_browser_notebook_page_lists_downloads_and_runs_nothing(
    page: Any, site: Site
) -> None:
    sign_in(page, site, "Carnet")
    page.goto(site.url + "/me/notes/")
    page.wait_for_selector("#notebook-empty:not([hidden])", timeout=WAIT)
    assert page.is_disabled("#notebook-markdown")
    page.goto(site.url + "/learn/")
    page.wait_for_selector("#notes:not([hidden])", timeout=WAIT)
    page.fill("#notes-text", HOSTILE)
    page.wait_for_function(SAVED, timeout=WAIT)
    page.goto(site.url + "/me/")
    page.click("a[href='/me/notes/']")
    page.wait_for_selector("#notebook-notes .notebook-note", timeout=WAIT)
    listed = page.evaluate("fetch('/api/notes').then(r => r.json())")["notes"]
    assert page.inner_text("#notebook-notes .notebook-note h2") == listed[0]["title"]
    assert page.text_content("#notebook-notes .note-text") == HOSTILE
    assert page.locator("#notebook img, #notebook script").count() == 0
    assert page.evaluate("window.pwned") is None
    screenshot(page, "notebook-1280")
    with page.expect_download() as info:
        page.click("#notebook-markdown")
    download = info.value
    assert download.suggested_filename == "mes-notes.md"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith("# Les bases de SQL avec SQLite\n\n## " + listed[0]["title"] + "\n")
    assert HOSTILE.rstrip() in text
    with page.expect_download() as made:
        page.click("#notebook-pdf")  # made by the server (serve has WeasyPrint)
    assert made.value.suggested_filename == "mes-notes.pdf"
    assert Path(made.value.path()).read_bytes().startswith(b"%PDF-")
    # "Download my data" on the profile: the notes go with the learner's data.
    page.goto(site.url + "/me/")
    with page.expect_download() as exported:
        page.click("a[href='/api/learner/export']")
    assert exported.value.suggested_filename.startswith("sillon-u_")
    data = json.loads(Path(exported.value.path()).read_text(encoding="utf-8"))
    assert [n["text"] for n in data["notes"]] == [HOSTILE]
