"""Fixtures and hooks only; what tests share lives in the support package (tests/support/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.course import EXAMPLE, make_course

pytest_plugins = ["support.browser"]  # the Chromium and `serve` fixtures of the browser tests


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
