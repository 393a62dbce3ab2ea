"""What caches may keep of the API's answers: nothing. Every answer is about one caller (their
session, their progress) or a gate's verdict, so it is `no-store` and varies with the cookie;
a handler that sets its own Cache-Control keeps it. The site's files get theirs from
builder/headers.py (`_headers`): gated files private, only fingerprinted assets immutable."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE = "no-store"


class PrivateAnswers:
    """ASGI middleware: `Cache-Control: no-store` (unless set) and `Vary: Cookie` on /api/."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"cache-control" not in names:
                    headers.append((b"cache-control", NO_STORE.encode()))
                vary = [v for name, v in headers if name.lower() == b"vary"]
                if not any(b"cookie" in v.lower() for v in vary):
                    headers.append((b"vary", b"Cookie"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_private)
