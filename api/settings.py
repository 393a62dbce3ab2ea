"""The API's settings, declared once: every environment variable with its type, default and help.

`Settings.from_env(mapping)` is the one reader, for `build.py serve` (os.environ), the Worker
(wrangler.toml vars and `wrangler secret put`) and the operator commands (`build.py learners`);
`markdown_table()` renders the README's Configuration table from the same declarations (a test
checks they agree). Secrets come from the environment, never from git.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .jws import IssuerKey
from .lrs import LrsConfig
from .mail import SmtpConfig
from .retention import EVENTS_ENV, FORWARDED_ENV, XAPI_ENV, Retention
from .stream import StreamKeys

if TYPE_CHECKING:  # PyJWT is imported only when Cloudflare Access mode is on
    from .access import AccessVerifier

log = logging.getLogger("sillon")
DEFAULT_DB = ".sillon/sillon.sqlite3"
DEFAULT_TZ = "Europe/Paris"
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000  # where `build.py serve` listens by default
SERVE, WORKER, CLI = "serve", "worker", "cli"
COHORT_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}")  # a short slug: it starts every token


@dataclass(frozen=True)
class ConnectionLimits:
    """How long serve waits for a connection's request, and how many connections it holds
    (serve/connections.py enforces them): whole seconds, and a count."""

    keep_alive: int = 5
    head: int = 10
    body: int = 30
    max_connections: int = 1000

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ConnectionLimits:
        """The limits set in `env`, the defaults for the others (ValueError for a bad one)."""
        names = {
            "keep_alive": "SILLON_KEEP_ALIVE_TIMEOUT",
            "head": "SILLON_HEAD_TIMEOUT",
            "body": "SILLON_BODY_TIMEOUT",
            "max_connections": "SILLON_MAX_CONNECTIONS",
        }
        return cls(**{key: _count(name, env[name]) for key, name in names.items() if env.get(name)})


@dataclass(frozen=True)
class Setting:
    """One environment variable: how it reads, what it defaults to, what it does, who reads it."""

    name: str
    kind: str  # text | secret | url | list | switch | seconds | count | days: how it is read
    default: str  # the default, as the README says it
    help: str
    runtimes: tuple[str, ...] = (SERVE, WORKER, CLI)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SILLON_DB",
        "text",
        f"`{DEFAULT_DB}`",
        "SQLite database file of the local API (created with `schema.sql`); "
        "the Worker uses its D1 binding `DB` instead",
        (SERVE, CLI),
    ),
    Setting(
        "SILLON_COHORTS",
        "list",
        "unset: one database (`SILLON_DB`; the Worker's `DB`)",
        "cohorts on databases of their own (see [Several databases](#several-databases)): "
        "`name=database,...` in order, the first the home cohort; a database is a SQLite file "
        "(serve, learners, publish) or a D1 binding (Worker); a name alone takes "
        "`<name>.sqlite3` beside `SILLON_DB`, and the binding `DB_<NAME>`. Names are slugs "
        "(`a-z`, `0-9`, `-`; 20 at most)",
    ),
    Setting(
        "SILLON_ADMIN_TOKEN",
        "secret",
        "unset: admin endpoints answer 403",
        "bearer token for `/api/admin/*` and admin reads, and what a teacher types into the "
        "cohort insight page (`/admin/`)",
        (SERVE, WORKER),
    ),
    Setting(
        "SILLON_SECRET",
        "secret",
        "random per process (a warning when the course has a Tally quiz)",
        "signs the Tally hidden field; set it so links survive restarts",
        (SERVE, WORKER),
    ),
    Setting(
        "TALLY_SIGNING_SECRET",
        "secret",
        "unset: `/api/tally-hook` answers 503 (a serve on a loopback address makes one up for its "
        "simulated responses)",
        "the signing secret of your Tally webhook",
        (SERVE, WORKER),
    ),
    Setting(
        "SILLON_BASE_URL",
        "url",
        "the request's own address",
        "public address used in invite links and as the base of xAPI actor and activity ids "
        "(the learners commands' default: serve's address, from their `--host` and `--port`)",
    ),
    Setting(
        "SILLON_TZ",
        "text",
        f"`{DEFAULT_TZ}`",
        "default time zone of new learners (streak days are local days)",
    ),
    Setting(
        "CLOUDFLARE_STREAM_SIGNING_KEY_ID",
        "text",
        "unset: Stream steps answer 503",
        "signed playback of `stream:<uid>` videos: the signing key's id "
        "(`build.py stream-key`); the three Stream variables go together",
        (SERVE, WORKER),
    ),
    Setting(
        "CLOUDFLARE_STREAM_SIGNING_KEY_PEM",
        "secret",
        "unset",
        "the signing key's PEM, as is or base64-encoded as Stream's `POST /stream/keys` returns it",
        (SERVE, WORKER),
    ),
    Setting(
        "CLOUDFLARE_STREAM_CUSTOMER_CODE",
        "text",
        "unset",
        "the `customer-<code>` of your Stream URLs",
        (SERVE, WORKER),
    ),
    Setting(
        "SILLON_LRS_URL",
        "url",
        "unset: statements are kept, not forwarded",
        "forward xAPI statements to this LRS (see [xAPI statements](#xapi-statements))",
        (SERVE, WORKER),
    ),
    Setting("SILLON_LRS_USERNAME", "text", "unset", "the LRS's basic-auth user", (SERVE, WORKER)),
    Setting(
        "SILLON_LRS_PASSWORD", "secret", "unset", "the LRS's basic-auth password", (SERVE, WORKER)
    ),
    Setting(
        EVENTS_ENV,
        "days",
        f"`{Retention.events_days}`",
        "days an event's answer is kept for its replays (see [Data retention](#data-retention))",
        (SERVE, WORKER),
    ),
    Setting(
        XAPI_ENV,
        "days",
        f"`{Retention.xapi_days}`",
        "without an LRS: days an xAPI statement is kept after it was stored, or `forever`",
        (SERVE, WORKER),
    ),
    Setting(
        FORWARDED_ENV,
        "days",
        f"`{Retention.forwarded_days}`",
        "with an LRS: days an xAPI statement is kept after it was stored, or `forever` (one "
        "not forwarded yet is always kept)",
        (SERVE, WORKER),
    ),
    Setting(
        "SILLON_ISSUER_KEY",
        "secret",
        "unset: `/api/certificate` answers 503",
        "the RSA key that signs certificates (Open Badges 3.0, RS256): a PEM (PKCS#1 or "
        "PKCS#8), as is or base64-encoded on one line; `python build.py issuer-key` makes one. "
        "Its public half is published at `/.well-known/jwks.json`: keep it for as long as "
        "certificates must verify",
        (SERVE, WORKER),
    ),
    Setting(
        "SILLON_ISSUER_NAME",
        "text",
        "the course's `author`, else its title",
        "who issues the certificates (the Open Badges issuer profile's name)",
        (SERVE, WORKER),
    ),
    Setting(
        "SILLON_RATE_LIMITS",
        "switch",
        "`on`",
        "`off` turns the abuse limits (429) off: only behind a rate limiter of your own, or for "
        "`bench/api_bench.py`",
        (SERVE,),
    ),
    Setting(
        "SILLON_KEEP_ALIVE_TIMEOUT",
        "seconds",
        f"`{ConnectionLimits.keep_alive}`",
        "seconds an idle connection is kept open after a response, for the browser's next request",
        (SERVE,),
    ),
    Setting(
        "SILLON_HEAD_TIMEOUT",
        "seconds",
        f"`{ConnectionLimits.head}`",
        "seconds a request's head may take, from connect (or the end of the previous response): "
        "a connection that sends nothing, or its headers a line at a time, is then closed",
        (SERVE,),
    ),
    Setting(
        "SILLON_BODY_TIMEOUT",
        "seconds",
        f"`{ConnectionLimits.body}`",
        "seconds a request's body may take after its head (bodies are 64 KiB at most): then 408 "
        "and the connection is closed. Never a limit on responses (a video plays for as long "
        "as it lasts)",
        (SERVE,),
    ),
    Setting(
        "SILLON_MAX_CONNECTIONS",
        "count",
        f"`{ConnectionLimits.max_connections}`",
        "open connections serve takes; a request beyond answers 503 (`Retry-After: 1`) and is "
        "closed. The open-files limit (`ulimit -n`) must be above it",
        (SERVE,),
    ),
    Setting(
        "SILLON_CORS_ORIGINS",
        "list",
        "unset: no cross-origin access",
        "comma-separated origins allowed to call the API with credentials",
        (SERVE,),
    ),
    Setting(
        "SILLON_ACCESS_TEAM_DOMAIN",
        "text",
        "unset: off",
        "Cloudflare Access mode (with `SILLON_ACCESS_AUD`): learners are identified by the "
        "`Cf-Access-Jwt-Assertion` JWT (RS256, checked against the team's published keys, "
        "`aud`, `iss`, expiry) and its `email`, which must be enrolled; no cookie sessions",
        (SERVE,),
    ),
    Setting(
        "SILLON_ACCESS_AUD", "text", "unset: off", "the Access application's audience tag", (SERVE,)
    ),
    Setting(
        "SILLON_SMTP_URL",
        "secret",
        "unset: email sign-in answers 503",
        "email sign-in (see [Sign-in](#sign-in)): `smtp://user:password@host:port` (plain, port "
        "25), with `?starttls=1` for STARTTLS (port 587), or `smtps://...` for TLS (port 465); "
        "user and password percent-encoded; also the teacher's reminders (`learners nudge`). Not "
        "on the Worker, which opens no SMTP sockets",
        (SERVE, CLI),
    ),
    Setting(
        "SILLON_SMTP_FROM",
        "text",
        "unset (required with `SILLON_SMTP_URL`)",
        "the sender of sign-in and reminder emails, e.g. `Sillon <noreply@example.org>`",
        (SERVE, CLI),
    ),
)
NAMES = {setting.name: setting for setting in SETTINGS}


@dataclass
class Settings:
    """What the API needs from its environment (read by `from_env`; tests build one directly)."""

    db_path: str = DEFAULT_DB
    admin_token: str | None = None
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    tally_secret: str | None = None
    base_url: str | None = None
    default_tz: str = DEFAULT_TZ
    access: AccessVerifier | None = None
    stream: StreamKeys | None = None
    client_ip_header: str | None = None  # cf-connecting-ip behind Cloudflare (the Worker)
    cors_origins: list[str] = field(default_factory=list)
    lrs: LrsConfig | None = None
    smtp: SmtpConfig | None = None  # email sign-in and reminders (serve and the CLI)
    rate_limits: bool = True
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)  # serve's own
    secret_set: bool = False  # SILLON_SECRET was set (else `secret` is this process's own)
    issuer_key: IssuerKey | None = None  # signs certificates (api/certificates.py)
    issuer_name: str | None = None
    retention: Retention = field(default_factory=Retention)  # what is pruned when
    cohorts: tuple[tuple[str, str | None], ...] = ()  # SILLON_COHORTS: (name, database or None)
    cohort: str | None = None  # this API's cohort (its tokens name it), of several; else None

    def per_cohort(self) -> list[Settings]:
        """One API's settings per cohort, each with its database (`db_path`: a file, or
        `d1:<binding>` on the Worker) and its name; `[self]` with one database."""
        if not self.cohorts:
            return [self]
        d1 = self.db_path.startswith("d1:")
        return [
            replace(
                self,
                cohort=name,
                db_path=(f"d1:{target}" if d1 else target)
                if target
                else (cohort_binding(name) if d1 else cohort_file(self.db_path, name)),
            )
            for name, target in self.cohorts
        ]

    def tally_warnings(self) -> list[str]:
        """What Tally quizzes lack here; said only for a course that has one."""
        found = []
        if not self.secret_set:
            found.append(
                "SILLON_SECRET is not set: Tally quiz links signed now stop working on restart"
            )
        if not self.tally_secret:
            found.append(
                "TALLY_SIGNING_SECRET is not set: Tally scores cannot arrive "
                "(/api/tally-hook answers 503)"
            )
        return found

    def site_url(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
        """The site's address in printed links: SILLON_BASE_URL, else serve's on host:port."""
        return (self.base_url or local_url(host, port)).rstrip("/")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str | None], runtime: str = SERVE, **fixed: Any
    ) -> Settings:
        """Read the settings `runtime` uses from a mapping (os.environ, the Worker's env);
        `fixed` overrides what the caller decides (the Worker's database, a --db flag).
        A half-configured group (Stream keys, LRS, Access) or a bad value raises ValueError."""
        env = {
            s.name: (environ.get(s.name) or "").strip() for s in SETTINGS if runtime in s.runtimes
        }
        settings = cls(
            db_path=env.get("SILLON_DB") or DEFAULT_DB,
            admin_token=env.get("SILLON_ADMIN_TOKEN") or None,
            tally_secret=env.get("TALLY_SIGNING_SECRET") or None,
            base_url=env.get("SILLON_BASE_URL") or None,
            default_tz=env.get("SILLON_TZ") or DEFAULT_TZ,
            cors_origins=[o.strip() for o in env.get("SILLON_CORS_ORIGINS", "").split(",")],
            rate_limits=_switch("SILLON_RATE_LIMITS", env.get("SILLON_RATE_LIMITS") or "on"),
            stream=StreamKeys.from_env(env) if runtime != CLI else None,
            lrs=LrsConfig.from_env(env) if runtime != CLI else None,
            smtp=SmtpConfig.from_env(env) if runtime in (SERVE, CLI) else None,
            connections=ConnectionLimits.from_env(env),
            issuer_key=IssuerKey.from_text(env["SILLON_ISSUER_KEY"])
            if env.get("SILLON_ISSUER_KEY")
            else None,
            issuer_name=env.get("SILLON_ISSUER_NAME") or None,
            retention=Retention.from_env(env),
            cohorts=parse_cohorts(env.get("SILLON_COHORTS", "")),
        )
        settings.cors_origins = [o for o in settings.cors_origins if o]
        if env.get("SILLON_SECRET"):
            settings.secret, settings.secret_set = env["SILLON_SECRET"], True
        if runtime == SERVE:
            settings.access = _access(env)
        if settings.access is not None and settings.cohorts:
            raise ValueError(
                "SILLON_COHORTS and Cloudflare Access (SILLON_ACCESS_*) do not go together: "
                "an Access request names no cohort"
            )
        return replace(settings, **{k: v for k, v in fixed.items() if v is not None})


def local_url(host: str, port: int) -> str:
    """The address of a serve listening on host:port, as a browser writes it."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def parse_cohorts(value: str) -> tuple[tuple[str, str | None], ...]:
    """SILLON_COHORTS, `name=database,...` or names alone, in order (ValueError when bad)."""
    found: list[tuple[str, str | None]] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        name, equals, target = (part.strip() for part in item.partition("="))
        if not COHORT_NAME.fullmatch(name):
            raise ValueError(
                f"SILLON_COHORTS: {name!r} is not a cohort name (a-z, 0-9 and -, starting "
                "with a letter, 20 characters at most)"
            )
        if equals and not target:
            raise ValueError(f"SILLON_COHORTS: cohort {name!r} names no database after '='")
        found.append((name, target or None))
    names = [name for name, _ in found]
    targets = [t for _, t in found if t]
    for seen, what in ((names, "cohort"), (targets, "database")):
        twice = sorted({x for x in seen if seen.count(x) > 1})
        if twice:
            raise ValueError(f"SILLON_COHORTS: {what} {twice[0]!r} is named twice")
    if value.strip() and not found:
        raise ValueError(f"SILLON_COHORTS: no cohort in {value!r}")
    return tuple(found)


def cohort_file(db_path: str, name: str) -> str:
    """A cohort's SQLite file when SILLON_COHORTS names no database: beside SILLON_DB."""
    return str(Path(db_path).parent / f"{name}.sqlite3")


def cohort_binding(name: str) -> str:
    """A cohort's D1 binding when SILLON_COHORTS names none: DB_<NAME>."""
    return "d1:DB_" + name.upper().replace("-", "_")


def _switch(name: str, value: str) -> bool:
    if value.lower() not in ("on", "off"):
        raise ValueError(f"{name} must be on or off, not {value!r}")
    return value.lower() == "on"


def _count(name: str, value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise ValueError(f"{name} must be a whole number above 0, not {value!r}")
    return int(value)


def _access(env: Mapping[str, str]) -> AccessVerifier | None:
    from .access import AccessConfig, AccessVerifier

    config = AccessConfig.from_env(env)
    if config is None:
        return None
    log.info("Cloudflare Access mode: learners are identified by %s", config.issuer)
    return AccessVerifier(config)


def markdown_table() -> str:
    """The README's Configuration table, from the declarations."""
    lines = ["| variable | used by | default | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        used = ", ".join(RUNTIME_NAMES[r] for r in s.runtimes)
        if s.kind == "secret" and WORKER in s.runtimes:
            used = used.replace("Worker", "Worker (`wrangler secret put`)")
        lines.append(f"| `{s.name}` | {used} | {s.default} | {s.help} |")
    return "\n".join(lines)


RUNTIME_NAMES = {SERVE: "serve", WORKER: "Worker", CLI: "learners, publish"}
