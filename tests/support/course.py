"""Courses for the tests: the repository's example (also with a real clip of a chosen length as
its first video), and a small valid course written into a folder (two modules: a video lesson
and a quiz, a text lesson and a Tally quiz; a handout)."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from builder.config import BuildConfig
from builder.pipeline import build

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "content"
ENGLISH = ROOT / "examples/english/content"  # the second example: English, dotted ids


def write(path: Path, text: str) -> Path:
    """Write dedented text, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def edit(content: Path, rel: str, old: str, new: str) -> None:
    """Replace the first `old` of content/rel with `new` (it must be there)."""
    path = content / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def example_with_clip(root: Path, seconds: int, completion: float = 0.95) -> Path:
    """A copy of the example course under root whose first video (som01-bienvenue) is a real
    clip of `seconds` (ffmpeg: black, 10 frames a second, a few KB), completing at
    `completion`."""
    if shutil.which("ffmpeg") is None:
        raise AssertionError("ffmpeg is missing: run `bash tests/setup.sh` (Debian's ffmpeg)")
    content = root / "content"
    shutil.copytree(EXAMPLE, content)
    clip = content / "modules/01-premiers-pas/media/bienvenue.webm"
    lavfi = f"color=c=black:s=64x36:r=10:d={seconds}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi, "-c:v", "libvpx", str(clip)],
        check=True,
    )
    edit(content, "modules/01-premiers-pas/01-bienvenue.md", "duration: 9", f"duration: {seconds}")
    edit(content, "course.yaml", "completion: 0.95", f"completion: {completion}")
    return content


def make_course(root: Path, language: str = "fr", duration: int = 8, unlock: str = "end") -> Path:
    """Write a minimal valid course (two modules, lesson + video + quiz + handout) under root."""
    content = root / "content"
    write(
        content / "course.yaml",
        f"""
        title: Petit cours
        language: {language}
        modules: [m1, m2]
        kms: {{unlock: {unlock}}}
        """,
    )
    write_module_one(content / "modules/m1", duration)
    write_module_two(content / "modules/m2")
    write(content / "kms/index.md", "# Polycopié\n\nBienvenue. Voir [la fiche](M1/fiche.md).\n")
    write(content / "kms/M1/fiche.md", "# Fiche un\n\n[Le script](script.sql)\n")
    write(content / "kms/M1/script.sql", "SELECT 1;\n")
    return content


def write_module_one(module: Path, duration: int) -> None:
    """M1: a video lesson `intro` of `duration` seconds, then the built-in quiz `quiz-1`."""
    write(module / "module.yaml", "id: M1\ntitle: Premier\nsteps: [intro.md, quiz.yaml]\n")
    write(
        module / "intro.md",
        f"""
        ---
        id: intro
        title: Introduction
        video: media/clip.webm
        duration: {duration}
        captions: media/clip.vtt
        ---
        Bonjour **tout le monde**.

        ![Un schéma](img/schema.svg)
        """,
    )
    write(module / "media/clip.webm", "not really a video, but bytes")
    write(module / "media/clip.vtt", "WEBVTT\n\n00:00.000 --> 00:02.000\nBonjour\n")
    write(module / "img/schema.svg", '<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    write(
        module / "quiz.yaml",
        """
        id: quiz-1
        title: Quiz un
        questions:
          - prompt: Deux plus deux ?
            choices: ["3", "4", "5"]
            answer: 1
          - prompt: Nombres pairs ?
            choices: ["2", "3", "4"]
            answer: [0, 2]
            explain: Divisibles par deux.
        """,
    )


def write_module_two(module: Path) -> None:
    """M2: the text lesson `texte`, then the Tally quiz `final`."""
    write(module / "module.yaml", "id: M2\ntitle: Second\nsteps: [texte.md, tally.yaml]\n")
    write(module / "texte.md", "---\nid: texte\ntitle: Un texte\n---\n## Partie\n\nDu texte.\n")
    write(module / "tally.yaml", "id: final\ntitle: Évaluation\ntally: wMx9Qd\n")


def run_check(content: Path, monkeypatch: Any, capsys: Any, *extra: str) -> tuple[int, list[str]]:
    """`python build.py check` of `content` (a folder named content), from its parent: the exit
    code and the lines it printed."""
    import build as cli

    monkeypatch.chdir(content.parent)
    code = cli.main(["check", "--content", "content", *extra])
    err: str = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


def config_for(content: Path, **options: object) -> BuildConfig:
    """A build config writing next to the content, in its tmp_path."""
    options.setdefault("out", content.parent / "site")
    return BuildConfig.make(content=content, **options)  # type: ignore[arg-type]


def manifest_of(tmp_path: Path) -> str:
    """The manifest of the small course (two-minute video, unlocked by module), built."""
    content = make_course(tmp_path / "course", duration=120, unlock="module")
    config = BuildConfig.make(content=content, out=tmp_path / "site", disk_cache=False)
    build(config)
    return (config.private / "manifest.json").read_text()
