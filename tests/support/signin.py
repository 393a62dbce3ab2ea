"""The sign-in tests' browsers and mail: a browser opening a link, the join page's way of
opening one over HTTP (waiting out a 429), a real SMTP server's inbox (aiosmtpd's handler), the
link a mail holds, and a certificate for STARTTLS."""

from __future__ import annotations

import email
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
from starlette.testclient import TestClient

from support.client import Cohort
from support.course import write


def browser(app: Cohort, agent: str = "testclient") -> TestClient:
    """A separate browser (its own cookie jar) with this User-Agent."""
    return TestClient(app.client.app, base_url="http://testserver", headers={"User-Agent": agent})


def open_link(
    app: Cohort, token: str, agent: str = "testclient"
) -> tuple[httpx.Response, TestClient]:
    """Open a sign-in link (/join/#token) in a new browser: the answer and the browser."""
    found = browser(app, agent)
    return found.post("/api/session", json={"inviteToken": token}), found


def join(url: str, token: str, headers: dict[str, str], until: float) -> httpx.Response:
    """Open a link as static/join.js does, in a new browser of the server at `url`: refused
    for too many attempts (429), wait the Retry-After seconds and try again, until the
    time.monotonic() `until`; the last answer."""
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        while True:
            answer = client.post("/api/session", json={"inviteToken": token})
            wait = int(answer.headers.get("retry-after", "0"))
            if answer.status_code != 429 or time.monotonic() + wait > until:
                return answer
            time.sleep(wait)


def token_of(url: str) -> str:
    assert "/join/#" in url, url
    return url.split("/join/#", 1)[1]


class Inbox:
    """aiosmtpd's handler: every message it received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        self.arrived.set()
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: its inbox and port."""
    from aiosmtpd.controller import Controller

    from support.launch import free_port

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def link_in(message: Message) -> str:
    found = re.search(r"https?://\S+/join/#([A-Za-z0-9_-]+)", body_of(message))
    assert found, body_of(message)
    return found.group(1)


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for localhost and its key (PEM files)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, pem = tmp / "cert.pem", tmp / "key.pem"
    write(cert, certificate.public_bytes(serialization.Encoding.PEM).decode())
    write(
        pem,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    )
    return cert, pem
