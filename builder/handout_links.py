"""Links from a step into a part of the handout that is still locked at that step.

A learner can follow a lesson's link only while its step is open, and the handout opens by the
course's rule (`kms.unlock`): from the start, at the end of each module, or at the end of the
course. A link to a page or file that opens later is dead for every learner, so the build warns at
its `path:line` and says when that part of the handout opens. Checked after rendering, from the
links each rendered document recorded; the unlock rule is the gate's (api/gate.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from .errors import Problems
from .markdown_html import Rendered
from .model import Course, Step
from .render import DocSet, Handles


def check_handout_links(
    course: Course, docs: DocSet, handles: Handles, rendered: list[Rendered], problems: Problems
) -> None:
    """Warn about every link from a step to handout content still locked at that step."""
    if course.kms_unlock == "start":
        return
    pages = {p.rel: p.group for p in course.kms_pages}
    groups = {**pages, **{f.rel: f.group for f in course.kms_files}}
    position = {m.id: index for index, m in enumerate(course.modules)}
    for index, module in enumerate(course.modules):
        for step in module.steps:
            for handle in _step_docs(step, handles):
                doc, result = docs.docs[handle], rendered[handle]
                for rel in result.refs:
                    if rel not in groups:
                        continue
                    opens = _opens_later(course.kms_unlock, groups[rel], position, index)
                    if opens:
                        line = result.lines.get(rel, doc.first_line)
                        problems.warning(doc.path, line, _message(rel, rel in pages, opens))


def _step_docs(step: Step, handles: Handles) -> Iterator[int]:
    """What a learner reads while the step is open: its body, prompts and choices (not the
    explanations, shown once the quiz is passed)."""
    yield handles.steps[step.id]
    for number in range(len(step.questions)):
        prompt, choices = handles.questions[(step.id, number)]
        yield prompt
        yield from choices


def _opens_later(unlock: str, group: str, position: dict[str, int], here: int) -> str:
    """When handout content of `group` opens, if it is still locked in module number `here`."""
    if unlock == "end":
        return "at the end of the course (kms.unlock: end)"
    if not group:  # a general page: with the first module finished
        return "once the first module is finished (kms.unlock: module)" if here == 0 else ""
    if position.get(group, here) >= here:  # finished modules are the ones before this one
        return f"once module {group} is finished (kms.unlock: module)"
    return ""


def _message(rel: str, page: bool, opens: str) -> str:
    advice = (
        "link it from a later step, or name it without a link"
        if page
        else "attach the file to the step instead (link a copy beside the lesson)"
    )
    what = "page" if page else "file"
    return (
        f"link to the handout {what} '{rel}', still locked at this step: it opens {opens}; {advice}"
    )
