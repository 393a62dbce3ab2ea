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
from workers import WorkerEntrypoint

from api import gate
from api.app import Api, Settings
from api.d1 import D1BindingDatabase
from api.errors import ApiError, api_error
from api.lrs import PASSWORD_ENV, URL_ENV, USERNAME_ENV, LrsConfig, Unavailable

SECRETS = ("SILLON_ADMIN_TOKEN", "SILLON_SECRET", "TALLY_SIGNING_SECRET", "SILLON_LRS_PASSWORD")
_apps: dict[int, tuple[Api, Starlette]] = {}
FETCH_SETS = {"host", "content-length", "connection", "transfer-encoding", "accept-encoding"}


def settings(env: Any) -> Settings:
    """Vars from wrangler.toml and secrets from `wrangler secret put`, never from git."""

    def value(name: str) -> str | None:
        found = getattr(env, name, None)
        return str(found) if found else None

    result = Settings(
        db_path="d1:DB",
        admin_token=value("SILLON_ADMIN_TOKEN"),
        tally_secret=value("TALLY_SIGNING_SECRET"),
        base_url=value("SILLON_BASE_URL"),
        default_tz=value("SILLON_TZ") or "Europe/Paris",
        client_ip_header="cf-connecting-ip",  # set by Cloudflare's edge, not by the client
    )
    secret = value("SILLON_SECRET")
    if secret:
        result.secret = secret
    from api.stream import CUSTOMER_ENV, KEY_ID_ENV, PEM_ENV, StreamKeys

    names = (KEY_ID_ENV, PEM_ENV, CUSTOMER_ENV)
    result.stream = StreamKeys.from_env({n: value(n) or "" for n in names})
    lrs = (URL_ENV, USERNAME_ENV, PASSWORD_ENV)
    result.lrs = LrsConfig.from_env({n: value(n) for n in lrs})
    return result


def app_for(env: Any) -> Starlette:
    """One app per isolate (no expensive start-up: the ASGI lifespan runs on every request)."""
    return _made(env)[1]


def api_for(env: Any) -> Api:
    return _made(env)[0]


def _made(env: Any) -> tuple[Api, Starlette]:
    key = id(env.DB)
    if key not in _apps:
        api = Api(settings(env), D1BindingDatabase(env.DB))
        _apps.clear()
        _apps[key] = (api, Starlette(routes=api.routes(), exception_handlers={ApiError: api_error}))
    return _apps[key]


def gate_url(url: str) -> str:
    """The app's gate question for a site URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/api/gate?path={quote(parts.path.lstrip('/'))}"


class Default(WorkerEntrypoint):  # type: ignore[misc]
    async def fetch(self, request: Any) -> Any:
        app = app_for(self.env)
        path = urlsplit(str(request.url)).path
        if path.startswith("/api/"):
            return await asgi.fetch(app, request, self.env)
        if gate.gated(path.lstrip("/")):
            verdict = await asgi.fetch(
                app, JsRequest.new(gate_url(str(request.url)), request), self.env
            )
            if verdict.status != 204:
                return await self.refused(request, path, verdict)
        return await self.env.ASSETS.fetch(request)

    async def scheduled(self, controller: Any, env: Any = None, ctx: Any = None) -> None:
        """Cron trigger (wrangler.toml `[triggers]`): send waiting xAPI statements to the LRS.

        An unreachable LRS is simply tried again at the next trigger (one a minute).
        """
        forwarder = api_for(self.env).forwarder
        if forwarder is None:
            return
        import httpx

        async with httpx.AsyncClient(transport=fetch_transport(), timeout=10.0) as client:
            forwarder.client = client
            try:
                await forwarder.flush()
            except Unavailable as exc:
                print(f"LRS unavailable ({exc}); statements wait for the next trigger")
            finally:
                forwarder.client = None

    async def refused(self, request: Any, path: str, verdict: Any) -> Any:
        """A browser opening a locked handout page gets the handout's locked view."""
        if verdict.headers.get("x-sillon-locked") == "kms":
            locked = await self.env.ASSETS.fetch(
                JsRequest.new(locked_page_url(str(request.url)), request)
            )
            return _with_status(locked, verdict.status)
        return verdict


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
    return f"{parts.scheme}://{parts.netloc}/kms/locked.html"


def _with_status(response: Any, status: int) -> Any:
    from js import Response as JsResponse

    return JsResponse.new(response.body, {"status": status, "headers": response.headers})
