"""wrangler from npm, offline: its local D1 (the real D1 engine) and its dry-run deploys."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.course import ROOT
from support.launch import free_port, poll, stop

WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"
WORKER = ROOT / "tests" / "d1worker"


def environment(home: Path) -> dict[str, str]:
    """No credentials, no telemetry, nothing fetched from Cloudflare."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDFLARE_")}
    env.update(
        WRANGLER_SEND_METRICS="false",
        WRANGLER_SEND_ERROR_REPORTS="false",
        CLOUDFLARE_CF_FETCH_ENABLED="false",
        WRANGLER_LOG_PATH=str(home / "logs"),
        XDG_CONFIG_HOME=str(home / "config"),
    )
    return env


def require_wrangler() -> None:
    if not WRANGLER.exists():
        pytest.fail("wrangler is not installed: run `bash tests/setup.sh` (npm ci)")


def run(
    args: list[str], cwd: Path, home: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """One wrangler command, its output captured."""
    require_wrangler()
    return subprocess.run(
        [str(WRANGLER), *args],
        cwd=cwd,
        env=environment(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def migrate(config_dir: Path, state: Path, home: Path, database: str = "sillon") -> None:
    """`wrangler d1 migrations apply --local`: a fresh D1 in `state`, migrated (`database`: a
    database_name of the wrangler.toml in `config_dir`)."""
    applied = run(
        ["d1", "migrations", "apply", database, "--local", "--persist-to", str(state)],
        config_dir,
        home,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr


def d1_file(state: Path) -> Path:
    """The SQLite file behind a local D1 (the one holding our tables)."""
    for path in sorted((state / "v3" / "d1").rglob("*.sqlite")):
        with sqlite3.connect(path) as db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'learners'").fetchone():
                return path
    raise AssertionError(f"no D1 database with our tables under {state}")


class LocalD1:
    """`wrangler dev` of the test Worker on 127.0.0.1, over a fresh migrated local D1."""

    def __init__(self, state: Path, port: int) -> None:
        self.state, self.port = state, port
        self.url = f"http://127.0.0.1:{port}/query"
        migrate(WORKER, state, state)
        self.log = (state / "dev.log").open("w")
        listen = ["--ip", "127.0.0.1", "--port", str(port), "--persist-to", str(state)]
        self.process = subprocess.Popen(
            [str(WRANGLER), "dev", "--local", *listen],
            cwd=WORKER,
            env=environment(state),
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        if poll(self.answers, 60) < 0:
            self.stop()
            raise AssertionError((state / "dev.log").read_text())

    def answers(self) -> bool:
        query = {"sql": "SELECT 1 AS ok"}
        return httpx.post(self.url, json=query, timeout=2).status_code == 200

    def sqlite_file(self) -> Path:
        """The SQLite file behind the local D1 (the one holding our tables)."""
        return d1_file(self.state)

    def stop(self) -> None:
        stop(self.process)
        self.log.close()


def local_d1(tmp: Path) -> Iterator[LocalD1]:
    """A LocalD1 in tmp for the time of a fixture."""
    d1 = LocalD1(tmp, free_port())
    yield d1
    d1.stop()
