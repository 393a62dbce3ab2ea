"""Handout search in real Chromium: queries typed into the handout page of a real `serve`
(module policy: a locked module's index is not searched) or of the built site served as static
files (stemming in the course language), with real Pagefind.
"""

from __future__ import annotations

import functools
import http.server
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import WAIT, page_errors, screenshot, sign_in
from support.course import config_for
from support.launch import Site
from support.search import handout_course

from builder.pipeline import build


@pytest.fixture
def handout_site(tmp_path: Path) -> Iterator[Site]:
    running = Site(tmp_path, handout_course(tmp_path / "course"))
    yield running
    running.stop()


def open_page(browser: Any, **options: Any) -> tuple[Any, Any, list[str]]:
    options.setdefault("viewport", {"width": 1280, "height": 800})
    context = browser.new_context(**options)
    page = context.new_page()
    return context, page, page_errors(page)


def query(page: Any, text: str) -> list[str]:
    """Type a query like a learner; return the result links once the status has spoken."""
    page.fill("#kms-search-input", text)
    page.wait_for_function(
        "q => document.querySelector('[data-search]').dataset.searched === q",
        arg=text,
        timeout=WAIT,
    )
    assert text in page.inner_text("#kms-search-status"), page.inner_text("#kms-search-status")
    links: list[str] = page.eval_on_selector_all(
        ".kms-search-results a", "links => links.map(a => a.getAttribute('href'))"
    )
    return links


def finish_module_one(page: Any, site: Site, name: str) -> None:
    """Sign in with an invite, then finish M1's only lesson as the player would."""
    sign_in(page, site, name)
    status = page.evaluate(
        """id => fetch('/api/lesson-done', {method: 'POST', headers: {'Content-Type':
        'application/json'}, body: JSON.stringify({eventId: id, stepId: 'lecon-1'})})
        .then(r => r.status)""",
        str(uuid.uuid4()),
    )
    assert status == 200


@pytest.mark.live
def test_search_browser_finds_unlocked_module_but_not_locked_one(
    browser: Any, handout_site: Site
) -> None:
    context, page, errors = open_page(browser, locale="fr-FR")
    finish_module_one(page, handout_site, "Ada")
    page.goto(handout_site.url + "/kms/M1/fiche.html")
    page.wait_for_selector(".kms-search:not([hidden])", timeout=WAIT)
    assert page.get_attribute("#kms-search-status", "aria-live") == "polite"
    assert page.inner_text("label[for='kms-search-input']") == "Rechercher dans le polycopié"
    # M1's page says "requête", M2's (still locked) says "requêtes": only M1 comes back.
    assert query(page, "requêtes") == ["/kms/M1/fiche.html"]
    assert page.inner_text("#kms-search-status") == (
        "1 résultat pour « requêtes ». "
        "Les parties du polycopié encore fermées ne sont pas cherchées."
    )
    assert page.inner_text(".kms-search-results mark") == "requête"
    assert page.inner_text(".kms-search-results a") == "Fiche un"
    screenshot(page, "kms-search-1280")
    assert query(page, "zanzibar") == []
    assert page.inner_text("#kms-search-status").startswith("Aucun résultat pour « zanzibar ».")
    assert page.is_hidden(".kms-search-results")
    assert query(page, "sommaire") == ["/kms/"], "the general pages are searched too"
    page.click(".kms-search-results a")
    page.wait_for_url(handout_site.url + "/kms/", timeout=WAIT)
    context.close()
    assert not errors, errors


@pytest.mark.live
@pytest.mark.parametrize("width, height", [(1280, 800), (375, 812)])
def test_search_browser_results_are_accessible(
    browser: Any, handout_site: Site, width: int, height: int
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    # axe-core is injected by script, which the site's CSP rightly forbids: bypass it here only.
    context, page, _ = open_page(
        browser, locale="fr-FR", bypass_csp=True, viewport={"width": width, "height": height}
    )
    finish_module_one(page, handout_site, f"Axe{width}")
    page.goto(handout_site.url + "/kms/M1/fiche.html")
    page.wait_for_selector(".kms-search:not([hidden])", timeout=WAIT)
    assert query(page, "requête") == ["/kms/M1/fiche.html"]
    if width < 400:
        screenshot(page, "kms-search-375")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the handout scrolls sideways at {width}px ({overflow}px)"
    violations = Axe().run(page).response["violations"]
    serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
    context.close()
    assert not serious, serious


@pytest.fixture
def static_server() -> Iterator[Any]:
    """Serve a built site as plain static files (no gate, no API): Pagefind needs nothing else."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(root: Path) -> str:
        handler = functools.partial(QuietHandler, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    "language, typed, expected",
    [
        # French stemming: the plural finds the singular the page says, and the other way.
        ("fr", "requêtes", ["/kms/M1/fiche.html", "/kms/M2/secret.html"]),
        ("fr", "requête", ["/kms/M1/fiche.html", "/kms/M2/secret.html"]),
        # English stemming: "joining" finds "join" (M1) and "joins" (M2).
        ("en", "joining", ["/kms/M1/fiche.html", "/kms/M2/secret.html"]),
    ],
)
def test_search_browser_stems_in_the_course_language(
    browser: Any, static_server: Any, tmp_path: Path, language: str, typed: str, expected: list[str]
) -> None:
    config = config_for(handout_course(tmp_path, language=language, unlock="start"))
    build(config)
    base = static_server(config.out)
    context, page, errors = open_page(browser)
    page.goto(base + "/kms/M1/fiche.html")
    page.wait_for_selector(".kms-search:not([hidden])", timeout=WAIT)
    assert sorted(query(page, typed)) == expected
    status = page.inner_text("#kms-search-status")
    assert status.startswith("2 résultats" if language == "fr" else "2 results for “joining”.")
    context.close()
    assert not errors, errors
