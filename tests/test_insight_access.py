"""Who may read cohort insight, and what it refuses: the admin token on every route, no token
configured, bad team and table parameters, and an empty cohort."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.client import Cohort, assert_error
from support.insight import get, insight_cohort

ROUTES = [
    "/api/admin/teams",
    "/api/admin/versions",
    "/api/admin/insight?teamId=blue",
    "/api/admin/insight.csv?teamId=blue",
    "/api/admin/learners?teamId=blue",
]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with insight_cohort(tmp_path) as running:
        yield running


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_insight_needs_the_admin_token(app: Cohort, path: str, headers: dict[str, str]) -> None:
    app.enroll("Ada", "blue")
    assert_error(app.client.get(path, headers=headers), 401, "unauthorized")


def test_insight_is_off_without_an_admin_token(tmp_path: Path) -> None:
    with insight_cohort(tmp_path, admin_token=None) as running:
        for path in ROUTES:
            response = running.client.get(path, headers={"Authorization": "Bearer x"})
            assert_error(response, 403, "admin_disabled")


@pytest.mark.parametrize(
    "query, status, code",
    [
        ("", 422, "invalid"),
        ("?teamId=", 422, "invalid"),
        ("?teamId=%20%20", 422, "invalid"),
        ("?teamId=" + "b" * 65, 422, "invalid"),
        ("?teamId=nobody", 404, "unknown_team"),
        ("?teamId=blue&table=everything", 422, "invalid"),
    ],
)
def test_insight_refuses_bad_parameters(app: Cohort, query: str, status: int, code: str) -> None:
    app.enroll("Ada", "blue")
    for path in ("/api/admin/insight", "/api/admin/insight.csv", "/api/admin/learners"):
        if "table=" in query and path != "/api/admin/insight.csv":
            continue  # only the CSV has tables
        assert_error(app.client.get(path + query, headers=app.admin()), status, code)


def test_insight_empty_cohort(app: Cohort) -> None:
    assert get(app, "/api/admin/teams").json() == {"teams": []}
    versions = get(app, "/api/admin/versions").json()["versions"]
    assert [(v["label"], v["current"], v["learners"]) for v in versions] == [("v1", True, 0)]
