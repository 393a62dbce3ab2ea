"""Who may fetch each course file under /media/: written into the manifest for the gate.

A file a step uses (its video and captions, the images and downloads its text, questions and
explanations link) belongs to that step: served while the step is open, never after (the
transcript is the lesson). A file a handout page shows also belongs to that page, and stays
reachable by the handout's unlock rule. Files of the course and module descriptions are shown
on the public outline, so they are public and not listed.
"""

from __future__ import annotations

from typing import Any

from .model import Course, Step
from .render import DocSet, Handles


def gated_media(
    course: Course, docs: DocSet, handles: Handles, media: dict[str, str]
) -> list[dict[str, Any]]:
    """[{url, steps: [step ids], handout: [module id, or None for a general page]}], by url."""
    public = set(docs.assets[handles.course_description].values())
    for module in course.modules:
        public |= set(docs.assets[handles.modules[module.id]].values())
    steps: dict[str, set[str]] = {}
    handout: dict[str, set[str | None]] = {}
    for step in course.steps:
        for url in _step_files(step, docs, handles, media):
            steps.setdefault(url, set()).add(step.id)
    for page in course.kms_pages:
        for url in docs.assets[handles.kms[page.rel]].values():
            handout.setdefault(url, set()).add(page.group or None)
    return [
        {
            "url": url,
            "steps": sorted(steps.get(url, ())),
            "handout": sorted(handout.get(url, ()), key=lambda m: m or ""),
        }
        for url in sorted(set(steps) | set(handout))
        if url not in public
    ]


def _step_files(step: Step, docs: DocSet, handles: Handles, media: dict[str, str]) -> set[str]:
    urls = {media[rel] for rel in (step.video, step.captions) if rel and rel in media}
    owned = [handles.steps[step.id]]
    for (step_id, number), (prompt, choices) in handles.questions.items():
        if step_id == step.id:
            owned += [prompt, *choices]
            owned += (
                [handles.explains[(step_id, number)]]
                if (step_id, number) in handles.explains
                else []
            )
    for handle in owned:
        urls |= set(docs.assets[handle].values())
    return urls
