"""`python build.py serve`: build, serve site/ and the API in one ASGI process, rebuild on edits.

A bad edit is logged and the last good site keeps being served; open pages reload only after a
build that succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
import watchfiles
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import gate
from api.app import Api, application, publish_manifest
from api.clock import Clock, iso, utc_now
from api.settings import Settings
from api.sqlite import SQLiteDatabase
from builder.cache import Cache
from builder.config import BuildConfig
from builder.errors import BuildError
from builder.headers import headers_for, parse_headers
from builder.pipeline import build

log = logging.getLogger("sillon.serve")
RELOAD_SCRIPT = Path(__file__).resolve().parent / "livereload.js"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class Builds:
    """The serve process's builder: one cache, one build at a time, a counter per good build."""

    def __init__(self, config: BuildConfig) -> None:
        self.config = config
        self.cache = Cache()
        self.generation = 0
        self.problems: list[str] = []  # of the last failed build; empty after a good one
        self.changed = asyncio.Event()
        self.lock = asyncio.Lock()
        self.api: Api | None = None

    def run(self) -> bool:
        """Build (incrementally after the first time); log the outcome; True if it succeeded."""
        try:
            result = build(self.config, self.cache, incremental=self.generation > 0)
        except BuildError as exc:
            self.problems = [str(p) for p in exc.problems]
            for problem in exc.problems:
                log.error("%s", problem)
            log.error("build failed: still serving the last good site")
            return False
        self.problems = []
        for problem in result.warnings:
            log.warning("%s", problem)
        self.generation += 1
        log.info(
            "built %d files (%d written) in %.0f ms",
            result.pages,
            len(result.written),
            result.seconds * 1000,
        )
        return True

    async def rebuild(self) -> None:
        async with self.lock:
            ok = await asyncio.to_thread(self.run)
            if ok and self.api is not None:
                await self.publish(self.api)
        self.changed.set()
        self.changed = asyncio.Event()

    async def publish(self, api: Api) -> None:
        """Make the course just built the local API's current version (authors test as learners)."""
        manifest = (self.config.private / "manifest.json").read_text(encoding="utf-8")
        version = await publish_manifest(api.db, manifest, iso(api.clock()))
        log.info("published course version %s to %s", version[:12], api.settings.db_path)

    async def watch(self, stop: asyncio.Event) -> None:
        """Rebuild whenever content/, templates/ or static/ change."""
        paths = [self.config.content, self.config.templates, self.config.static]
        async for changes in watchfiles.awatch(*paths, stop_event=stop, debounce=400, step=30):
            names = sorted({Path(p).name for _, p in changes})
            log.info("changed: %s", ", ".join(names[:5]) + (" ..." if len(names) > 5 else ""))
            await self.rebuild()


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


class InjectReload:
    """Add the live-reload script to every HTML page, so built pages stay as deployed."""

    TAG = b'<script src="/_sillon/livereload.js" defer></script>\n</head>'

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/api/", "/_sillon/")):
            await self.app(scope, receive, send)
            return
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
            html = b"".join(body).replace(b"</head>", self.TAG, 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(html)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, buffer_html)


class SiteFiles(StaticFiles):
    """site/ as Pages serves it (no `_headers`, no hidden files, 404.html), behind the gate."""

    def __init__(self, api: Api, **options: Any) -> None:
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


def create_app(
    config: BuildConfig,
    settings: Settings,
    watch: bool = True,
    clock: Clock = utc_now,
    preview: bool = True,
) -> Starlette:
    """Return the serve process: the API, live-reload events, and site/ as static files."""
    api = Api(settings, SQLiteDatabase(settings.db_path), clock)
    builds = Builds(config)
    builds.api = api
    stop = asyncio.Event()

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            yield "retry: 1000\n\n"
            while not stop.is_set():
                yield f"event: build\ndata: {builds.generation}\n\n"
                yield f"event: problems\ndata: {json.dumps(builds.problems)}\n\n"
                waiter = asyncio.ensure_future(builds.changed.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait(
                    {waiter, stopper}, timeout=15, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                stopper.cancel()

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def preview_step(request: Request) -> Response:
        """Any step's fragment, for the author at this machine only (never for learners)."""
        client = request.client.host if request.client else ""
        name = request.path_params["name"]
        path = config.out / "steps" / name
        if not preview or client not in LOOPBACK or "/" in name or not path.is_file():
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(path, media_type="text/html", headers={"Cache-Control": "no-store"})

    async def reload_script(request: Request) -> Response:
        headers = {"Cache-Control": "no-cache"}
        return FileResponse(RELOAD_SCRIPT, media_type="text/javascript", headers=headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Watch before the first build, so an edit made while it runs is not missed.
        task = asyncio.create_task(builds.watch(stop)) if watch else None
        forwarding = asyncio.create_task(api.forwarder.run(stop)) if api.forwarder else None
        await asyncio.sleep(0.05)
        await builds.rebuild()
        yield
        stop.set()
        waiting = {t for t in (task, forwarding) if t}
        if waiting:
            await asyncio.wait(waiting, timeout=2)

    config.out.mkdir(parents=True, exist_ok=True)
    app = application(
        api,
        routes=[
            Route("/_sillon/events", events, methods=["GET"]),
            Route("/_sillon/livereload.js", reload_script, methods=["GET"]),
            Route("/_sillon/steps/{name}", preview_step, methods=["GET"]),
            Mount("/", SiteFiles(api, directory=config.out, html=True, check_dir=False)),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(InjectReload)
    app.add_middleware(PagesHeaders, out=config.out)
    app.state.stop = stop
    return app


class _Server(uvicorn.Server):
    """uvicorn, but live-reload streams end as soon as shutdown starts (not after a timeout)."""

    def __init__(self, config: uvicorn.Config, stop: asyncio.Event) -> None:
        super().__init__(config)
        self.stop = stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().call_soon_threadsafe(self.stop.set)
        super().handle_exit(sig, frame)


def serve(config: BuildConfig, host: str, port: int) -> int:
    """Run the serve process until interrupted; return the exit code."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    settings = Settings.from_env(os.environ)
    # The author preview opens every step: only when serving this machine alone.
    app = create_app(config, settings, preview=host in LOOPBACK)
    log.info("serving %s at http://%s:%d/ (database %s)", config.out, host, port, settings.db_path)
    started = time.perf_counter()
    server = _Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3),
        app.state.stop,
    )
    server.run()
    log.info("stopped after %.0f s", time.perf_counter() - started)
    return 0
