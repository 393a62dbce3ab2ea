"""site/ served as Cloudflare serves the built site: its `_headers`, no hidden files, the
404 page, every gated path behind the gate (the same one the Worker runs), and serve's scripts
(live reload for the author) added to HTML pages on the way out (the files on disk stay as
deployed).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import gate
from api.context import Context
from builder.headers import headers_for, parse_headers

PREVIEW = "/_sillon/preview.html"  # the one page of serve's own that gets its scripts


class PagesHeaders:
    """Attach the headers site/_headers declares, as Cloudflare Pages would."""

    def __init__(self, app: ASGIApp, out: Path) -> None:
        self.app, self.file = app, out / "_headers"
        self.rules: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.stamp = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/api/", "/_sillon/events")):
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"], self._rules())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in message.get("headers", [])}
                headers = list(message.get("headers", []))
                headers += [
                    (k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in names
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _rules(self) -> list[tuple[str, list[tuple[str, str | None]]]]:
        try:
            stamp = self.file.stat().st_mtime_ns
        except OSError:
            return []
        if stamp != self.stamp:
            self.rules, self.stamp = parse_headers(self.file.read_text(encoding="utf-8")), stamp
        return self.rules


class Compress(GZipMiddleware):
    """Starlette's gzip for the site and serve's own pages; the API's answers pass untouched:
    per-caller JSON, most of it a few hundred bytes (an event's report, a verdict), which the
    wrapper would only inspect, and which Cloudflare compresses at its edge in production."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class InjectScripts:
    """Add serve's own scripts to the HTML pages whose request asks for them (`scripts` says
    which: live reload for the author only), so built pages stay as deployed."""

    def __init__(self, app: ASGIApp, scripts: Callable[[Scope], list[str]]) -> None:
        self.app, self.scripts = app, scripts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = scope["type"] == "http" and not scope["path"].startswith(("/api/", "/_sillon/"))
        wanted = self.scripts(scope) if page or scope.get("path") == PREVIEW else []
        if not wanted:
            await self.app(scope, receive, send)
            return
        tags = b"".join(b'<script src="%s" defer></script>\n' % url.encode() for url in wanted)
        start: Message | None = None
        body: list[bytes] = []

        async def buffer_html(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if not content_type.startswith(b"text/html"):
                    await send(message)
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            html = b"".join(body).replace(b"</head>", tags + b"</head>", 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(html)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, buffer_html)


class SiteFiles(StaticFiles):
    """site/ as Pages serves it (no `_headers`, no hidden files, 404.html), behind the gate."""

    def __init__(self, api: Context, **options: Any) -> None:
        super().__init__(**options)
        self.api = api

    async def get_response(self, path: str, scope: Scope) -> Response:
        hidden = any(part.startswith(".") and part != "." for part in Path(path).parts)
        if hidden or path in ("_headers", "_redirects"):
            return self.not_found(scope)
        if gate.gated(path):
            refused = await gate.decide(self.api, Request(scope), path)
            if refused is not None:
                return self.locked_view(refused)
        return await super().get_response(path, scope)

    def locked_view(self, refused: Response) -> Response:
        """A locked handout page, opened in a browser, shows the handout's locked view."""
        locked = Path(str(self.directory)) / "kms" / "locked.html"
        if refused.headers.get("x-sillon-locked") == "kms" and locked.is_file():
            headers = {"Cache-Control": "no-store"}
            return FileResponse(locked, status_code=refused.status_code, headers=headers)
        return refused

    def not_found(self, scope: Scope) -> Response:
        page = Path(str(self.directory)) / "404.html"
        if page.is_file():
            return FileResponse(page, status_code=404)
        return PlainTextResponse("Not Found", status_code=404)
