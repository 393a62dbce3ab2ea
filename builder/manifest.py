"""The private course manifest: what the API needs and learners must not see.

It holds the path (steps in order, durations), the quiz answer keys and explanations, each
quiz's gate (feedback, attempts, cooldown in seconds, draw), and a version hash of all of it.
It is written outside site/, so it is never deployed as a page.
"""

from __future__ import annotations

import json
from typing import Any

from .cache import digest
from .gated_media import gated_media
from .model import Course, Step
from .render import DocSet, Handles

FORMAT = 1


def manifest(
    course: Course, docs: DocSet, handles: Handles, media: dict[str, str]
) -> dict[str, Any]:
    """Return the manifest, with `version` the hash of everything else in it."""
    body: dict[str, Any] = {
        "format": FORMAT,
        "title": course.title,
        "language": course.language,
        "author": course.author,  # the certificate's issuer name by default (api/certificates.py)
        "description": course.description,
        "playbackMaxRate": course.playback_max_rate,
        "completion": course.completion,
        "kms": {
            "unlock": course.kms_unlock,
            "pages": [{"url": p.url, "module": p.group or None} for p in course.kms_pages],
            "files": [{"url": f.url, "module": f.group or None} for f in course.kms_files],
        },
        "modules": [
            {"id": m.id, "title": m.title, "steps": [s.id for s in m.steps]} for m in course.modules
        ],
        "steps": [_step(step, docs, handles, media) for step in course.steps],
        "media": gated_media(course, docs, handles, media),
    }
    body["version"] = digest(json.dumps(body, sort_keys=True, ensure_ascii=False).encode())
    return body


def _step(step: Step, docs: DocSet, handles: Handles, media: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": step.id,
        "module": step.module_id,
        "title": step.title,
        "kind": step.kind,
    }
    if step.kind == "lesson":
        entry["video"] = None
        if step.video:
            entry["video"] = {
                "stream": step.video[len("stream:") :] if step.is_stream else None,
                "url": None if step.is_stream else media.get(step.video),
                "duration": step.duration,
            }
        return entry
    entry["pass"] = step.pass_mark
    entry["attempts"] = step.attempts
    entry["cooldown"] = list(step.cooldown)
    if step.tally:
        entry["tally"] = step.tally
        return entry
    entry["feedback"] = step.feedback
    entry["draw"] = step.draw
    entry["questions"] = [
        {
            "choices": len(q.choices),
            "answer": q.answer,
            "multiple": q.multiple,
            "explain": docs.get(_explain(handles, step, n))
            if _explain(handles, step, n) >= 0
            else "",
        }
        for n, q in enumerate(step.questions)
    ]
    return entry


def _explain(handles: Handles, step: Step, number: int) -> int:
    return handles.explains.get((step.id, number), -1)


def dumps(data: dict[str, Any]) -> bytes:
    """Serialise the manifest stably (same course, same bytes)."""
    # No indent: json's C encoder only runs without it (3x faster on a large course).
    return (json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n").encode()
