"""Real Chromium (Debian's package) driven by Playwright, against a real `serve` process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT
from test_serve import free_port

CHROMIUM = "/usr/bin/chromium"
ADMIN = "browser-admin-token"
SECRET = "browser-secret-0123456789"
TALLY_SECRET = "browser-tally-secret"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = ROOT / "tests" / "artifacts"


class Site:
    """`python build.py serve` on a free port, with its own database (`workdir/db.sqlite3`, so a
    new Site on the same workdir reopens it); restartable. The one launcher of the tests that
    need a real server: browser, fuzzing, concurrency, crash."""

    def __init__(self, workdir: Path, content: Path) -> None:
        self.workdir, self.content = workdir, content
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = workdir / "db.sqlite3"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        env = {
            **os.environ,
            "SILLON_DB": str(self.db),
            "SILLON_ADMIN_TOKEN": ADMIN,
            "SILLON_SECRET": SECRET,
            "TALLY_SIGNING_SECRET": TALLY_SECRET,
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log = (self.workdir / "serve.log").open("a")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "build.py"),
                "serve",
                "--content",
                str(self.content),
                "--out",
                str(self.workdir / "site"),
                "--port",
                str(self.port),
            ],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(self.url + "/api/learner", timeout=1).status_code == 401:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"serve did not start:\n{(self.workdir / 'serve.log').read_text()}")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        self.log.close()

    def enroll(self, name: str, team: str = "blue") -> dict[str, Any]:
        return enroll(self.url, name, team)

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.workdir / "site-private" / "manifest.json").read_text()
        )
        return data

    def rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        import sqlite3

        with sqlite3.connect(self.db) as db:
            return db.execute(query, params).fetchall()


def enroll(url: str, name: str, team: str = "blue") -> dict[str, Any]:
    """A new learner through the admin API of the server at `url`: its invite."""
    body = {
        "name": name,
        "email": f"{name.lower()}-{time.monotonic_ns()}@example.org",
        "teamId": team,
    }
    response = httpx.post(
        url + "/api/admin/learners", json=body, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `bash tests/setup.sh`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """`serve` on a private copy of the example course."""
    from conftest import EXAMPLE

    content = tmp_path / "content"
    shutil.copytree(EXAMPLE, content)
    running = Site(tmp_path, content)
    yield running
    running.stop()


def page_errors(page: Any) -> list[str]:
    """Collect the page's uncaught errors and Content Security Policy violations (tests expect
    the list to stay empty)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return errors


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)
