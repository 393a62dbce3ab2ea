"""The learner's notebook: a note per step, written beside the step and kept for good.

A finished step closes for good, so the learner's own notes are what they keep of it. A note
is Markdown as typed, at most NOTE_MAX_BYTES of UTF-8, stored as text and never rendered by the
server (the pages that show it escape it). A learner writes only on a step they have reached
(the open step or one before it, every step once the course is finished) or one that already
has their note (after a reset, say); never on a future step (403 `step_locked`), so the
notebook cannot be used to peek at or annotate the path ahead. Only the learner reads their
notes: identity is the session, never a parameter; a teacher sees how many there are, not
what they say.
"""

from __future__ import annotations

from functools import partial
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import limits, sql
from .clock import iso
from .context import Context
from .course import Course
from .errors import ApiError
from .learner import Learner
from .operations import NOTE
from .pdf import write_pdf

NOTE_MAX_BYTES = 20 * 1024


async def list_notes(api: Context, request: Request) -> Response:
    """GET /api/notes: all of your notes, in path order (notes of steps a newer version of the
    course no longer has come last, under their id)."""
    learner, course = await api.placed(request)
    rows = (await api.db.execute(sql.notes_of(learner["id"]))).rows
    return JSONResponse({"notes": in_path_order(rows, course)})


async def put_note(api: Context, request: Request) -> Response:
    """PUT /api/notes/<stepId>: your note of a step you have reached; empty text deletes it."""
    api.limit(request, limits.WRITES)
    learner, course = await api.placed(request)
    step_id = request.path_params["step_id"]
    text = note_text((await NOTE.read(request)).data.get("text"))
    await may_write(api, learner, course, step_id)
    now = iso(api.clock())
    if text:
        await api.db.batch([sql.save_note(learner["id"], step_id, text, now)])
    else:
        await api.db.batch([sql.delete_note(learner["id"], step_id)])
    return JSONResponse({"stepId": step_id, "updatedAt": now, "bytes": len(text.encode("utf-8"))})


def note_text(raw: object) -> str:
    """The note as typed (not stripped: Markdown keeps its spaces), or a 422/413."""
    if not isinstance(raw, str):
        raise ApiError(422, "invalid", "'text' must be a string (empty to delete the note).")
    try:
        size = len(raw.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"): no text a keyboard types
        raise ApiError(422, "invalid", "'text' must be valid Unicode text.") from None
    if size > NOTE_MAX_BYTES:
        raise ApiError(
            413, "note_too_long", f"A note holds at most {NOTE_MAX_BYTES // 1024} KB of text."
        )
    return raw if raw.strip() else ""


async def may_write(api: Context, learner: Learner, course: Course, step_id: str) -> None:
    """A step reached, or one with a note of the learner's already: else 404 or 403."""
    position = course.index.get(step_id)
    if position is None:
        found = (await api.db.execute(sql.note_exists(learner["id"], step_id))).first()
        if found is None:
            raise ApiError(404, "unknown_step", f"There is no step '{step_id}' in this course.")
        return  # a step the course no longer has: the note stays the learner's
    open_id = learner["open_step"]
    if open_id is None or position <= course.index.get(open_id, len(course.steps)):
        return
    if (await api.db.execute(sql.note_exists(learner["id"], step_id))).first() is None:
        raise ApiError(403, "step_locked", f"Step '{step_id}' is not open yet: no notes ahead.")


def in_path_order(rows: list[dict[str, Any]], course: Course) -> list[dict[str, Any]]:
    """The notes with their step's title and module, in path order; notes of steps the course
    no longer has last, by id, with no title."""
    end = len(course.steps)

    def place(row: dict[str, Any]) -> tuple[int, str]:
        return course.index.get(row["step_id"], end), row["step_id"]

    notes = []
    for row in sorted(rows, key=place):
        step = course.step(row["step_id"])
        notes.append(
            {
                "stepId": row["step_id"],
                "title": step.title if step else None,
                "module": step.module if step else None,
                "text": row["text"],
                "updatedAt": row["updated_at"],
            }
        )
    return notes


async def notes_pdf(api: Context, request: Request) -> Response:
    """GET /api/notes.pdf: your notebook as a PDF (serve; 503 `pdf_unavailable` elsewhere)."""
    learner, course = await api.placed(request)
    rows = (await api.db.execute(sql.notes_of(learner["id"]))).rows
    notes = in_path_order(rows, course)
    title = NOTEBOOK_TITLE.get(course.language, NOTEBOOK_TITLE["en"])
    articles = "".join(
        f"<h2>{escape(n['title'] or n['stepId'])}</h2><div class='note'>{escape(n['text'])}</div>"
        for n in notes
    )
    page = (
        f"<!doctype html><html lang='{escape(course.language)}'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{NOTEBOOK_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><p class='course'>{escape(course.title)} · "
        f"{escape(learner['name'])}</p>{articles}</body></html>"
    )
    name = "mes-notes.pdf" if course.language == "fr" else "my-notes.pdf"
    return Response(
        write_pdf(page, "notebook"),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE},
    )


NOTEBOOK_TITLE = {"fr": "Mon carnet de notes", "en": "My notebook"}
NOTEBOOK_STYLE = (
    "@page { size: A4; margin: 18mm; } body { font-family: sans-serif; color: #1d2430; } "
    "h1 { font-size: 20pt; margin: 0 0 2mm; } .course { color: #555; margin: 0 0 8mm; } "
    "h2 { font-size: 13pt; margin: 7mm 0 2mm; } "
    ".note { white-space: pre-wrap; font-size: 10.5pt; line-height: 1.45; }"
)
NO_STORE = {"Cache-Control": "no-store"}


def routes(api: Context) -> list[Route]:
    """The notebook's routes, bound to the API (Api.routes lists them)."""
    return [
        Route("/api/notes", partial(list_notes, api), methods=["GET"]),
        Route("/api/notes.pdf", partial(notes_pdf, api), methods=["GET"]),
        Route("/api/notes/{step_id}", partial(put_note, api), methods=["PUT"]),
    ]
