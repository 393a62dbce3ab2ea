"""Mail for email sign-in: the SMTP server's settings and sending one plain-text message.

`SILLON_SMTP_URL` names the server: `smtp://[user:password@]host[:port]` (plain, port 25),
`smtp://...?starttls=1` (upgraded with STARTTLS, port 587 unless given) or `smtps://...` (TLS
from the first byte, port 465 unless given); user and password are percent-encoded.
`SILLON_SMTP_FROM` is the sender. TLS checks the server's certificate against the system's
trust store (OpenSSL's, so `SSL_CERT_FILE` can name a private CA).

Python's `smtplib` blocks, so `deliver` runs it on a worker thread: the event loop keeps
answering other requests while a message is sent. Only the local server sends mail: a Python
Worker opens no SMTP sockets (README, "Sign-in").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

URL_ENV, FROM_ENV = "SILLON_SMTP_URL", "SILLON_SMTP_FROM"
PORTS = {"plain": 25, "starttls": 587, "ssl": 465}
TIMEOUT = 20.0  # seconds for the whole conversation with the server


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    sender: str
    security: str  # plain | starttls | ssl

    @classmethod
    def from_env(cls, env: Mapping[str, str | None]) -> SmtpConfig | None:
        """The server named by SILLON_SMTP_URL (with SILLON_SMTP_FROM), or None: email sign-in
        is off. A malformed value raises ValueError (serve stops with it)."""
        url = (env.get(URL_ENV) or "").strip()
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"{URL_ENV} must be smtp:// or smtps://, not {url.split(':')[0]!r}")
        if not parts.hostname:
            raise ValueError(f"{URL_ENV} names no host")
        security = "ssl" if parts.scheme == "smtps" else _starttls(parts.query)
        sender = (env.get(FROM_ENV) or "").strip()
        if not sender:
            raise ValueError(f"{FROM_ENV} (the sender's address) is required with {URL_ENV}")
        return cls(
            host=parts.hostname,
            port=parts.port or PORTS[security],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            sender=sender,
            security=security,
        )


def _starttls(query: str) -> str:
    values = parse_qs(query).get("starttls", ["0"])
    if values[-1] not in ("0", "1"):
        raise ValueError(f"{URL_ENV}: starttls must be 0 or 1, not {values[-1]!r}")
    return "starttls" if values[-1] == "1" else "plain"


def message(config: SmtpConfig, to: str, subject: str, text: str) -> EmailMessage:
    found = EmailMessage()
    found["From"] = config.sender
    found["To"] = to
    found["Subject"] = subject
    found["Message-ID"] = make_msgid(domain=config.host)
    found.set_content(text)
    return found


def send(config: SmtpConfig, mail: EmailMessage) -> None:
    """Send one message (blocking: call it through `deliver`)."""
    import smtplib
    import ssl

    context = ssl.create_default_context()
    if config.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=TIMEOUT, context=context
        )
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=TIMEOUT)
    with client:
        if config.security == "starttls":
            client.starttls(context=context)
        if config.username:
            client.login(config.username, config.password or "")
        client.send_message(mail)


async def deliver(config: SmtpConfig, mail: EmailMessage) -> None:
    """Send one message on a worker thread, so the event loop is never blocked."""
    from anyio import to_thread

    await to_thread.run_sync(send, config, mail)
