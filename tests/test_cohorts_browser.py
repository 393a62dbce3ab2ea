"""The admin page over several cohort databases (SILLON_COHORTS) in real Chromium, against
`build.py serve`: a cohort picker, filled from /api/health, whose choice every admin call
names (X-Sillon-Cohort), so a teacher sees and acts on each cohort's teams; with one database
there is no picker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import WAIT, laptop_page
from support.course import EXAMPLE
from support.launch import ADMIN, Site

pytestmark = [pytest.mark.browser, pytest.mark.live]


class CohortSite(Site):
    """serve with two cohort databases, spring (the home one) and autumn, beside SILLON_DB."""

    def __init__(self, workdir: Path, content: Path) -> None:
        self.environment = {"SILLON_COHORTS": "spring,autumn"}
        super().__init__(workdir, content)

    def enroll_in(self, cohort: str, name: str, team: str) -> None:
        body = {"name": name, "email": f"{name.lower()}@example.org", "teamId": team}
        headers = {"Authorization": f"Bearer {ADMIN}", "X-Sillon-Cohort": cohort}
        response = httpx.post(self.url + "/api/admin/learners", json=body, headers=headers)
        assert response.status_code == 201, response.text


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    yield from laptop_page(browser)


def sign_in(page: Any, site: Site) -> None:
    page.goto(site.url + "/admin/")
    page.fill("#admin-token", ADMIN)
    page.click("#admin-login button[type=submit]")


def teams(page: Any) -> list[str]:
    return [
        str(value)
        for value in page.eval_on_selector_all("#admin-team option", "o => o.map(x => x.value)")
    ]


def test_cohorts_browser_admin_page_picks_the_cohort(page: Any, tmp_path: Path) -> None:
    site = CohortSite(tmp_path, EXAMPLE)
    try:
        site.enroll_in("spring", "Ada", "printemps")
        site.enroll_in("autumn", "Bob", "automne")
        sign_in(page, site)
        page.wait_for_selector("#admin-steps tbody tr", timeout=WAIT)
        assert page.is_visible("#admin-cohort")
        options = page.eval_on_selector_all("#admin-cohort option", "o => o.map(x => x.value)")
        assert options == ["spring", "autumn"]
        # serve's demo learner (team demo) is the home cohort's (README "Several databases")
        assert page.input_value("#admin-cohort") == "spring"
        assert teams(page) == ["demo", "printemps"]
        page.select_option("#admin-cohort", "autumn")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#admin-team option')].map(o => o.value)"
            ".join() === 'automne'",
            timeout=WAIT,
        )
        page.wait_for_selector("#admin-steps tbody tr", timeout=WAIT)
        assert page.input_value("#admin-cohort") == "autumn"
        page.click("#admin-learners summary")  # the learners table: autumn's, through the header
        page.wait_for_selector("#admin-learners tbody tr", timeout=WAIT)
        assert "Bob" in page.text_content("#admin-learners") and "Ada" not in page.text_content(
            "#admin-learners"
        )
        page.reload()  # the choice stays with the tab, as the token does
        page.wait_for_selector("#admin-steps tbody tr", timeout=WAIT)
        assert page.input_value("#admin-cohort") == "autumn" and teams(page) == ["automne"]
    finally:
        site.stop()


def test_cohorts_browser_one_database_shows_no_picker(page: Any, tmp_path: Path) -> None:
    site = Site(tmp_path, EXAMPLE)
    try:
        site.enroll("Ada", team="seule")
        sign_in(page, site)
        page.wait_for_selector("#admin-steps tbody tr", timeout=WAIT)
        assert not page.is_visible("#admin-cohort") and teams(page) == ["demo", "seule"]
    finally:
        site.stop()
