"""Shared fixtures: small real courses written into tmp_path, and the real build."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from builder.config import BuildConfig

pytest_plugins = ["browser"]  # the Chromium fixture for the browser tests

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "content"


def write(path: Path, text: str) -> Path:
    """Write dedented text, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


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
    write(
        content / "modules/m1/module.yaml", "id: M1\ntitle: Premier\nsteps: [intro.md, quiz.yaml]\n"
    )
    write(
        content / "modules/m1/intro.md",
        """
        ---
        id: intro
        title: Introduction
        video: media/clip.webm
        duration: DURATION
        captions: media/clip.vtt
        ---
        Bonjour **tout le monde**. Voir [la fiche](../../kms/M1/fiche.md).

        ![Un schéma](img/schema.svg)
        """,
    )
    intro = content / "modules/m1/intro.md"
    intro.write_text(intro.read_text().replace("DURATION", str(duration)))
    write(content / "modules/m1/media/clip.webm", "not really a video, but bytes")
    write(content / "modules/m1/media/clip.vtt", "WEBVTT\n\n00:00.000 --> 00:02.000\nBonjour\n")
    write(content / "modules/m1/img/schema.svg", '<svg xmlns="http://www.w3.org/2000/svg"/>\n')
    write(
        content / "modules/m1/quiz.yaml",
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
    write(
        content / "modules/m2/module.yaml", "id: M2\ntitle: Second\nsteps: [texte.md, tally.yaml]\n"
    )
    write(
        content / "modules/m2/texte.md",
        "---\nid: texte\ntitle: Un texte\n---\n## Partie\n\nDu texte.\n",
    )
    write(content / "modules/m2/tally.yaml", "id: final\ntitle: Évaluation\ntally: wMx9Qd\n")
    write(content / "kms/index.md", "# Polycopié\n\nBienvenue.\n")
    write(content / "kms/M1/fiche.md", "# Fiche un\n\n[Le script](script.sql)\n")
    write(content / "kms/M1/script.sql", "SELECT 1;\n")
    return content


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


def config_for(content: Path, **options: object) -> BuildConfig:
    """A build config writing next to the content, in its tmp_path."""
    options.setdefault("out", content.parent / "site")
    return BuildConfig.make(content=content, **options)  # type: ignore[arg-type]
