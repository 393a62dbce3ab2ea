"""A real tus server for the Stream upload CLI tests (ops/upload.py, stream_upload.py).

The server is @tus/server with @tus/file-store from npm (tests/tusserver/, installed by
tests/setup.sh), started on 127.0.0.1 by each test: the tus protocol, the offsets it resumes
from and the bytes it stores are real. Cloudflare Stream itself cannot be reached from here, so
the thin layer in tests/tusserver/server.js is a STAND-IN for Stream's API in front of it: the
`/client/v4/accounts/<id>/stream` creation path, the Bearer token check with Cloudflare's JSON
error, the `stream-media-id` header on creation, and (on request) a crash, a 500 or a PATCH
held back before it reaches @tus/server (HOLD_PATCH: the race behind a 409 Upload-Offset conflict).

The `server` and `work` fixtures are used by a test module as `server = tus.server`.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.upload import MIB, main
from support.course import ROOT

SERVER_DIR = ROOT / "tests" / "tusserver"
ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "cf-test-TOKEN-7d41e2b9c0"
UID = re.compile(r"^[0-9a-f]{32}$")
RESUME = "rerun the same command to resume"
Capsys = pytest.CaptureFixture[str]  # the upload tests' short names for pytest's fixtures
Patch = pytest.MonkeyPatch


class TusServer:
    """tests/tusserver/server.js in a subprocess: @tus/server behind the Stream stand-in."""

    def __init__(self, data: Path, port: int = 0, **env: str) -> None:
        if not (SERVER_DIR / "node_modules" / "@tus" / "server").is_dir():
            pytest.fail("the test tus server is not installed: run `bash tests/setup.sh`")
        self.data = data
        environ = dict(os.environ, PORT=str(port), DATA_DIR=str(data), ACCOUNT_ID=ACCOUNT)
        environ.update(TOKEN=TOKEN, **env)
        self.process = subprocess.Popen(
            ["node", str(SERVER_DIR / "server.js")],
            cwd=SERVER_DIR,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("listening "), f"tus server did not start: {line!r}"
        self.port = int(line.split()[1])
        self.api_base = f"http://127.0.0.1:{self.port}/client/v4"

    def log(self) -> dict[str, Any]:
        """The creations and PATCH requests this server process received."""
        answer = httpx.get(f"http://127.0.0.1:{self.port}/_stand-in/log", timeout=10)
        data: dict[str, Any] = answer.json()
        return data

    def stored(self, uid: str) -> bytes:
        """The bytes the tus server stored for an upload (its file store names files by id)."""
        return (self.data / uid).read_bytes()

    def stop(self) -> None:
        """Terminate the process (if still running) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TusServer]:
    """A tus server storing into tmp_path/tus-data."""
    started = TusServer(tmp_path / "tus-data")
    yield started
    started.stop()


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: TusServer) -> Path:
    """A working directory with the credentials in the environment, pointed at the server."""
    directory = tmp_path / "work"
    directory.mkdir()
    monkeypatch.chdir(directory)
    monkeypatch.setenv("CLOUDFLARE_API_BASE", server.api_base)
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("CLOUDFLARE_STREAM_API_TOKEN", TOKEN)
    return directory


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; the token must never show in what it prints."""
    code = main(list(args))
    out, err = capsys.readouterr()
    assert TOKEN not in out and TOKEN not in err
    return code, out, err


def start_cli(work: Path, *args: str) -> subprocess.Popen[str]:
    """stream_upload.py in a process of its own (for a test to kill -9), run in `work`."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "stream_upload.py"), *args],
        cwd=work,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def held_patch(server: TusServer, timeout: float = 60) -> dict[str, Any]:
    """Wait until the server holds a PATCH (HOLD_PATCH) whose whole chunk has arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        patches: list[dict[str, Any]] = server.log()["patches"]
        for patch in patches:
            if patch.get("held") and patch["received"] == patch["length"]:
                return patch
        time.sleep(0.05)
    pytest.fail(f"the tus server held no whole PATCH in {timeout:g} s: {server.log()}")


def random_file(path: Path, size: int = 12 * MIB) -> bytes:
    """Write `size` random bytes to path (parents created); return them."""
    data = os.urandom(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def uid_of(out: str) -> str:
    """The Stream uid the CLI printed."""
    match = re.search(r"stream:([0-9a-f]+)", out)
    assert match, out
    return match.group(1)


def metadata(header: str) -> dict[str, str]:
    """Decode a tus Upload-Metadata header."""
    pairs = (item.strip().split(" ") for item in header.split(","))
    return {key: base64.b64decode(value).decode() for key, value in pairs}
