"""`python build.py serve`: build, serve site/ and the API in one ASGI process, rebuild on edits.

A bad edit is logged and the last good site keeps being served; the author's open pages reload
only after a build that succeeded (serve/author.py: learners' pages never do). The port is taken
before anything is built or published, so a busy one is one error line and nothing else. Text
answers are gzipped when the browser takes it (never ranges of a video, nor the event stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from types import FrameType

import uvicorn
import watchfiles
from starlette.applications import Starlette
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import Lifespan, Scope

from api import sql
from api.app import Api, application, publish_manifest
from api.clock import Clock, iso, utc_now
from api.cohorts import Cohorts
from api.errors import HANDLERS, ApiError
from api.jws import IssuerKey
from api.keyfile import development_key
from api.retention import Pruner
from api.settings import Settings, local_url
from api.sqlite import SQLiteDatabase
from api.storage import DatabaseError
from builder.cache import Cache
from builder.config import BuildConfig
from builder.errors import BuildError
from builder.pipeline import build

from .author import LOOPBACK, Author
from .connections import protocol_class
from .demo import demo_link
from .simulate import SCRIPT_URL, TallySimulator
from .site import PREVIEW, Compress, InjectScripts, PagesHeaders, SiteFiles

log = logging.getLogger("sillon.serve")
RELOAD_SCRIPT = Path(__file__).resolve().parent / "livereload.js"
RELOAD_URL = "/_sillon/livereload.js"
NOT_GZIPPED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/pdf")  # PDFs are compressed inside


class Builds:
    """The serve process's builder: one cache, one build at a time, a counter per good build."""

    def __init__(self, config: BuildConfig) -> None:
        self.config = config
        self.cache = Cache()
        self.generation = 0
        self.problems: list[str] = []  # of the last failed build; empty after a good one
        self.changed = asyncio.Event()
        self.lock = asyncio.Lock()
        self.apis: list[Api] = []  # one per cohort database: each gets every good build

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
            for api in self.apis if ok else []:
                try:
                    await self.publish(api)
                    await api.learning.course()  # loading it says what Tally steps lack
                except (DatabaseError, ApiError) as exc:  # serve stays up; health says why
                    log.error("not published (the API keeps its current version): %s", exc)
        self.changed.set()
        self.changed = asyncio.Event()

    async def publish(self, api: Api) -> None:
        """Make the course just built the local API's current version (authors test as
        learners); a build that changed nothing the API sees publishes nothing."""
        manifest = (self.config.private / "manifest.json").read_text(encoding="utf-8")
        current = (await api.db.execute(sql.current_course())).first()
        if current is not None and current["version"] == json.loads(manifest).get("version"):
            log.info("course unchanged: version %s stays current", current["version"][:12])
            return
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
    """Build events for the author's open pages: reload after a good build, show a failed one."""

    def __init__(self, builds: Builds, stop: asyncio.Event) -> None:
        self.builds, self.stop = builds, stop

    def routes(self) -> list[Route]:
        return [
            Route("/_sillon/events", self.events, methods=["GET"]),
            Route(RELOAD_URL, self.script, methods=["GET"]),
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

    async def script(self, request: Request) -> Response:
        headers = {"Cache-Control": "no-cache"}
        return FileResponse(RELOAD_SCRIPT, media_type="text/javascript", headers=headers)


def lifespan(
    builds: Builds, apis: list[Api], stop: asyncio.Event, watch: bool, site: str | None
) -> Lifespan[Starlette]:
    """Start watching, forwarding xAPI statements and pruning (api/retention.py: now, then every
    hour) for every cohort's database, and the first build, then say where to go (`site`: a
    serve of this machine alone); stop them at shutdown."""

    @contextlib.asynccontextmanager
    async def running(app: Starlette) -> AsyncIterator[None]:
        # Watch before the first build, so an edit made while it runs is not missed.
        tasks = [asyncio.create_task(builds.watch(stop))] if watch else []
        for api in apis:
            if api.forwarder:
                tasks.append(asyncio.create_task(api.forwarder.run(stop)))
            settings = api.settings
            pruner = Pruner(api.db, settings.retention, settings.lrs is not None, api.clock)
            tasks.append(asyncio.create_task(pruner.run(stop)))
        await asyncio.sleep(0.05)
        await builds.rebuild()
        if site is not None:
            await welcome(apis[0], site)
        yield
        stop.set()
        await asyncio.wait(tasks, timeout=2)

    return running


async def welcome(api: Api, site: str) -> None:
    """Print where the author goes: the site, the preview, and a demo learner's sign-in link."""
    log.info("site: %s/", site)
    log.info("author preview (every step; your pages reload on save): %s%s", site, PREVIEW)
    if api.settings.access is None:  # with Cloudflare Access there are no sign-in links
        try:
            link = await demo_link(api, site)
        except DatabaseError as exc:
            log.error("no demo learner link: the database takes no writes (%s)", exc)
            return
        log.info("demo learner (a one-time link, new at every start): %s", link)


def create_app(
    config: BuildConfig,
    settings: Settings,
    watch: bool = True,
    clock: Clock = utc_now,
    preview: bool = True,
    site: str | None = None,
) -> Starlette:
    """Return the serve process: the API, the author's preview and live reload, and site/ as
    static files, over one database or one per cohort (SILLON_COHORTS: api/cohorts.py).
    `preview`: a serve of this machine alone; `site`: its address, to print."""
    builds = Builds(config)
    builds.apis = [Api(s, SQLiteDatabase(s.db_path), clock) for s in settings.per_cohort()]
    stop = asyncio.Event()
    config.out.mkdir(parents=True, exist_ok=True)
    running = lifespan(builds, builds.apis, stop, watch, site if preview else None)
    reload, simulators, apps = LiveReload(builds, stop), list[TallySimulator](), list[Starlette]()
    for api in builds.apis:
        author = Author(api, config.out, preview)
        simulators.append(TallySimulator(api, author))
        routes = [
            *reload.routes(),
            *author.routes(),
            *simulators[-1].routes(),
            Mount("/", SiteFiles(api, directory=config.out, html=True, check_dir=False)),
        ]
        apps.append(application(api, routes, None if settings.cohorts else running))
    app = apps[0] if not settings.cohorts else cohorts_app(builds.apis, apps, running)

    def scripts(scope: Scope) -> list[str]:
        """Live reload for the author's pages; the Tally simulation on the player's page."""
        player = author.local(scope) and scope["path"].startswith("/learn/")
        return [RELOAD_URL] * author.present(scope) + [SCRIPT_URL] * player

    app.add_middleware(InjectScripts, scripts=scripts)
    app.add_middleware(PagesHeaders, out=config.out)
    # Outermost, so it compresses pages as sent (scripts added, headers set).
    app.add_middleware(
        Compress, minimum_size=1000, compresslevel=6, exclude_content_types=NOT_GZIPPED
    )
    for tally in simulators:
        tally.app = app
    app.state.stop = stop
    return app


def cohorts_app(apis: list[Api], apps: list[Starlette], running: Lifespan[Starlette]) -> Starlette:
    """One app in front of the cohorts' apps: its lifespan runs every cohort's tasks, and every
    request goes to its cohort's app (api/cohorts.py)."""
    app = Starlette(lifespan=running, exception_handlers=dict(HANDLERS))
    app.router.default = Cohorts(list(zip(apis, apps, strict=True)))
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


class ListenError(Exception):
    """serve cannot take its address (busy, unknown): one line for people (build.py: exit 2)."""


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, taken before anything is built: a busy port is one error."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}: {exc.strerror or exc}") from None
    # The protocol said (IPPROTO_TCP), not left 0: asyncio sets TCP_NODELAY only on sockets that
    # say they are TCP, and without it every answer written in two parts (head, then body: h11)
    # waited for the client's delayed ACK, 40 ms a request.
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            message = f"port {port} of {host} is busy (another serve?): choose another with --port"
        else:
            message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        raise ListenError(message) from None
    return sock


