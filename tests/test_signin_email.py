"""Sign-in by email against a real SMTP server on 127.0.0.1 (aiosmtpd): the same answer for
any address, a link that works once for 15 minutes, limits per address and per client, STARTTLS
with a login; and the SMTP settings."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.client import Cohort, assert_error
from support.journey import rows
from support.launch import free_port
from support.signin import Inbox, browser, link_in, open_link, self_signed, smtp_server
from support.small_course import small_cohort

from api.mail import SmtpConfig

SENT = "If this address is enrolled, a sign-in link is on its way; it works once, for 15 minutes."


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Cohort]:
    with small_cohort(tmp_path) as running:
        yield running


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def mailing(tmp_path: Path, smtp: tuple[Inbox, int]) -> Iterator[tuple[Cohort, Inbox]]:
    inbox, port = smtp
    config = SmtpConfig.from_env(
        {
            "SILLON_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "SILLON_SMTP_FROM": "Sillon <noreply@example.org>",
        }
    )
    with small_cohort(tmp_path, smtp=config) as running:
        yield running, inbox


def ask_link(app: Cohort, address: str, client: TestClient | None = None) -> Any:
    return (client or browser(app)).post("/api/email-link", json={"email": address})


def test_signin_email_link_works_once(mailing: tuple[Cohort, Inbox]) -> None:
    app, inbox = mailing
    app.enroll("Ada", email="ada@example.org")
    answer = ask_link(app, "ADA@example.org")
    assert answer.status_code == 202 and answer.json() == {"message": SENT}
    assert inbox.arrived.wait(10)
    (message,) = inbox.messages
    assert message["X-Envelope-To"] == "ada@example.org"
    assert message["From"] == "Sillon <noreply@example.org>"
    assert message["To"] == "ada@example.org"
    token = link_in(message)
    assert open_link(app, token)[0].status_code == 200
    assert_error(open_link(app, token)[0], 410, "link_used")


def test_signin_email_same_answer_for_an_unknown_address(mailing: tuple[Cohort, Inbox]) -> None:
    app, inbox = mailing
    app.enroll("Ada", email="ada@example.org")
    known = ask_link(app, "ada@example.org")
    unknown = ask_link(app, "nobody@example.org")
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    assert inbox.arrived.wait(10)
    assert [m["To"] for m in inbox.messages] == ["ada@example.org"]
    assert rows(app, "SELECT COUNT(*) FROM signin_links WHERE kind = 'email'") == [(1,)]


def test_signin_email_link_expires_after_15_minutes(mailing: tuple[Cohort, Inbox]) -> None:
    app, inbox = mailing
    app.enroll("Ada", email="ada@example.org")
    ask_link(app, "ada@example.org")
    ask_link(app, "ada@example.org")
    assert len(inbox.messages) == 2
    early, late = (link_in(m) for m in inbox.messages)
    app.clock.advance(minutes=14, seconds=59)
    assert open_link(app, early)[0].status_code == 200
    app.clock.advance(seconds=1)
    assert_error(open_link(app, late)[0], 410, "link_expired")


def test_signin_email_rate_limited_per_address_and_per_client(
    mailing: tuple[Cohort, Inbox],
) -> None:
    app, inbox = mailing
    app.enroll("Ada", email="ada@example.org")
    answers = [ask_link(app, "ada@example.org") for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert answers[-1].json()["error"]["code"] == "too_many_requests"
    assert len(inbox.messages) == 3
    # The same for an address nobody enrolled: the limit tells nothing either.
    assert [ask_link(app, "nobody@example.org").status_code for _ in range(4)] == [
        202,
        202,
        202,
        429,
    ]
    # Per client: one address asking for many others is stopped too, after its burst of 60
    # (the 8 asks above included: every TestClient is the address "testclient").
    one = browser(app)
    statuses = [ask_link(app, f"p{n}@example.org", one).status_code for n in range(53)]
    assert statuses == [202] * 52 + [429]
    app.clock.advance(minutes=5)
    assert ask_link(app, "ada@example.org").status_code == 202


def test_signin_email_refusals(mailing: tuple[Cohort, Inbox]) -> None:
    app, _ = mailing
    assert_error(ask_link(app, "not an address"), 422, "invalid")
    assert_error(
        browser(app).post("/api/email-link", json={"email": "a@b.c", "userId": "u_x"}),
        400,
        "identity_in_body",
    )


def test_signin_email_not_configured(app: Cohort) -> None:
    body = assert_error(ask_link(app, "ada@example.org"), 503, "email_unavailable")
    assert body["error"]["message"] == (
        "Email sign-in is not configured on this server: ask your teacher for a new link."
    )


def test_signin_email_never_configured_on_the_worker() -> None:
    """The Worker opens no SMTP sockets: it reads no SMTP setting, so its email sign-in answers
    503 as above; serve reads them."""
    from api.settings import SERVE, WORKER, Settings

    env = {"SILLON_SMTP_URL": "smtp://127.0.0.1:2525", "SILLON_SMTP_FROM": "a@b.c"}
    assert Settings.from_env(env, WORKER).smtp is None
    assert Settings.from_env(env, SERVE).smtp == SmtpConfig(
        "127.0.0.1", 2525, None, None, "a@b.c", "plain"
    )


def test_signin_smtp_settings() -> None:
    def read(url: str) -> SmtpConfig | None:
        return SmtpConfig.from_env({"SILLON_SMTP_URL": url, "SILLON_SMTP_FROM": "a@b.c"})

    assert read("") is None
    plain = read("smtp://user%40x:p%3Ass@mail.example.org")
    assert plain == SmtpConfig("mail.example.org", 25, "user@x", "p:ss", "a@b.c", "plain")
    assert read("smtp://mail.example.org?starttls=1") == SmtpConfig(
        "mail.example.org", 587, None, None, "a@b.c", "starttls"
    )
    assert read("smtps://u:p@mail.example.org:2465") == SmtpConfig(
        "mail.example.org", 2465, "u", "p", "a@b.c", "ssl"
    )
    for bad, message in (
        ("http://mail.example.org", "SILLON_SMTP_URL must be smtp:// or smtps://"),
        ("smtp://", "SILLON_SMTP_URL names no host"),
        ("smtp://h?starttls=maybe", "starttls must be 0 or 1"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            read(bad)
    with pytest.raises(ValueError, match="SILLON_SMTP_FROM"):
        SmtpConfig.from_env({"SILLON_SMTP_URL": "smtp://h"})


def test_signin_email_over_starttls_with_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STARTTLS and AUTH against aiosmtpd with a certificate of its own (trusted through
    SSL_CERT_FILE, as an operator's private CA would be)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=(data.login, data.password) == (b"sillon", b"s3cret"))

    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=context,
        require_starttls=True,
        authenticator=check,
        auth_required=True,
    )
    controller.start()
    try:
        config = SmtpConfig.from_env(
            {
                "SILLON_SMTP_URL": f"smtp://sillon:s3cret@localhost:{port}?starttls=1",
                "SILLON_SMTP_FROM": "noreply@example.org",
            }
        )
        with small_cohort(tmp_path / "app", smtp=config) as app:
            app.enroll("Ada", email="ada@example.org")
            assert ask_link(app, "ada@example.org").status_code == 202
            assert inbox.arrived.wait(10)
            assert open_link(app, link_in(inbox.messages[0]))[0].status_code == 200
    finally:
        controller.stop()
