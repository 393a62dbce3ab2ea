"""Connections of `python build.py serve` (issue 16): idle and slow ones are closed, surplus
ones refused, and a normal client keeps its latency meanwhile. Real sockets on a real serve,
with its time-outs and its connection cap set short through their settings."""

from __future__ import annotations

import json
import selectors
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from support.course import make_course
from support.launch import Site

KEEP_ALIVE, HEAD, BODY, CAP = 1, 2, 2, 250
SLACK = 0.7  # seconds a time-out may fire late on a busy machine
HEALTH = b"GET /api/health HTTP/1.1\r\nHost: test\r\n\r\n"


class ShortTimeouts(Site):
    """serve with time-outs of a second or two."""

    environment = {
        "SILLON_KEEP_ALIVE_TIMEOUT": str(KEEP_ALIVE),
        "SILLON_HEAD_TIMEOUT": str(HEAD),
        "SILLON_BODY_TIMEOUT": str(BODY),
    }


class SmallCap(Site):
    """serve taking at most CAP connections (and its default time-outs, 10 s for a head)."""

    environment = {"SILLON_MAX_CONNECTIONS": str(CAP)}


def started(site: type[Site], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp(site.__name__)
    running = site(workdir, make_course(workdir))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from started(ShortTimeouts, tmp_path_factory)


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from started(SmallCap, tmp_path_factory)


def connect(site: Site, count: int = 1) -> list[socket.socket]:
    """`count` connections to serve that have sent nothing yet."""
    return [socket.create_connection(("127.0.0.1", site.port), timeout=5) for _ in range(count)]


def closing_times(socks: list[socket.socket], since: float, timeout: float) -> list[float]:
    """Seconds from `since` until the server closed each socket (inf: still open after
    `timeout`); whatever the server sent before closing is drained and dropped."""
    closed = {sock: float("inf") for sock in socks}
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        while selector.get_map() and time.monotonic() - since < timeout:
            for key, _ in selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except ConnectionError:
                    data = b""
                if not data:
                    closed[sock] = time.monotonic() - since
                    selector.unregister(sock)
    return [closed[sock] for sock in socks]


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout` passes)."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (TimeoutError, ConnectionError):
        pass
    return received


def read_response(sock: socket.socket) -> bytes:
    """One small response with a Content-Length, read whole (the connection stays open)."""
    sock.settimeout(5)
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, body = received.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return received


def trickle(
    socks: list[socket.socket], lines: Iterator[bytes], every: float, stop: threading.Event
) -> None:
    """Send each socket the next line every `every` seconds until `stop` (or the lines run out)."""
    for line in lines:
        for sock in socks:
            try:
                sock.sendall(line)
            except OSError:
                pass  # closed by the server: what the tests want to see
        if stop.wait(every):
            return


def header_lines() -> Iterator[bytes]:
    """A request head that never ends: a header line at a time."""
    yield b"GET /api/health HTTP/1.1\r\nHost: test\r\n"
    for n in range(40):
        yield f"X-Slow-{n}: {'a' * 20}\r\n".encode()


def p95(site: Site, requests: int = 50) -> float:
    """The 95th percentile of GET /api/health's latency, a new connection each time, one
    request every 20 ms."""
    took = []
    for _ in range(requests):
        time.sleep(0.02)
        started_at = time.perf_counter()
        with socket.create_connection(("127.0.0.1", site.port), timeout=5) as sock:
            sock.sendall(HEALTH)
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        took.append(time.perf_counter() - started_at)
    return statistics.quantiles(took, n=20)[-1]


@pytest.mark.live
def test_serve_connections_silent_ones_closed_after_the_head_timeout(server: Site) -> None:
    """200 connections that never send a byte are closed, without a word, at the head timeout."""
    since = time.monotonic()
    socks = connect(server, 200)
    try:
        closed = closing_times(socks, since, HEAD + 3)
    finally:
        for sock in socks:
            sock.close()
    still_open = sum(t == float("inf") for t in closed)
    assert still_open == 0, f"{still_open} of 200 silent connections still open after {HEAD + 3} s"
    assert HEAD - 0.2 < min(closed) and max(closed) < HEAD + SLACK, (min(closed), max(closed))
    assert server.get("/api/health").status_code == 200


@pytest.mark.parametrize("after_response", [False, True])
@pytest.mark.live
def test_serve_connections_slowloris_never_gets_past_the_head_timeout(
    server: Site, after_response: bool
) -> None:
    """A header line every 0.5 s: the head never completes and the connection is closed at the
    head timeout, counted from connect (or from the end of the previous response, the idle
    keep-alive being ended by the first byte)."""
    (sock,) = connect(server)
    if after_response:
        sock.sendall(HEALTH)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
    since = time.monotonic()
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=([sock], header_lines(), 0.5, stop))
    sender.start()
    try:
        received = read_until_closed(sock, HEAD + 3)
        took = time.monotonic() - since
    finally:
        stop.set()
        sender.join()
        sock.close()
    assert received == b"", received  # no response: the request never got to the app
    assert HEAD - 0.2 < took < HEAD + SLACK, took


@pytest.mark.live
def test_serve_connections_slow_body_answered_408_at_the_body_timeout(server: Site) -> None:
    """A body a byte every 0.5 s: 408 in the one error shape at the body timeout, counted from
    the end of the head, then the connection is closed."""
    (sock,) = connect(server)
    head = (
        b"POST /api/session HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    sock.sendall(head)
    since = time.monotonic()
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=([sock], iter([b" "] * 100), 0.5, stop))
    sender.start()
    try:
        received = read_until_closed(sock, BODY + 3)
        took = time.monotonic() - since
    finally:
        stop.set()
        sender.join()
        sock.close()
    assert received.startswith(b"HTTP/1.1 408 "), received
    head_part, body = received.split(b"\r\n\r\n", 1)
    assert b"connection: close" in head_part.lower()
    assert json.loads(body) == {
        "error": {
            "code": "request_timeout",
            "message": f"The request's body did not arrive within {BODY} s.",
        }
    }
    assert BODY - 0.2 < took < BODY + SLACK, took
    assert server.get("/api/health").status_code == 200
    time.sleep(0.2)  # the app's side of the cut-off body is logged as it ends
    assert "Traceback" not in server.log_text(), "a cut-off body is no server error"


@pytest.mark.live
def test_serve_connections_idle_keep_alive_closed_after_its_timeout(server: Site) -> None:
    (sock,) = connect(server)
    try:
        sock.sendall(HEALTH)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        since = time.monotonic()
        (closed,) = closing_times([sock], since, KEEP_ALIVE + 3)
    finally:
        sock.close()
    assert KEEP_ALIVE - 0.2 < closed < KEEP_ALIVE + SLACK, closed


@pytest.mark.live
def test_serve_connections_normal_client_keeps_its_latency_among_200_slow_ones(
    capped: Site,
) -> None:
    """200 slowloris connections hang on (below the cap, within the head timeout) while a
    normal client's p95 stays under 100 ms."""
    quiet = p95(capped)
    since = time.monotonic()
    socks = connect(capped, 200)
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=(socks, header_lines(), 0.25, stop))
    sender.start()
    try:
        time.sleep(1)  # they have sent a few header lines each
        loaded = p95(capped)
        held = time.monotonic() - since
        closed = closing_times(socks, since, 0)  # none closed yet: they hung on throughout
    finally:
        stop.set()
        sender.join()
        for sock in socks:
            sock.close()
    assert all(t == float("inf") for t in closed), held
    assert loaded < 0.1, (
        f"p95 {loaded * 1000:.0f} ms among 200 slow connections, {quiet * 1000:.0f} ms alone"
    )


@pytest.mark.live
def test_serve_connections_past_the_cap_answered_503_then_recovered(capped: Site) -> None:
    """CAP open connections fill serve: the next request is answered 503 (the one error shape
    under /api/, plain text for the site) and closed; once they go, requests are served again."""
    socks = connect(capped, CAP)
    try:
        time.sleep(0.3)  # serve accepts them
        refused = httpx.get(capped.url + "/api/health", timeout=5)
        page = httpx.get(capped.url + "/", timeout=5)
    finally:
        for sock in socks:
            sock.close()
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "unavailable")
    assert refused.headers["connection"] == "close" and refused.headers["retry-after"] == "1"
    assert (page.status_code, page.headers["content-type"]) == (503, "text/plain; charset=utf-8")
    capped.wait_until(lambda: capped.get("/api/health").status_code == 200, 2, "recovery")


def test_serve_connections_protocol_is_the_configured_implementation_guarded() -> None:
    """h11 by name; auto as uvicorn chooses (httptools when installed); a typo refused."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from api.settings import ConnectionLimits
    from serve.connections import protocol_class

    limits = ConnectionLimits(head=3, max_connections=7)
    h11 = protocol_class(limits, "h11")
    assert issubclass(h11, H11Protocol) and h11.limits == limits
    assert issubclass(protocol_class(limits), AutoHTTPProtocol)
    with pytest.raises(
        ValueError, match="no guarded HTTP protocol 'h2': one of auto, h11, httptools"
    ):
        protocol_class(limits, "h2")


def test_serve_connections_answers_are_not_held_for_the_clients_ack() -> None:
    """asyncio's own event loop (what uvicorn runs without uvloop) on serve's listening socket:
    an accepted connection has TCP_NODELAY, so an answer written in two parts goes at once,
    not 40 ms later when the client's delayed ACK comes."""
    import asyncio

    from serve.server import listen

    async def nodelay() -> int:
        sock = listen("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted_sock = writer.get_extra_info("socket")
            seen.set_result(accepted_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        try:
            return await asyncio.wait_for(seen, 5)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(nodelay()) != 0