# Python's cyclic garbage collector, as serve runs it: a young collection every GC_THRESHOLD[0]
# new container objects (700 by default), the older ones rarer. A request allocates a few
# hundred; with the defaults, full collections of everything loaded at start stalled the event
# loop often enough to put the API's p99 latency at 70-107 ms under 50 connections, against
# 23-34 ms with these (7 s rounds of bench/api_bench.py's load, one after the other; the full
# bench after: p99 28 ms).
GC_THRESHOLD = (10_000, 50, 100)


def quiet_collector() -> None:
    """What start-up loaded (the app, the libraries) moves out of the collector's sight for
    good (gc.freeze), and collections run less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def _development_key(settings: Settings) -> IssuerKey:
    """A loopback serve without SILLON_ISSUER_KEY signs certificates with a key of its own,
    kept beside the database (made once): a cohort's serve sets its own key."""
    path = Path(settings.db_path).parent / "issuer-key.pem"
    key = development_key(path)
    log.warning(
        "certificates are signed with the development key %s (SILLON_ISSUER_KEY is not set)", path
    )
    return key


def serve(config: BuildConfig, host: str, port: int) -> int:
    """Run the serve process until interrupted; return the exit code."""
    sock = listen(host, port)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    settings = Settings.from_env(os.environ)
    # The author preview opens every step: only when serving this machine alone.
    local = host in LOOPBACK
    if local and settings.tally_secret is None:  # Tally cannot reach it: responses are simulated
        settings = replace(settings, tally_secret=secrets.token_hex(32))
    if local and settings.issuer_key is None:  # certificates in a demo too
        settings = replace(settings, issuer_key=_development_key(settings))
    app = create_app(config, settings, preview=local, site=settings.site_url(host, port))
    databases = ", ".join(s.db_path for s in settings.per_cohort())
    log.info("serving %s at %s/ (database %s)", config.out, local_url(host, port), databases)
    started = time.perf_counter()
    limits = settings.connections  # idle and slow connections closed, a cap (serve/connections)
    server = _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=3,
            http=protocol_class(limits),
            timeout_keep_alive=limits.keep_alive,
        ),
        app.state.stop,
    )
    quiet_collector()
    server.run(sockets=[sock])
    log.info("stopped after %.0f s", time.perf_counter() - started)
    return 0
