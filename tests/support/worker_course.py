"""The course the Worker runtime tests build (not the example course: English, hyphenated
upper-case ids, eight steps (a video, six short lessons, a quiz, a Tally quiz), the handout
opening module by module), and a learner signed in on a running Worker or `serve`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from builder.config import BuildConfig
from builder.pipeline import build
from support.course import ROOT, write
from support.launch import ADMIN, SECRET, TALLY_SECRET, Site
from support.worker import WorkerRuntime

LESSONS = [f"L2-{n}" for n in range(1, 7)]


def runtime_course(root: Path) -> Path:
    """A small English course: a video, six lessons, a quiz; a Tally quiz; a module handout."""
    content = root / "content"
    write(
        content / "course.yaml",
        """
        title: Shell basics
        language: en
        modules: [one, two]
        kms: {unlock: module, pdf: false}
        """,
    )
    write_module_one(content / "modules/one")
    write_module_two(content / "modules/two")
    write(content / "kms/index.md", "# Handout\n\nWelcome.\n")
    write(content / "kms/M-one/notes.md", "# Notes\n\nOn listing files.\n")
    return content


def write_module_one(module: Path) -> None:
    """M-one: an 8-second video, then a two-question quiz."""
    write(module / "module.yaml", "id: M-one\ntitle: First\nsteps: [a.md, b.yaml]\n")
    write(
        module / "a.md",
        """
        ---
        id: L1-video
        title: Watch this
        video: media/clip.webm
        duration: 8
        ---
        A **short** clip.
        """,
    )
    write(module / "media/clip.webm", "bytes standing for a video")
    write(
        module / "b.yaml",
        """
        id: L1-quiz
        title: Check
        questions:
          - prompt: Which command lists files?
            choices: [ls, cd, rm]
            answer: 0
          - prompt: Which are shells?
            choices: [bash, vim, zsh]
            answer: [0, 2]
        """,
    )


def write_module_two(module: Path) -> None:
    """M-two: six text lessons, then a Tally quiz."""
    steps = ", ".join(f"{n}.md" for n in range(1, 7))
    write(module / "module.yaml", f"id: M-two\ntitle: Second\nsteps: [{steps}, t.yaml]\n")
    for number, step in enumerate(LESSONS, start=1):
        write(
            module / f"{number}.md", f"---\nid: {step}\ntitle: Part {number}\n---\nText {number}.\n"
        )
    write(module / "t.yaml", "id: L2-exam\ntitle: Exam\ntally: wMx9Qd\n")


def built_course(root: Path) -> tuple[Path, BuildConfig]:
    """The course written into root/content and built into root/site (no disk cache)."""
    content = runtime_course(root)
    config = BuildConfig.make(content=content, out=root / "site", disk_cache=False)
    build(config)
    return content, config


@contextmanager
def published_worker(
    config: BuildConfig,
    workdir: Path,
    secrets: dict[str, str],
    databases: tuple[str, ...] = (),
    tracebacks: int = 0,
) -> Iterator[WorkerRuntime]:
    """A Worker on the built course with the admin token, SILLON_SECRET, the Tally secret and
    `secrets` (and D1 bindings `databases` besides DB), its course published as the deploy's
    last step does (README: to every cohort, with SILLON_COHORTS); on leaving, at most
    `tracebacks` tracebacks in its log (those a test causes on purpose)."""
    every = {
        "SILLON_ADMIN_TOKEN": ADMIN,
        "SILLON_SECRET": SECRET,
        "TALLY_SIGNING_SECRET": TALLY_SECRET,
        **secrets,
    }
    runtime = WorkerRuntime(config.out, workdir, every, ROOT / "tests", databases)
    published = httpx.post(
        runtime.url + "/api/admin/publish",
        content=(config.private / "manifest.json").read_bytes(),
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
    )
    assert published.status_code == 201, published.text
    yield runtime
    runtime.stop()
    assert runtime.errors().count("Traceback") <= tracebacks, runtime.errors()


def signed_in(runtime: WorkerRuntime | Site, name: str) -> httpx.Client:
    """A new learner of team green, enrolled and signed in on the running Worker or serve."""
    email = f"{name.lower()}-{time.monotonic_ns()}@example.org"
    created = httpx.post(
        runtime.url + "/api/admin/learners",
        json={"name": name, "email": email, "teamId": "green"},
        headers={"Authorization": f"Bearer {ADMIN}"},
    ).json()
    client = httpx.Client(base_url=runtime.url, timeout=60)
    assert (
        client.post("/api/session", json={"inviteToken": created["inviteToken"]}).status_code == 200
    )
    return client
