"""The published course as the API sees it: the path, durations and answer keys.

It is the private manifest `python build.py` writes (site-private/manifest.json), published into
the database as a course version. The path rule lives here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict, cast

from . import rules


class ManifestVideo(TypedDict):
    stream: str | None  # Stream uid, or None for a local file
    url: str | None  # the local file's site path
    duration: float


class ManifestQuestion(TypedDict):
    choices: int
    answer: list[int]  # the right choices (keys: the manifest is private)
    multiple: bool
    explain: str  # HTML shown once the quiz is passed


# `pass` is a Python keyword: the functional form names it.
ManifestStep = TypedDict(
    "ManifestStep",
    {
        "id": str,
        "module": str,
        "title": str,
        "kind": Literal["lesson", "quiz"],
        "video": NotRequired[ManifestVideo | None],  # lessons
        "pass": NotRequired[float],  # quizzes
        "tally": NotRequired[str],
        "questions": NotRequired[list[ManifestQuestion]],
        # The quiz gate (README, "Quizzes"); absent from manifests built before it: defaults.
        "feedback": NotRequired[Literal["none", "score", "questions"]],
        "attempts": NotRequired[int],
        "cooldown": NotRequired[list[float]],  # seconds, the last one repeats
        "draw": NotRequired[int | None],
    },
)


class ManifestKmsEntry(TypedDict):
    url: str
    module: str | None  # None: a page of the whole course


class ManifestKms(TypedDict):
    unlock: Literal["start", "module", "end"]
    pages: list[ManifestKmsEntry]
    files: list[ManifestKmsEntry]


class ManifestMedia(TypedDict):
    """A course file under /media/ and who may fetch it (builder/gated_media.py)."""

    url: str
    steps: list[str]  # while one of these steps is open
    handout: list[str | None]  # or by the handout's unlock rule for these modules (None: general)


@dataclass(frozen=True)
class MediaOwners:
    steps: frozenset[str]
    handout: frozenset[str | None]


class Manifest(TypedDict):
    """The private manifest the build writes (builder/manifest.py), format 1."""

    format: int
    version: str
    title: str
    language: NotRequired[str]
    author: NotRequired[str]  # absent before certificates
    description: NotRequired[str]
    playbackMaxRate: float
    completion: float
    kms: ManifestKms
    modules: list[dict[str, Any]]
    steps: list[ManifestStep]
    media: NotRequired[list[ManifestMedia]]  # absent before files were gated: videos only


@dataclass(frozen=True)
class StepInfo:
    id: str
    kind: str  # video | lesson | quiz
    module: str
    title: str
    duration: float | None = None  # video steps
    video_url: str | None = None  # local video (site path), or None
    stream_uid: str | None = None
    pass_mark: float = 0.8
    answers: tuple[tuple[int, ...], ...] = ()  # built-in quiz: right choices per question
    multiple: tuple[bool, ...] = ()
    choices: tuple[int, ...] = ()  # number of choices per question
    explains: tuple[str, ...] = ()
    tally: str | None = None
    feedback: str = "score"  # what a failed attempt tells: none | score | questions
    attempts: int = 3  # failed attempts before the cooldown starts
    cooldown: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)  # seconds; the last repeats
    draw: int | None = None  # questions drawn from the pool at each attempt

    def public(self) -> dict[str, Any]:
        """What a learner may know of the step: `currentStep` in the API."""
        return {"id": self.id, "type": self.kind, "title": self.title, "module": self.module}


@dataclass
class Course:
    version: str
    title: str
    completion: float
    max_rate: float
    kms_unlock: str
    steps: list[StepInfo]
    language: str = "fr"
    author: str = ""
    description: str = ""
    kms_pages: dict[str, str | None] = field(default_factory=dict)  # url -> module id
    kms_files: dict[str, str | None] = field(default_factory=dict)
    index: dict[str, int] = field(default_factory=dict)
    module_steps: dict[str, list[str]] = field(default_factory=dict)
    media: dict[str, MediaOwners] = field(default_factory=dict)  # gated /media/ URL -> owners

    def __post_init__(self) -> None:
        self.index = {s.id: n for n, s in enumerate(self.steps)}
        for step in self.steps:  # a video is its step's, whatever the manifest's age
            if step.video_url and step.video_url not in self.media:
                self.media[step.video_url] = MediaOwners(frozenset({step.id}), frozenset())
        for step in self.steps:
            self.module_steps.setdefault(step.module, []).append(step.id)

    @property
    def first(self) -> str | None:
        return self.steps[0].id if self.steps else None

    @property
    def possible_badges(self) -> set[str]:
        """The badges this course can award, by its number of videos, quizzes and modules."""
        kinds = [s.kind for s in self.steps]
        return rules.possible_badges(
            kinds.count("video"), kinds.count("quiz"), len(self.module_steps)
        )

    def step(self, step_id: str) -> StepInfo | None:
        position = self.index.get(step_id)
        return None if position is None else self.steps[position]

    def after(self, step_id: str) -> str | None:
        """The step that opens once `step_id` is done (None at the end of the course)."""
        position = self.index[step_id] + 1
        return self.steps[position].id if position < len(self.steps) else None

    def ends_module(self, step_id: str) -> bool:
        step = self.steps[self.index[step_id]]
        return self.module_steps[step.module][-1] == step_id

    def open_step_for(self, completed: set[str], current: str | None = None) -> str | None:
        """The path rule, also after a republish with steps inserted, moved or removed.

        The open step is the first step, in the current order, that comes after the furthest
        step the learner completed and is not completed itself. Steps inserted before that
        point are never opened (a learner only moves forward); removed steps are forgotten.
        A completed step the learner has not moved on from (`current`) stays open while it is
        still the furthest one they completed.
        """
        furthest = max((self.index[s] for s in completed if s in self.index), default=-1)
        if current in completed and self.index.get(current or "") == furthest:
            return current
        for step in self.steps[furthest + 1 :]:
            if step.id not in completed:
                return step.id
        return None


def parse_manifest(text: str) -> Course:
    """Read a manifest written by the build (format 1)."""
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ValueError("a manifest is a JSON object")
    data = cast(Manifest, loaded)
    if data.get("format") != 1:
        raise ValueError(f"unsupported course manifest format {data.get('format')!r}")
    if not isinstance(data.get("version"), str) or not data["version"]:
        raise ValueError("'version' must be the manifest's hash (a string)")
    steps = [_step(entry) for entry in data["steps"]]
    return Course(
        version=data["version"],
        title=data["title"],
        completion=float(data["completion"]),
        max_rate=float(data["playbackMaxRate"]),
        kms_unlock=data["kms"]["unlock"],
        steps=steps,
        language=str(data.get("language") or "fr"),
        author=str(data.get("author") or ""),
        description=str(data.get("description") or ""),
        kms_pages={p["url"]: p["module"] for p in data["kms"]["pages"]},
        kms_files={f["url"]: f["module"] for f in data["kms"]["files"]},
        media={
            m["url"]: MediaOwners(frozenset(m["steps"]), frozenset(m["handout"]))
            for m in data.get("media", [])
        },
    )


def _step(entry: ManifestStep) -> StepInfo:
    step_id, module, title = entry["id"], entry["module"], entry["title"]
    if entry["kind"] == "lesson":
        video = entry.get("video")
        if not video:
            return StepInfo(step_id, "lesson", module, title)
        return StepInfo(
            step_id,
            "video",
            module,
            title,
            duration=float(video["duration"]),
            video_url=video.get("url"),
            stream_uid=video.get("stream"),
        )
    questions = entry.get("questions") or []
    _check_gate(entry, len(questions))
    return StepInfo(
        step_id,
        "quiz",
        module,
        title,
        pass_mark=float(entry["pass"]),
        tally=entry.get("tally"),
        answers=tuple(tuple(q["answer"]) for q in questions),
        multiple=tuple(bool(q["multiple"]) for q in questions),
        choices=tuple(int(q["choices"]) for q in questions),
        explains=tuple(q.get("explain", "") for q in questions),
        feedback=str(entry.get("feedback") or "score"),
        attempts=int(entry.get("attempts") or 3),
        cooldown=tuple(float(s) for s in entry.get("cooldown") or (60, 300, 1800, 7200)),
        draw=int(draw) if (draw := entry.get("draw")) else None,
    )


def _check_gate(entry: ManifestStep, pool: int) -> None:
    """A quiz's gate as the build writes it (a manifest is taken whole or not at all)."""
    if entry.get("feedback", "score") not in ("none", "score", "questions"):
        raise ValueError(f"quiz {entry['id']!r}: unknown feedback {entry.get('feedback')!r}")
    if int(entry.get("attempts") or 3) < 1 or any(
        not float(s) > 0 for s in entry.get("cooldown") or [60]
    ):
        raise ValueError(f"quiz {entry['id']!r}: attempts and cooldown must be positive")
    draw = entry.get("draw")
    if draw is not None and not 1 <= int(draw) <= pool:
        raise ValueError(f"quiz {entry['id']!r}: draw {draw!r} is not 1 to {pool}")
