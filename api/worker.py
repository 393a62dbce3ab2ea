"""The Cloudflare Python Worker entry (wrangler.toml `main`): the same Starlette app, on D1.

Requests for `/api/*` go to the app through `asgi.fetch`. Site requests that the gate guards
(`/steps/`, `/kms/`, `/media/`: wrangler.toml's `run_worker_first`) first ask the app's gate
(`GET /api/gate?path=...`, the same `api.gate.check` the local server runs) and reach the static
assets only when it answers 204. Everything else is served by the assets directly. The modules
`workers`, `asgi` and `js` exist only in the Workers runtime.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import asgi
from js import Request as JsRequest
from starlette.applications import Starlette
from workers import Response, WorkerEntrypoint

from api import gate
from api.app import Api, application
from api.cohorts import Cohorts
from api.d1 import D1BindingDatabase
from api.issuer import ISSUER_PATH, JWKS_PATH
from api.lrs import Unavailable
from api.settings import SETTINGS, WORKER, Settings

FETCH_SETS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}
PUBLISHED = {JWKS_PATH, ISSUER_PATH}  # the certificates' key and issuer, answered by the app
LOCKED_PAGE = "/kms/locked"  # kms/locked.html, by the address the assets serve it at


class Isolate:
    """The one app of this isolate, kept across requests (workerd builds a new `Default` and a
    new env wrapper for each one), so in-memory state such as the rate limiter accumulates."""

    key: tuple[str | None, ...] | None = None
    builds = 0  # how many times this isolate built its app (tests read it)
    api: Api  # the home cohort's (the only one without SILLON_COHORTS)
    apis: list[Api]  # every cohort's, each on its D1 binding
    app: Starlette | Cohorts


def environment(env: Any) -> dict[str, str | None]:
    """The settings the Worker reads (api/settings.py): wrangler.toml vars and secrets from
    `wrangler secret put`, never from git."""
    names = (s.name for s in SETTINGS if WORKER in s.runtimes)
    return {name: _text(getattr(env, name, None)) for name in names}


def made(env: Any) -> type[Isolate]:
    """This isolate's app, built on its first request (and again only if its settings change:
    no expensive start-up, the ASGI lifespan runs on every request)."""
    values = environment(env)
    key = tuple(values.values())
    if Isolate.key != key:
        # cf-connecting-ip is set by Cloudflare's edge, never by the client.
        settings = Settings.from_env(
            values, WORKER, db_path="d1:DB", client_ip_header="cf-connecting-ip"
        )
        Isolate.apis = [
            Api(one, D1BindingDatabase(binding(env, one))) for one in settings.per_cohort()
        ]
        Isolate.api = Isolate.apis[0]
        apps = [application(api) for api in Isolate.apis]
        Isolate.app = (
            Cohorts(list(zip(Isolate.apis, apps, strict=True))) if settings.cohorts else apps[0]
        )
        Isolate.key = key
        Isolate.builds += 1
    return Isolate


def binding(env: Any, settings: Settings) -> Any:
    """The D1 binding of a cohort's settings (`d1:<binding>`), which wrangler.toml must declare."""
    name = settings.db_path.removeprefix("d1:")
    found = getattr(env, name, None)
    if found is None:
        raise ValueError(f"no D1 binding {name} for cohort {settings.cohort} ([[d1_databases]])")
    return found


def _text(value: Any) -> str | None:
    return str(value) if value else None


def gate_url(url: str) -> str:
    """The app's gate question for a site URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/api/gate?path={quote(parts.path.lstrip('/'))}"


class Default(WorkerEntrypoint):  # type: ignore[misc]
    """workerd builds one per request; `request` is the SDK's `workers.Request` and
    `self.env` the SDK's env wrapper (`env.ASSETS` a `_FetcherWrapper`)."""

    async def fetch(self, request: Any) -> Any:
        app = made(self.env).app
        path = urlsplit(str(request.url)).path
        if path.startswith("/api/") or path in PUBLISHED:
            return await asgi.fetch(app, request, self.env)
        if gate.gated(path.lstrip("/")):
            question = JsRequest.new(gate_url(str(request.url)), request.js_object)
            verdict = await asgi.fetch(app, question, self.env)
            if verdict.status != 204:
                return await self.refused(request, verdict)
        return await self.env.ASSETS.fetch(request)

    async def scheduled(self, controller: Any, env: Any = None, ctx: Any = None) -> None:
        """Cron trigger (wrangler.toml `[triggers]`, every minute): send waiting xAPI statements
        to the LRS, and prune a round of what the retention policy lets go (api/retention.py).

        Each runs whatever befalls the other, for every cohort's database: a failure is
        printed, and raised once all ran (the run counts as failed). An unreachable LRS is
        tried again at the next trigger.
        """
        failed: list[Exception] = []
        for api in made(self.env).apis:
            await tend(api, failed)
        if failed:
            raise failed[0]

    async def refused(self, request: Any, verdict: Any) -> Any:
        """A browser opening a locked handout page gets the handout's locked view, with the
        refusal's status, never cached (as serve answers it)."""
        if verdict.headers.get("x-sillon-locked") != "kms":
            return verdict
        locked = await self.env.ASSETS.fetch(locked_page_url(str(request.url)))
        if locked.status != 200:
            return verdict
        headers = {
            "content-type": locked.headers.get("content-type"),
            "cache-control": "no-store",
            "vary": "Cookie",
        }
        return Response(await locked.bytes(), status=verdict.status, headers=headers)


async def tend(api: Api, failed: list[Exception]) -> None:
    """One database's cron work: forward its statements, prune a round; failures to `failed`."""
    from api import retention

    if (forwarder := api.forwarder) is not None:
        import httpx

        try:
            async with httpx.AsyncClient(transport=fetch_transport(), timeout=10.0) as client:
                forwarder.client = client
                await forwarder.flush()
        except Unavailable as exc:
            print(f"LRS unavailable ({exc}); statements wait for the next trigger")
        except Exception as exc:
            print(f"forwarding xAPI statements failed: {exc!r}")
            failed.append(exc)
        finally:
            forwarder.client = None
    settings = api.settings
    try:
        lrs = settings.lrs is not None
        pruned = await retention.prune(api.db, settings.retention, api.clock(), lrs)
        if pruned:
            print(f"pruned {pruned}")
    except Exception as exc:
        print(f"pruning failed: {exc!r}")
        failed.append(exc)


def fetch_transport() -> Any:
    """An httpx transport over the runtime's `fetch`: a Worker has no sockets for httpx's own.

    Made on first use: httpx is imported only when statements are forwarded.
    """
    import httpx

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            from js import Object, fetch
            from pyodide.ffi import to_js

            init = {
                "method": request.method,
                "headers": {  # fetch sets these itself
                    k: v for k, v in request.headers.items() if k.lower() not in FETCH_SETS
                },
                "body": (await request.aread()).decode("utf-8"),
            }
            answer = await fetch(str(request.url), to_js(init, dict_converter=Object.fromEntries))
            return httpx.Response(answer.status, content=str(await answer.text()).encode())

    return Transport()


def locked_page_url(url: str) -> str:
    """The handout's locked view, on the same site as the refused request."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{LOCKED_PAGE}"
