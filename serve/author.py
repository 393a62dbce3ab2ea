"""The author's side of serve: who the author is, and the preview of any step.

The author is whoever opens the preview (`/_sillon/preview.html`) on a serve of this machine
alone (a loopback address, from this machine): the preview page gives their browser a cookie
holding a secret of this process, and only pages requested with it get the live-reload script
(serve/site.py), so an author's save never reloads a learner's page. A learner never has it: on
a serve others can reach there is no preview at all.

The preview shows every step unlocked, with its files (`/_sillon/media/`, not the gated
`/media/`), and grades a quiz against the course just built without recording anything: no
attempt, no cooldown, no XP, nobody's progress.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from api import rules
from api.body import read_json
from api.context import Context
from api.errors import ApiError

from .site import PREVIEW

LOOPBACK = ("127.0.0.1", "::1", "localhost")
COOKIE = "sillon_author"
NO_STORE = {"Cache-Control": "no-store"}


class Author:
    """The author's requests and routes on a serve whose preview is on (a loopback address)."""

    def __init__(self, api: Context, out: Path, preview: bool) -> None:
        self.api, self.out, self.preview = api, out, preview
        self.secret = secrets.token_urlsafe(24)  # per process: a restart asks for the preview again

    def local(self, scope: Scope) -> bool:
        """A request from this machine to a serve of this machine alone."""
        client: tuple[str, int] = scope.get("client") or ("", 0)
        return self.preview and client[0] in LOOPBACK

    def present(self, scope: Scope) -> bool:
        """The author's own request: the preview page, or a page of the browser that opened it."""
        if not self.local(scope):
            return False
        if scope["path"] == PREVIEW:
            return True
        cookie = Request(scope).cookies.get(COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.secret.encode())

    def routes(self) -> list[Route]:
        return [
            Route(PREVIEW, self.page, methods=["GET"]),
            Route("/_sillon/steps/{name}", self.step, methods=["GET"]),
            Route("/_sillon/media/{name:path}", self.media, methods=["GET"]),
            Route("/_sillon/grade", self.grade, methods=["POST"]),
        ]

    def file(self, request: Request, *parts: str) -> Path | None:
        """A file of site/ for the author, or None (not the author, or no such file)."""
        root = self.out.resolve()
        path = root.joinpath(*parts).resolve()
        if not self.local(request.scope) or not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    async def page(self, request: Request) -> Response:
        """The preview page; it marks this browser as the author's."""
        path = self.file(request, "_sillon", "preview.html")
        if path is None:
            return PlainTextResponse("Not Found", status_code=404)
        response = FileResponse(path, media_type="text/html", headers=NO_STORE)
        response.set_cookie(COOKIE, self.secret, httponly=True, samesite="strict")
        return response

    async def step(self, request: Request) -> Response:
        """Any step's fragment, unlocked."""
        name = request.path_params["name"]
        path = self.file(request, "steps", name) if "/" not in name else None
        if path is None:
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(path, media_type="text/html", headers=NO_STORE)

    async def media(self, request: Request) -> Response:
        """A step's file (video, captions, image), ungated; ranges as for the gated one."""
        path = self.file(request, "media", request.path_params["name"])
        if path is None:
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(path, headers=NO_STORE)

    async def grade(self, request: Request) -> Response:
        """A built-in quiz graded against the course just built, everything told, nothing kept."""
        if not self.local(request.scope):
            return PlainTextResponse("Not Found", status_code=404)
        body = await read_json(request)
        course = await self.api.learning.course()
        step = course.step(str(body.get("stepId")))
        if step is None or step.kind != "quiz" or step.tally:
            raise ApiError(422, "not_a_quiz", f"'{body.get('stepId')}' is no built-in quiz.")
        result = rules.grade(
            body.get("answers"), step.answers, step.choices, step.multiple, step.pass_mark
        )
        answer = {
            "stepId": step.id,
            "score": round(result.score, 4),
            "pass": step.pass_mark,
            "passed": result.passed,
            "correct": result.correct,
            "explanations": list(step.explains),
        }
        return JSONResponse(answer, headers=NO_STORE)
