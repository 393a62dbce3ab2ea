"""The course as the build understands it, after parsing and before rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass
class Source:
    """A content file: where it is (for messages) and what it says."""

    path: Path  # as shown to the author, e.g. content/modules/01/intro.md
    rel: str  # relative to the content directory, with '/'
    text: str


@dataclass
class Question:
    prompt: str
    choices: list[str]
    answer: list[int]
    explain: str
    line: int
    multiple: bool  # the author wrote a list: checkboxes, whatever the number of right answers


@dataclass
class Step:
    """One stop on the learner's path: a lesson (`.md`) or a quiz (`.yaml`)."""

    kind: Literal["lesson", "quiz"]
    id: str
    title: str
    source: Source
    module_id: str = ""
    body: str = ""  # Markdown: the lesson body or the quiz intro
    body_line: int = 1  # line of the body's first line in its file
    video: str | None = None  # content-relative path, or "stream:<uid>"
    duration: float | None = None
    captions: str | None = None  # content-relative path
    pass_mark: float = 0.8
    questions: list[Question] = field(default_factory=list)
    tally: str | None = None
    # The quiz gate (README, "Quizzes"): what a failed attempt tells, the pacing, the draw.
    feedback: str = "score"  # none | score | questions
    attempts: int = 3  # failed attempts before the cooldown starts
    cooldown: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)  # seconds; the last repeats
    draw: int | None = None  # questions drawn from the pool at each attempt
    lines: dict[str, int] = field(default_factory=dict)  # where each front matter key is

    @property
    def is_stream(self) -> bool:
        return bool(self.video and self.video.startswith("stream:"))


@dataclass
class Module:
    id: str
    title: str
    description: str
    dir: str  # directory name under modules/
    source: Source
    steps: list[Step] = field(default_factory=list)


@dataclass
class KmsPage:
    """A handout page: Markdown under kms/, grouped by module id (or general)."""

    rel: str  # content-relative, e.g. kms/SOM01/fiche.md
    url: str  # /kms/SOM01/fiche.html
    group: str  # module id, or "" for general pages
    title: str
    source: Source
    body: str
    body_line: int


@dataclass
class KmsFile:
    rel: str
    url: str
    group: str
    size: int


@dataclass
class Course:
    title: str
    description: str
    author: str
    language: str
    playback_max_rate: float
    completion: float
    kms_unlock: str
    source: Source
    kms_pdf: bool = True
    modules: list[Module] = field(default_factory=list)
    kms_pages: list[KmsPage] = field(default_factory=list)
    kms_files: list[KmsFile] = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        return [step for module in self.modules for step in module.steps]
