"""The Stream upload CLI (ops/upload.py, stream_upload.py) on a file, against a real tus server
(support/tus.py: @tus/server behind a stand-in for Stream's API): bytes, metadata, chunks,
resuming, credentials, errors and their exit codes, the progress bar. Uploads named by a
lesson's `video:` are in test_upload_lessons.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from support.course import ROOT
from support.tus import (
    ACCOUNT,
    RESUME,
    TOKEN,
    UID,
    Capsys,
    Patch,
    TusServer,
    cli,
    held_patch,
    metadata,
    random_file,
    start_cli,
    uid_of,
)

from ops.tus import Retry
from ops.upload import MIB, Progress


@pytest.mark.live
def test_upload_file_arrives_complete_and_byte_identical(
    work: Path, server: TusServer, capsys: Capsys
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


@pytest.mark.live
def test_upload_metadata_carries_name_and_requiresignedurls(
    work: Path, server: TusServer, capsys: Capsys
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


@pytest.mark.live
def test_upload_chunks_follow_stream_rules(work: Path, server: TusServer, capsys: Capsys) -> None:
    random_file(work / "intro.webm", 12 * MIB + 1234)
    code, _, err = cli(capsys, "--file", "intro.webm", "--chunk-size", "5.25")
    assert code == 0, err
    patches = server.log()["patches"]
    lengths = [patch["length"] for patch in patches]
    assert lengths == [int(5.25 * MIB), int(5.25 * MIB), 12 * MIB + 1234 - int(10.5 * MIB)]
    for length in lengths[:-1]:
        assert length >= 5 * MIB and length % (256 * 1024) == 0
    assert [patch["offset"] for patch in patches] == [0, lengths[0], lengths[0] + lengths[1]]


@pytest.mark.live
@pytest.mark.parametrize("size", ["4", "5.1", "0"])
def test_upload_chunk_size_breaking_stream_rules_is_refused(
    work: Path, server: TusServer, capsys: Capsys, size: str
) -> None:
    random_file(work / "intro.webm", MIB)
    code, out, err = cli(capsys, "--file", "intro.webm", "--chunk-size", size)
    assert (code, out) == (2, "")
    assert err == (
        "error: --chunk-size must be at least 5 MiB and a multiple of 0.25 MiB (256 KiB), "
        f"got {size}\n"
    )
    assert server.log()["creations"] == []


@pytest.mark.live
def test_upload_interrupted_resumes_from_the_server_offset(
    work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
) -> None:
    server.stop()
    data = random_file(work / "intro.webm")
    dying = TusServer(server.data, CRASH_ON_PATCH="2")  # killed when the second chunk arrives
    monkeypatch.setenv("CLOUDFLARE_API_BASE", dying.api_base)
    try:
        code, out, err = cli(capsys, "--file", "intro.webm", "--chunk-size", "5", "--retries", "0")
        assert dying.process.wait(timeout=10) == 3
    finally:
        dying.stop()
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == (
        f"error: intro.webm: stopped at 5.0 MiB of 12.0 MiB: connection lost "
        f"(127.0.0.1:{dying.port}); {RESUME}"
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


@pytest.mark.live
def test_upload_forgotten_by_the_server_starts_again(
    tmp_path: Path, work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
) -> None:
    server.stop()
    data = random_file(work / "intro.webm")
    dying = TusServer(server.data, CRASH_ON_PATCH="2")
    monkeypatch.setenv("CLOUDFLARE_API_BASE", dying.api_base)
    try:
        code, _, _ = cli(capsys, "--file", "intro.webm", "--chunk-size", "5", "--retries", "0")
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


CONFLICT = "the server answered 409 Conflict: Upload-Offset conflict"


def kill_while_a_chunk_is_held(work: Path, server: TusServer) -> None:
    """Run the CLI in a process, kill -9 it once the server holds its second chunk whole."""
    first = start_cli(work, "--file", "intro.webm", "--chunk-size", "5")
    try:
        held = held_patch(server)
    finally:
        first.kill()
        first.communicate(timeout=10)
    assert (held["offset"], held["length"]) == (5 * MIB, 5 * MIB)


@pytest.mark.live
@pytest.mark.slow
def test_upload_rerun_after_a_kill_resumes_through_the_offset_conflict(
    work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
) -> None:
    server.stop()
    data = random_file(work / "intro.webm")
    holding = TusServer(server.data, HOLD_PATCH="2", HOLD_SECONDS="3")
    monkeypatch.setenv("CLOUDFLARE_API_BASE", holding.api_base)
    try:
        kill_while_a_chunk_is_held(work, holding)
        # At once: HEAD still says 5 MiB; the held chunk lands before this run's PATCH.
        code, out, err = cli(capsys, "--file", "intro.webm", "--chunk-size", "5")
        log = holding.log()
    finally:
        holding.stop()
    assert code == 0, err
    uid = uid_of(out)
    assert out == f"intro.webm: stream:{uid}\n"
    assert err.splitlines()[:2] == [
        "resuming intro.webm at 5.0 MiB of 12.0 MiB",
        f"intro.webm: {CONFLICT}; the server holds 10.0 MiB of 12.0 MiB: resuming (1 of 5)",
    ]
    assert re.fullmatch(
        r"intro\.webm: 2\.0 MiB sent in \d+:\d\d \([\d.]+ [KM]iB/s\)", err.splitlines()[2]
    )
    assert [(p["offset"], p["length"]) for p in log["patches"]] == [
        (0, 5 * MIB),
        (5 * MIB, 5 * MIB),  # held, its client killed
        (5 * MIB, 5 * MIB),  # the rerun: 409
        (10 * MIB, 2 * MIB),  # from the offset HEAD read again
    ]
    assert server.stored(uid) == data


@pytest.mark.live
@pytest.mark.slow
def test_upload_offset_conflict_past_the_bound_gives_up_with_the_offset(
    work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
) -> None:
    server.stop()
    random_file(work / "intro.webm")
    # The held chunk lands 1 MiB at a time, every 3 s: each PATCH meanwhile meets a 409.
    holding = TusServer(server.data, HOLD_PATCH="2", HOLD_SECONDS="3", HOLD_PIECES="5")
    monkeypatch.setenv("CLOUDFLARE_API_BASE", holding.api_base)
    try:
        kill_while_a_chunk_is_held(work, holding)
        code, out, err = cli(capsys, "--file", "intro.webm", "--chunk-size", "5", "--retries", "1")
    finally:
        holding.stop()
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "resuming intro.webm at 5.0 MiB of 12.0 MiB",
        f"intro.webm: {CONFLICT}; the server holds 6.0 MiB of 12.0 MiB: resuming (1 of 1)",
        f"error: intro.webm: gave up after 1 resume at 6.0 MiB of 12.0 MiB: {CONFLICT}; {RESUME}",
    ]


@pytest.mark.live
def test_upload_retries_below_zero_is_refused(
    work: Path, server: TusServer, capsys: Capsys
) -> None:
    random_file(work / "intro.webm", MIB)
    code, out, err = cli(capsys, "--file", "intro.webm", "--retries", "-1")
    assert (code, out, err) == (2, "", "error: --retries must be 0 or more, got -1\n")
    assert server.log()["creations"] == []


@pytest.mark.live
def test_upload_same_content_is_not_uploaded_twice(
    work: Path, server: TusServer, capsys: Capsys
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


@pytest.mark.live
def test_upload_missing_credentials_exit_2(
    work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
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


@pytest.mark.live
def test_upload_credentials_from_a_dotenv_file(
    work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
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


@pytest.mark.live
def test_upload_missing_file_exit_2(work: Path, server: TusServer, capsys: Capsys) -> None:
    code, out, err = cli(capsys, "--file", "missing.webm")
    assert (code, out, err) == (2, "", "error: no such file: missing.webm\n")
    code, out, err = cli(capsys, "--lesson", "content/modules/m1/nope.md")
    assert (code, out) == (2, "")
    assert err == f"error: no such lesson: {Path('content/modules/m1/nope.md')}\n"


@pytest.mark.live
def test_upload_wrong_token_gets_401_exit_1(
    work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
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


@pytest.mark.live
def test_upload_server_error_500_exit_1(
    tmp_path: Path, work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
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


@pytest.mark.live
def test_upload_connection_refused_exit_1(
    work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
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


@pytest.mark.live
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


def test_upload_resumes_wait_doubling_from_1_s_up_to_30_s() -> None:
    assert [Retry().delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert Retry().attempts == 5  # about half a minute of resuming before giving up
