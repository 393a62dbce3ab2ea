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
from starlette.types import Lifespan

from api.app import Api, application, publish_manifest
from api.clock import Clock, iso, utc_now
from api.settings import Settings
from api.sqlite import SQLiteDatabase
from builder.cache import Cache
from builder.config import BuildConfig
from builder.errors import BuildError
from builder.pipeline import build

from .site import InjectReload, PagesHeaders, SiteFiles

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


class LiveReload:
    """The author's side of serve: build events for open pages, and the preview of any step."""

    def __init__(self, builds: Builds, stop: asyncio.Event, preview: bool) -> None:
        self.builds, self.stop, self.preview = builds, stop, preview

    def routes(self) -> list[Route]:
        return [
            Route("/_sillon/events", self.events, methods=["GET"]),
            Route("/_sillon/livereload.js", self.script, methods=["GET"]),
            Route("/_sillon/steps/{name}", self.preview_step, methods=["GET"]),
        ]

    async def events(self, request: Request) -> Response:
        """Server-sent events: the good-build counter, and the problems of a failed build."""
        return StreamingResponse(
            self.stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def stream(self) -> AsyncIterator[str]:
        builds, stop = self.builds, self.stop
        yield "retry: 1000\n\n"
        while not stop.is_set():
            yield f"event: build\ndata: {builds.generation}\n\n"
            yield f"event: problems\ndata: {json.dumps(builds.problems)}\n\n"
            waiter = asyncio.ensure_future(builds.changed.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()

    async def preview_step(self, request: Request) -> Response:
        """Any step's fragment, for the author at this machine only (never for learners)."""
        client = request.client.host if request.client else ""
        name = request.path_params["name"]
        path = self.builds.config.out / "steps" / name
        if not self.preview or client not in LOOPBACK or "/" in name or not path.is_file():
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(path, media_type="text/html", headers={"Cache-Control": "no-store"})

    async def script(self, request: Request) -> Response:
        headers = {"Cache-Control": "no-cache"}
        return FileResponse(RELOAD_SCRIPT, media_type="text/javascript", headers=headers)


def lifespan(builds: Builds, api: Api, stop: asyncio.Event, watch: bool) -> Lifespan[Starlette]:
    """Start watching, forwarding xAPI statements and the first build; stop them at shutdown."""

    @contextlib.asynccontextmanager
    async def running(app: Starlette) -> AsyncIterator[None]:
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

    return running


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
    config.out.mkdir(parents=True, exist_ok=True)
    app = application(
        api,
        routes=[
            *LiveReload(builds, stop, preview).routes(),
            Mount("/", SiteFiles(api, directory=config.out, html=True, check_dir=False)),
        ],
        lifespan=lifespan(builds, api, stop, watch),
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
