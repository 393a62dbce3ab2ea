"""The Stream upload CLI (ops/upload.py, stream_upload.py) against a real tus server.

The server is @tus/server with @tus/file-store from npm (tests/tusserver/, installed by
tests/setup.sh), started on 127.0.0.1 by each test: the tus protocol, the offsets it resumes
from and the bytes it stores are real. Cloudflare Stream itself cannot be reached from here, so
the thin layer in tests/tusserver/server.js is a stand-in for Stream's API in front of it: the
`/client/v4/accounts/<id>/stream` creation path, the Bearer token check with Cloudflare's JSON
error, the `stream-media-id` header on creation, and (on request) a crash or a 500.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.course import ROOT

from ops.upload import MIB, Progress, main

SERVER_DIR = ROOT / "tests" / "tusserver"
ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "cf-test-TOKEN-7d41e2b9c0"
UID = re.compile(r"^[0-9a-f]{32}$")
RESUME = "the upload can be resumed by running the same command again"


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
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TusServer]:
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


def random_file(path: Path, size: int = 12 * MIB) -> bytes:
    data = os.urandom(size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def uid_of(out: str) -> str:
    match = re.search(r"stream:([0-9a-f]+)", out)
    assert match, out
    return match.group(1)


def metadata(header: str) -> dict[str, str]:
    pairs = (item.strip().split(" ") for item in header.split(","))
    return {key: base64.b64decode(value).decode() for key, value in pairs}


def test_upload_file_arrives_complete_and_byte_identical(
    work: Path, server: TusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = random_file(work / "intro.webm")
    code, out, err = cli(
        capsys, "--file", "intro.webm", "--name", "SOM 12.01 - Introduction", "--chunk-size", "5"
    )
    assert code == 0, err
    uid = uid_of(out)
    assert UID.match(uid)
    assert out == f"intro.webm: stream:{uid}\n"
    assert server.log()["creations"][0]["uid"] == uid  # read from stream-media-id
    assert server.stored(uid) == data
    state = (work / ".sillon" / "uploads.json").read_text()
    assert uid in state and TOKEN not in state


def test_upload_metadata_carries_name_and_requiresignedurls(
    work: Path, server: TusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    random_file(work / "intro.webm", 6 * MIB)
    code, _, err = cli(capsys, "--file", "intro.webm", "--name", "SOM 12.01 - Introduction")
    assert code == 0, err
    creation = server.log()["creations"][0]
    assert metadata(creation["uploadMetadata"]) == {
        "name": "SOM 12.01 - Introduction",
        "requiresignedurls": "true",
    }
    assert creation["uploadLength"] == str(6 * MIB)
    stored = json.loads((server.data / f"{creation['uid']}.json").read_text())
    assert stored["metadata"] == {"name": "SOM 12.01 - Introduction", "requiresignedurls": "true"}


def test_upload_chunks_follow_stream_rules(
    work: Path, server: TusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    random_file(work / "intro.webm", 12 * MIB + 1234)
    code, _, err = cli(capsys, "--file", "intro.webm", "--chunk-size", "5.25")
    assert code == 0, err
    patches = server.log()["patches"]
    lengths = [patch["length"] for patch in patches]
    assert lengths == [int(5.25 * MIB), int(5.25 * MIB), 12 * MIB + 1234 - int(10.5 * MIB)]
    for length in lengths[:-1]:
        assert length >= 5 * MIB and length % (256 * 1024) == 0
    assert [patch["offset"] for patch in patches] == [0, lengths[0], lengths[0] + lengths[1]]


@pytest.mark.parametrize("size", ["4", "5.1", "0"])
def test_upload_chunk_size_breaking_stream_rules_is_refused(
    work: Path, server: TusServer, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    random_file(work / "intro.webm", MIB)
    code, out, err = cli(capsys, "--file", "intro.webm", "--chunk-size", size)
    assert (code, out) == (2, "")
    assert err == (
        "error: --chunk-size must be at least 5 MiB and a multiple of 0.25 MiB (256 KiB), "
        f"got {size}\n"
    )
    assert server.log()["creations"] == []


def test_upload_interrupted_resumes_from_the_server_offset(
    work: Path,
    server: TusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.stop()
    data = random_file(work / "intro.webm")
    dying = TusServer(server.data, CRASH_ON_PATCH="2")  # killed when the second chunk arrives
    monkeypatch.setenv("CLOUDFLARE_API_BASE", dying.api_base)
    try:
        code, out, err = cli(capsys, "--file", "intro.webm", "--chunk-size", "5")
        assert dying.process.wait(timeout=10) == 3
    finally:
        dying.stop()
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == (
        f"error: connection lost (127.0.0.1:{dying.port}) with 5.0 MiB of 12.0 MiB uploaded; "
        f"{RESUME}"
    )
    state = json.loads((work / ".sillon" / "uploads.json").read_text())
    (entry,) = state["uploads"].values()
    uid = entry["uid"]
    assert len(server.stored(uid)) == 5 * MIB  # what the server kept of the first run

    again = TusServer(server.data, port=dying.port)  # the same server, restarted
    try:
        code, out, err = cli(capsys, "--file", "intro.webm", "--chunk-size", "5")
        log = again.log()
    finally:
        again.stop()
    assert code == 0, err
    assert out == f"intro.webm: stream:{uid}\n"
    assert err.startswith("resuming intro.webm at 5.0 MiB of 12.0 MiB\n")
    assert log["creations"] == []  # no new upload: the recorded one went on
    assert [(p["offset"], p["length"]) for p in log["patches"]] == [
        (5 * MIB, 5 * MIB),
        (10 * MIB, 2 * MIB),
    ]
    assert sum(p["length"] for p in log["patches"]) < len(data)
    assert server.stored(uid) == data


def test_upload_forgotten_by_the_server_starts_again(
    tmp_path: Path,
    work: Path,
    server: TusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.stop()
    data = random_file(work / "intro.webm")
    dying = TusServer(server.data, CRASH_ON_PATCH="2")
    monkeypatch.setenv("CLOUDFLARE_API_BASE", dying.api_base)
    try:
        code, _, _ = cli(capsys, "--file", "intro.webm", "--chunk-size", "5")
        dying.process.wait(timeout=10)
    finally:
        dying.stop()
    assert code == 1
    fresh = TusServer(tmp_path / "fresh-data", port=dying.port)  # the upload is gone (404)
    try:
        code, out, err = cli(capsys, "--file", "intro.webm", "--chunk-size", "5")
        log = fresh.log()
    finally:
        fresh.stop()
    assert code == 0, err
    uid = uid_of(out)
    assert [c["uid"] for c in log["creations"]] == [uid]
    assert sum(p["length"] for p in log["patches"]) == len(data)
    assert (tmp_path / "fresh-data" / uid).read_bytes() == data


def test_upload_same_content_is_not_uploaded_twice(
    work: Path, server: TusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    data = random_file(work / "intro.webm", 6 * MIB)
    code, out, _ = cli(capsys, "--file", "intro.webm")
    uid = uid_of(out)
    (work / "copy.webm").write_bytes(data)
    code, out, err = cli(capsys, "--file", "copy.webm", "--name", "Another name")
    assert code == 0, err
    assert out == f"copy.webm: stream:{uid} (already uploaded)\n"
    log = server.log()
    assert len(log["creations"]) == 1 and len(log["patches"]) == 1  # one 50 MiB chunk


LESSON = (
    "---\n"
    "id: som12-intro\n"
    "title: Introduction\n"
    "video: media/intro.webm   # the local file\n"
    "duration: 754.5\n"
    "captions: media/intro.fr.vtt\n"
    "---\n"
    "## Première partie\n"
    "\n"
    "Du texte, des accents : é à ç, et `video: media/intro.webm` dans le corps.\n"
)


def write_module(root: Path, directory: str, module_id: str, steps: dict[str, str]) -> Path:
    module = root / "modules" / directory
    module.mkdir(parents=True)
    names = ", ".join(steps)
    (module / "module.yaml").write_text(f"id: {module_id}\ntitle: M\nsteps: [{names}]\n")
    for name, text in steps.items():
        (module / name).write_bytes(text.encode("utf-8"))
    return module


def test_upload_lesson_rewrites_only_the_video_line(
    work: Path, server: TusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    module = write_module(work / "content", "12-intro", "SOM 12.01", {"01-intro.md": LESSON})
    data = random_file(module / "media" / "intro.webm", 6 * MIB)
    lesson = module / "01-intro.md"
    code, out, err = cli(capsys, "--lesson", "content/modules/12-intro/01-intro.md")
    assert code == 0, err
    uid = uid_of(out)
    assert (
        out
        == f"{Path('content/modules/12-intro/01-intro.md')}: video: stream:{uid}, duration: 754.5\n"
    )
    expected = LESSON.replace(
        "video: media/intro.webm   # the local file\n", f"video: stream:{uid}   # the local file\n"
    )
    assert lesson.read_bytes() == expected.encode("utf-8")
    creation = server.log()["creations"][0]
    assert metadata(creation["uploadMetadata"])["name"] == "SOM 12.01 - Introduction"
    assert server.stored(uid) == data
    code, out, _ = cli(capsys, "--lesson", str(lesson))  # a second run has nothing to do
    assert (code, out) == (0, "the lesson's video is already on Stream: nothing to do\n")
    assert lesson.read_bytes() == expected.encode("utf-8")


def test_upload_lesson_without_duration_gets_it_from_ffprobe(
    work: Path, server: TusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing: run `bash tests/setup.sh` (Debian's ffmpeg)")
    text = LESSON.replace("duration: 754.5\n", "").replace("\n", "\r\n")  # CRLF kept too
    module = write_module(work / "content", "m1", "SOM01", {"intro.md": text})
    (module / "media").mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=black:s=32x32:r=10:d=3"]
        + ["-c:v", "mpeg4", "-f", "mp4", str(module / "media" / "intro.webm")],
        check=True,
    )
    code, out, err = cli(capsys, "--lesson", str(module / "intro.md"))
    assert code == 0, err
    uid = uid_of(out)
    expected = text.replace(
        "video: media/intro.webm   # the local file\r\n",
        f"video: stream:{uid}   # the local file\r\nduration: 3\r\n",
    )
    assert (module / "intro.md").read_bytes() == expected.encode("utf-8")


def test_upload_lesson_without_duration_or_ffprobe_fails_before_uploading(
    tmp_path: Path,
    work: Path,
    server: TusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = LESSON.replace("duration: 754.5\n", "")
    module = write_module(work / "content", "m1", "SOM01", {"intro.md": text})
    random_file(module / "media" / "intro.webm", MIB)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    code, out, err = cli(capsys, "--lesson", "content/modules/m1/intro.md")
    assert (code, out) == (2, "")
    video = Path("content/modules/m1/media/intro.webm")
    assert err == (
        f"error: cannot tell the duration of {video}: the lesson has no 'duration:' and ffprobe "
        "is not installed (add 'duration: <seconds>' or install ffmpeg)\n"
    )
    assert (module / "intro.md").read_text() == text
    assert server.log()["creations"] == []


def test_upload_all_lessons_with_a_local_video(
    work: Path, server: TusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    course = work / "course"
    (course).mkdir()
    (course / "course.yaml").write_text("title: T\nmodules: [m1, m2]\n")
    on_stream = LESSON.replace("media/intro.webm", "stream:" + "a" * 32).replace("som12", "s2")
    text_only = "---\nid: texte\ntitle: Texte\n---\nDu texte.\n"
    m1 = write_module(course, "m1", "SOM01", {"a.md": LESSON, "quiz.yaml": "", "b.md": text_only})
    m2 = write_module(
        course, "m2", "SOM02", {"c.md": on_stream, "d.md": LESSON.replace("som12", "d")}
    )
    random_file(m1 / "media" / "intro.webm", MIB)
    random_file(m2 / "media" / "intro.webm", MIB)
    code, out, err = cli(capsys, "--all", "--content", "course")
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == [
        str(Path("course/modules/m1/a.md")),
        str(Path("course/modules/m2/d.md")),
    ]
    assert lines[2] == "2 uploaded, 0 already uploaded, 1 already on Stream"
    assert (m2 / "c.md").read_text() == on_stream
    assert (m1 / "b.md").read_text() == text_only
    for lesson in (m1 / "a.md", m2 / "d.md"):
        assert re.search(
            r"^video: stream:[0-9a-f]{32}   # the local file$", lesson.read_text(), re.M
        )
    names = [metadata(c["uploadMetadata"])["name"] for c in server.log()["creations"]]
    assert names == ["SOM01 - Introduction", "SOM02 - Introduction"]
    code, out, _ = cli(capsys, "--all", "--content", "course")
    assert (code, out) == (0, "0 uploaded, 0 already uploaded, 3 already on Stream\n")


def test_upload_missing_credentials_exit_2(
    work: Path,
    server: TusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    random_file(work / "intro.webm", MIB)
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    monkeypatch.delenv("CLOUDFLARE_STREAM_API_TOKEN")
    code, out, err = cli(capsys, "--file", "intro.webm")
    assert (code, out) == (2, "")
    assert err == (
        "error: missing CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_STREAM_API_TOKEN: set them in the "
        "environment or in .env (an API token with the Stream:Edit permission)\n"
    )
    (work / ".env").write_text(f"CLOUDFLARE_ACCOUNT_ID={ACCOUNT}\n")
    code, out, err = cli(capsys, "--file", "intro.webm")
    assert (code, out) == (2, "")
    assert err.startswith("error: missing CLOUDFLARE_STREAM_API_TOKEN: set it in the environment")
    assert server.log()["creations"] == []


def test_upload_credentials_from_a_dotenv_file(
    work: Path,
    server: TusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    random_file(work / "intro.webm", MIB)
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    monkeypatch.delenv("CLOUDFLARE_STREAM_API_TOKEN")
    (work / ".env").write_text(
        f'CLOUDFLARE_ACCOUNT_ID={ACCOUNT}\nCLOUDFLARE_STREAM_API_TOKEN="{TOKEN}"\n'
    )
    code, out, err = cli(capsys, "--file", "intro.webm")
    assert code == 0, err
    assert server.log()["creations"][0]["uid"] == uid_of(out)


def test_upload_missing_file_exit_2(
    work: Path, server: TusServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "--file", "missing.webm")
    assert (code, out, err) == (2, "", "error: no such file: missing.webm\n")
    code, out, err = cli(capsys, "--lesson", "content/modules/m1/nope.md")
    assert (code, out) == (2, "")
    assert err == f"error: no such lesson: {Path('content/modules/m1/nope.md')}\n"


def test_upload_wrong_token_gets_401_exit_1(
    work: Path,
    server: TusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    random_file(work / "intro.webm", MIB)
    monkeypatch.setenv("CLOUDFLARE_STREAM_API_TOKEN", "wrong-token-55aa")
    code, out, err = cli(capsys, "--file", "intro.webm")
    assert (code, out) == (1, "")
    assert err == (
        "error: the server answered 401 Unauthorized: Authentication error (code 10000) "
        "(check CLOUDFLARE_STREAM_API_TOKEN and CLOUDFLARE_ACCOUNT_ID)\n"
    )
    assert "wrong-token-55aa" not in err


def test_upload_server_error_500_exit_1(
    tmp_path: Path,
    work: Path,
    server: TusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing = TusServer(tmp_path / "failing", FAIL_CREATE_STATUS="500")
    monkeypatch.setenv("CLOUDFLARE_API_BASE", failing.api_base)
    try:
        random_file(work / "intro.webm", MIB)
        code, out, err = cli(capsys, "--file", "intro.webm")
    finally:
        failing.stop()
    assert (code, out) == (1, "")
    assert err == (
        "error: the server answered 500 Internal Server Error: An unknown error occurred "
        "(code 10002)\n"
    )


def test_upload_connection_refused_exit_1(
    work: Path,
    server: TusServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CLOUDFLARE_API_BASE", f"http://127.0.0.1:{port}/client/v4")
    random_file(work / "intro.webm", MIB)
    code, out, err = cli(capsys, "--file", "intro.webm")
    assert (code, out) == (1, "")
    assert err == (
        f"error: connection refused (127.0.0.1:{port}) with 0 KiB of 1.0 MiB uploaded; {RESUME}\n"
    )


def test_upload_script_runs_as_a_process_quietly_off_a_terminal(
    work: Path, server: TusServer
) -> None:
    random_file(work / "intro.webm", 6 * MIB)
    result = subprocess.run(
        [sys.executable, str(ROOT / "stream_upload.py"), "--file", "intro.webm"]
        + ["--name", "SOM 12.01 - Introduction", "--chunk-size", "5"],
        cwd=work,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"intro\.webm: stream:[0-9a-f]{32}\n", result.stdout)
    # Not a terminal: no bar, only the final line.
    assert re.fullmatch(
        r"intro\.webm: 6\.0 MiB sent in \d+:\d\d \(\d+\.\d MiB/s\)\n", result.stderr
    )
    assert TOKEN not in result.stdout + result.stderr


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_upload_progress_bar_shows_bytes_rate_and_eta_on_a_terminal() -> None:
    now = [100.0]
    stream = Terminal()
    progress = Progress("intro.webm", 100 * MIB, 20 * MIB, stream, clock=lambda: now[0])
    now[0] += 4.0
    progress.update(60 * MIB)  # 40 MiB in 4 s: 10 MiB/s, 40 MiB left: 4 s
    assert stream.getvalue() == (
        "\rintro.webm [##############----------]  60% 60.0 MiB/100.0 MiB 10.0 MiB/s ETA 0:04  "
    )
    now[0] += 4.0
    progress.update(100 * MIB)
    progress.finish()
    assert stream.getvalue().endswith("\nintro.webm: 80.0 MiB sent in 0:08 (10.0 MiB/s)\n")
