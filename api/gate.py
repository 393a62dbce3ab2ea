"""The content gate: only the open step's fragment and video, the handout by its unlock rule.

The same function guards the local server (serve) and, on Cloudflare, the Worker in front of
the static assets (`run_worker_first`), so both refuse exactly the same requests.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from . import auth, sql
from .context import Context
from .course import Course
from .errors import ApiError, error_response
from .learner import Learner

HANDOUT_PDF = "/kms/handout.pdf"  # builder/handout_pdf.py writes the whole handout there
SEARCH_DIR = "_search"  # builder/search.py writes kms/_search/ and kms/<module>/_search/


REFUSAL_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>{title}</h1><p>{message}</p>
<p><a href="/">Retour au parcours</a></p></main></body></html>
"""


def gated(path: str) -> bool:
    """Tell whether a site path (without the leading '/') goes through the gate."""
    return path.startswith(("steps/", "kms/", "media/")) or path == "kms"


async def check(api: Context, request: Request, path: str) -> Response | None:
    """Return the refusal for a gated path, or None when the learner may have it."""
    try:
        if auth.is_admin(request, api.settings.admin_token):
            return None
        if path.startswith("steps/"):
            await _step(api, request, path[len("steps/") :].removesuffix(".html"))
        elif path == "kms" or path.startswith("kms/"):
            await _kms(api, request, "/" + path.removesuffix("index.html"))
        elif path.startswith("media/"):
            await _media(api, request, "/" + path)
    except ApiError as exc:
        return refusal(request, exc)
    return None


async def _step(api: Context, request: Request, step_id: str) -> None:
    learner, course = await api.placed(request)
    api.learning.open_step(learner, course, step_id)


async def _media(api: Context, request: Request, url: str) -> None:
    """A course file: while a step that uses it is open, or by the handout's unlock rule when a
    handout page shows it; files of the public outline (and unknown paths: 404) pass."""
    course = await api.learning.course()
    if url not in course.media:
        return
    learner, course = await api.placed(request, course)  # one read of the course, not two
    owners = course.media[url]
    if learner["open_step"] in owners.steps:
        return
    if owners.handout:
        done = await _done_modules(api, learner["id"]) if course.kms_unlock == "module" else set()
        if any(_handout_lock(course, learner, done, m) is None for m in owners.handout):
            return
    raise ApiError(403, "media_locked", "This file belongs to a step that is not open.")


async def _done_modules(api: Context, learner_id: str) -> set[str]:
    rows = (await api.db.execute(sql.completed_modules(learner_id))).rows
    return {r["module_id"] for r in rows}


def _handout_lock(
    course: Course, learner: Learner, done: set[str], module: str | None
) -> ApiError | None:
    """The handout's unlock rule for a page of `module` (None: a general page)."""
    if course.kms_unlock == "start":
        return None
    if course.kms_unlock == "end":
        if learner["open_step"] is None:
            return None
        return ApiError(403, "kms_locked", "The handout opens at the end of the course.")
    if module is None and not done or module is not None and module not in done:
        return ApiError(
            403, "kms_locked", "This part of the handout opens at the end of its module."
        )
    return None


async def _kms(api: Context, request: Request, url: str) -> None:
    learner, course = await api.placed(request)
    done = await _done_modules(api, learner["id"]) if course.kms_unlock == "module" else set()
    if url == HANDOUT_PDF and course.kms_unlock == "module":
        if set(course.module_steps) - done:  # every module in one file: opens with the last
            raise ApiError(
                403, "kms_locked", "The handout PDF opens once every module is finished."
            )
        return
    locked = _handout_lock(course, learner, done, _module_of(course, url))
    if locked is not None:
        raise locked


def _module_of(course: Course, url: str) -> str | None:
    if url in course.kms_pages:
        return course.kms_pages[url]
    if url in course.kms_files:
        return course.kms_files[url]
    parts = url.strip("/").split("/")
    if len(parts) > 2 and parts[1] == SEARCH_DIR:
        return None  # kms/_search/: the search index of the general pages
    return parts[1] if len(parts) > 2 else None


async def decide(api: Context, request: Request, path: str) -> Response | None:
    """The gate's answer for a site path: None to serve the file, or what to answer instead.

    A browser opening a step's fragment (open, closed or locked) is sent to the player, which
    shows the step, or its state, in the learner's language and the site's layout; a locked
    handout page is marked so the server answers with the handout's locked view
    (`kms/locked.html`) and the refusal's status.
    """
    refused = await check(api, request, path)
    to_player = refused is None or refused.status_code != 401
    if path.startswith("steps/") and navigating(request) and to_player:
        return RedirectResponse(f"/learn/#{path[len('steps/') :].removesuffix('.html')}", 303)
    if refused is None or not navigating(request):
        return refused
    if path == "kms" or path.startswith("kms/"):
        refused.headers["x-sillon-locked"] = "kms"
    return refused


async def endpoint(api: Context, request: Request) -> Response:
    """GET /api/gate?path=: 204 when the caller may open that site path (the Worker asks)."""
    path = request.query_params.get("path", "").lstrip("/")
    if not gate_path(path):
        raise ApiError(422, "invalid", "'path' must be a site path such as steps/<id>.html.")
    return await decide(api, request, path) or Response(status_code=204)


def gate_path(path: str) -> bool:
    return bool(path) and ".." not in path.split("/") and len(path) < 500


def navigating(request: Request) -> bool:
    """A browser opening the address itself (not a script fetching it)."""
    return request.headers.get(
        "sec-fetch-mode"
    ) == "navigate" and "text/html" in request.headers.get("accept", "")


def refusal(request: Request, exc: ApiError) -> Response:
    """Refuse in the one error shape, or as a short page for a browser navigating there."""
    if navigating(request):
        page = REFUSAL_PAGE.format(title="Accès fermé", message=html.escape(exc.message))
        headers = {"Cache-Control": "no-store", "Vary": "Cookie"}
        return HTMLResponse(page, status_code=exc.status, headers=headers)
    response = error_response(exc.status, exc.code, exc.message)
    response.headers.update({"Cache-Control": "no-store", "Vary": "Cookie"})
    return response
