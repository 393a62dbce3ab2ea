"""The Stream upload CLI on lessons (`--lesson`, `--all`), against a real tus server
(support/tus.py): the lesson's `video:` line, and only it, rewritten to the Stream uid; the
duration from ffprobe when the lesson has none; the lessons already on Stream left alone.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support.tus import Capsys, Patch, TusServer, cli, metadata, random_file, uid_of

from ops.upload import MIB

pytestmark = pytest.mark.live  # each test starts the node tus server

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
    work: Path, server: TusServer, capsys: Capsys
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
    work: Path, server: TusServer, capsys: Capsys
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
    tmp_path: Path, work: Path, server: TusServer, capsys: Capsys, monkeypatch: Patch
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
    work: Path, server: TusServer, capsys: Capsys
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
