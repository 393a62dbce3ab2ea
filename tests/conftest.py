"""Fixtures and hooks only; what tests share lives in the support package (tests/support/)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.course import EXAMPLE, make_course
from support.standin import LrsStandIn

# Fixtures shared across files: Chromium and a running `serve` (browser), a tus server (tus).
pytest_plugins = ["support.browser", "support.tus"]


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A small valid course in tmp_path/content."""
    return make_course(tmp_path)


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A private copy of the example course, safe to edit."""
    target = tmp_path / "content"
    shutil.copytree(EXAMPLE, target)
    return target


# Fixtures of tests/support that start something real, and the marker a test using them gets.
MARKED_FIXTURES = {"browser": "browser", "site": "live"}


@pytest.fixture(scope="module")
def lrs() -> Iterator[LrsStandIn]:
    """An LRS stand-in shared by a module's tests (a module whose tests each need a fresh one
    defines its own)."""
    stand_in = LrsStandIn()
    yield stand_in
    stand_in.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for Chromium is a browser test, and one that asks for a running
    `serve` (support.browser's `site`) a live one, whatever file it lives in; wrangler and
    Worker-runtime tests run node processes, so they are live too."""
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in MARKED_FIXTURES:
                item.add_marker(MARKED_FIXTURES[fixture])
        if item.get_closest_marker("wrangler") or item.get_closest_marker("worker"):
            item.add_marker("live")
