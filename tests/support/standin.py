"""STAND-INS for external services that cannot run here, as real HTTP servers on 127.0.0.1:
an LRS (the xAPI statements resource Sillon posts to) and the base every JSON stand-in
answers with. They stand only for the service; the code under test talks real HTTP to them."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class JsonHandler(BaseHTTPRequestHandler):
    """A quiet request handler that answers JSON."""

    def answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """A threaded HTTP server of `handler` on a free port of 127.0.0.1, serving."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return httpd


def verb(statement: dict[str, Any]) -> str:
    """The last word of a statement's verb id (`completed`, `passed`...)."""
    return str(statement["verb"]["id"]).rsplit("/", 1)[-1]


class LrsStandIn:
    """A real HTTP server on 127.0.0.1 taking `POST /xapi/statements` as an LRS does.

    `unavailable` answers 503 that many times first; `hang` holds each request that long;
    `refuse` rejects (400) any batch holding one of those verbs; `users` is what Basic auth saw.
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self.unavailable = 0
        self.hang = 0.0
        self.refuse: set[str] = set()
        self.users: set[str] = set()
        stand_in = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, answer = stand_in.take(self.path, self.headers, json.loads(body))
                self.answer(status, answer)

        self.httpd = serve(Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/xapi"

    def take(self, path: str, headers: Any, batch: Any) -> tuple[int, object]:
        """The LRS's answer to one POST (`headers`: http.server's, case-insensitive)."""
        self.requests += 1
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            self.users.add(base64.b64decode(auth[6:]).decode())
        time.sleep(self.hang)
        if path != "/xapi/statements" or headers.get("X-Experience-API-Version") != "1.0.3":
            return 400, {"error": "not an xAPI statements request"}
        if self.unavailable > 0:
            self.unavailable -= 1
            return 503, {"error": "busy"}
        if any(verb(s) in self.refuse for s in batch):
            return 400, {"error": "refused"}
        self.received += batch
        return 200, [s["id"] for s in batch]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
