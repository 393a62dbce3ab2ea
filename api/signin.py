"""The sign-in lifecycle: one-time links in, sessions that slide, and the ways back in.

Every way in is a link `/join/#<token>` whose token opens exactly one session: the invite (no
expiry; replaced when the teacher re-issues it), a device link made from a signed-in device
(10 minutes, with its QR code), an emailed link (15 minutes, when SMTP is configured), a
teacher's reminder (7 days: api/nudges.py). A link is a row of `signin_links` found by the
SHA-256 of its token; the batch that opens the session marks it used only if it was not
(sql.redeem_link), so two requests racing with one link open one session, on SQLite as on D1.
A session ends 30 days after its last use (api/context.py slides it, writing at most once an
hour) or when signed out. Every attempt to open a session spends api/limits.py's buckets for it
(per address, per failed attempt, per token), whose figures say why guessing a token is
hopeless.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import auth, limits, mail, sql
from .clock import iso, parse_iso
from .context import Context
from .errors import ApiError
from .operations import EMAIL_LINK, REISSUE, SESSION
from .storage import Database

log = logging.getLogger("sillon.signin")

LIFETIMES = {  # invite: none
    "device": timedelta(minutes=10),
    "email": timedelta(minutes=15),
    "nudge": timedelta(days=7),  # a teacher's reminder email (api/nudges.py), read days later
}
NO_STORE = {"Cache-Control": "no-store"}  # answers holding a credential
WAYS_BACK = (
    "Ask your teacher for a new link, or sign in with a link from a device where you are signed "
    "in (your profile: Add a device) or by email."
)
USED = "This sign-in link was already used. " + WAYS_BACK
EXPIRED = "This sign-in link has expired or was replaced by a newer one. " + WAYS_BACK
SENT = "If this address is enrolled, a sign-in link is on its way; it works once, for 15 minutes."
EMAIL_OFF = "Email sign-in is not configured on this server: ask your teacher for a new link."
MAIL_TEXT = {
    "fr": (
        "Votre lien de connexion",
        "Bonjour {name},\n\nVoici votre lien pour vous connecter au cours « {course} » :\n\n"
        "{url}\n\nIl fonctionne une seule fois, pendant 15 minutes. Si vous n'avez rien "
        "demandé, ignorez ce message.\n",
    ),
    "en": (
        "Your sign-in link",
        'Hello {name},\n\nHere is your link to sign in to the course "{course}":\n\n{url}\n\n'
        "It works once, for 15 minutes. If you did not ask for it, ignore this message.\n",
    ),
}


# -- links and sessions ------------------------------------------------------------------------


def link_url(api: Context, request: Request, token: str) -> str:
    """The join page's address for a token (SILLON_BASE_URL, else the request's own)."""
    base = (api.settings.base_url or str(request.base_url)).rstrip("/")
    return f"{base}/join/#{token}"


async def issue(api: Context, learner_id: str, kind: str, now: datetime) -> tuple[str, str]:
    """A new device or email link for the learner: its token and when it expires (the
    learner's links that ended over a day ago are forgotten in the same batch)."""
    token, expires = auth.cohort_token(api.settings.cohort), iso(now + LIFETIMES[kind])
    await api.db.batch(
        [
            sql.prune_links(learner_id, iso(now - timedelta(days=1))),
            sql.new_link(auth.token_hash(token), learner_id, kind, iso(now), expires),
        ]
    )
    return token, expires


async def redeem(
    db: Database, link_hash: str, session_hash: str, device: str, now: datetime
) -> bool:
    """Open the session with the link, in one batch; False when another request used it first
    (or it expired meanwhile)."""
    expires = iso(now + timedelta(days=auth.SESSION_DAYS))
    results = await db.batch(sql.redeem_link(link_hash, session_hash, device, iso(now), expires))
    # D1 counts the rows the INSERT's trigger changed too (learners.active_at): 1 or 2 then.
    return results[-1].changes >= 1


def refuse(link: dict[str, object] | None, now: datetime) -> None:
    """Say why a link opens nothing: unknown (401), used or expired (410)."""
    if link is None:
        raise ApiError(401, "bad_invite", "This sign-in link is not valid.")
    if link["used_at"] is not None:
        raise ApiError(410, "link_used", USED)
    expires = link["expires_at"]
    if isinstance(expires, str) and parse_iso(expires) <= now:
        raise ApiError(410, "link_expired", EXPIRED)


BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"))
SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_name(agent: str) -> str:
    """A short name for the device a User-Agent describes ("Chrome on Linux"), or its first
    60 characters when it is no browser's."""
    agent = agent.strip()
    system = next((name for mark, name in SYSTEMS if mark in agent), None)
    browser = next((name for mark, name in BROWSERS if mark in agent), None)
    if browser is None and "Safari/" in agent:
        browser = "Safari"
    if browser and system:
        return f"{browser} on {system}"
    return re.sub(r"\s+", " ", agent)[:60] or "Unknown device"


# -- endpoints ---------------------------------------------------------------------------------


async def open_session(api: Context, request: Request) -> Response:
    """POST /api/session: a link's token for a session cookie, once."""
    api.limit(request, limits.SESSION)
    link_hash = auth.token_hash((await SESSION.read(request))["inviteToken"])
    api.limit(request, limits.SESSION_FAILURES, spend=False)  # out of failures: no try at all
    api.limit(request, limits.LINK, "link:" + link_hash)
    link = (await api.db.execute(sql.link_state(link_hash))).first()
    if link is None:
        api.limit(request, limits.SESSION_FAILURES)
    now = api.clock()
    refuse(link, now)
    assert link is not None
    session = auth.cohort_token(api.settings.cohort)
    device = device_name(request.headers.get("user-agent", ""))
    if not await redeem(api.db, link_hash, auth.token_hash(session), device, now):
        raise ApiError(410, "link_used", USED)  # another request used it meanwhile
    answer = {"userId": link["learner_id"], "name": link["name"], "teamId": link["team_id"]}
    response = JSONResponse(answer, headers=NO_STORE)
    auth.set_session_cookie(response, request, session)
    return response


async def close_session(api: Context, request: Request) -> Response:
    """DELETE /api/session: sign out this browser."""
    token = auth.session_token(request)
    if token:
        await api.db.batch([sql.end_session(auth.token_hash(token))])
    response = Response(status_code=204)
    auth.clear_session_cookie(response, request)
    return response


async def list_sessions(api: Context, request: Request) -> Response:
    """GET /api/sessions: your signed-in devices, this one marked `current`."""
    learner = await api.learner(request)
    mine = auth.token_hash(auth.session_token(request) or "")
    found = await api.db.execute(sql.sessions_of(learner["id"], iso(api.clock())))
    sessions = [
        {
            "device": row["device"] or "Unknown device",
            "createdAt": row["created_at"],
            "lastSeen": row["last_seen"] or row["created_at"],
            "current": row["token_hash"] == mine,
        }
        for row in found.rows
    ]
    return JSONResponse({"sessions": sessions}, headers=NO_STORE)


async def end_other_sessions(api: Context, request: Request) -> Response:
    """DELETE /api/sessions: sign out everywhere else."""
    learner = await api.learner(request)
    mine = auth.token_hash(auth.session_token(request) or "")
    (ended,) = await api.db.batch([sql.end_other_sessions(learner["id"], mine)])
    return JSONResponse({"ended": ended.changes})


async def device_link(api: Context, request: Request) -> Response:
    """POST /api/device-link: a one-time link (10 minutes) and its QR code for another device."""
    import segno

    learner = await api.learner(request)
    api.limit(request, limits.DEVICE_LINKS, "learner:" + learner["id"])
    token, expires = await issue(api, learner["id"], "device", api.clock())
    url = link_url(api, request, token)
    svg = io.BytesIO()  # a standalone SVG (with its namespace): the page shows it as an image
    segno.make(url, error="m").save(svg, kind="svg", xmldecl=False, scale=4, border=2)
    answer = {"url": url, "expiresAt": expires, "qrSvg": svg.getvalue().decode()}
    return JSONResponse(answer, 201, NO_STORE)


async def reissue(api: Context, request: Request) -> Response:
    """POST /api/admin/invite: a new invite for a learner; the old links stop working."""
    api.limit(request, limits.ADMIN)
    auth.require_admin(request, api.settings.admin_token)
    received = await REISSUE.read(request)
    revoke = received.data.get("revokeSessions", False)
    if not isinstance(revoke, bool):
        raise ApiError(422, "invalid", "'revokeSessions' must be true or false.")
    token, ended = await reinvite(api, received["userId"], revoke)
    answer = {
        "userId": received["userId"],
        "inviteToken": token,
        "inviteUrl": link_url(api, request, token),
        "sessionsEnded": ended,
    }
    return JSONResponse(answer, 201, NO_STORE)


async def reinvite(api: Context, learner_id: str, revoke_sessions: bool) -> tuple[str, int]:
    """Re-issue a learner's invite (the API's and `build.py learners invite`'s one way): the
    new token, and how many sessions ended."""
    if (await api.db.execute(sql.learner_by_id(learner_id))).first() is None:
        raise ApiError(404, "unknown_learner", f"No learner '{learner_id}'.")
    token, now = auth.cohort_token(api.settings.cohort), iso(api.clock())
    results = await api.db.batch(
        [
            *([sql.end_sessions(learner_id)] if revoke_sessions else []),
            sql.revoke_links(learner_id, now),
            sql.new_link(auth.token_hash(token), learner_id, "invite", now, None),
        ]
    )
    return token, results[0].changes if revoke_sessions else 0


async def email_link(api: Context, request: Request) -> Response:
    """POST /api/email-link: mail a one-time link (15 minutes) to an enrolled address. The
    answer is the same whether or not it is enrolled: the lookup and the mail happen after it."""
    if api.settings.smtp is None:
        raise ApiError(503, "email_unavailable", EMAIL_OFF)
    api.limit(request, limits.SESSION)
    address = (await EMAIL_LINK.read(request))["email"].lower()
    api.limit(request, limits.EMAIL, "email:" + address)
    job = BackgroundTask(send_link, api, api.settings.smtp, address, link_url(api, request, ""))
    return JSONResponse({"message": SENT}, 202, background=job)


async def enrolled(api: Context, address: str) -> tuple[Context, dict[str, Any]] | None:
    """The cohort (its API) where an address is enrolled, and its row: each cohort's database
    is asked in turn (a rare request, answered before any of this runs)."""
    for peer in api.peers:
        row = (await peer.db.execute(sql.learner_by_email(address))).first()
        if row is not None:
            return peer, row
    return None


async def send_link(api: Context, smtp: mail.SmtpConfig, address: str, join: str) -> None:
    """Make and mail the link, after the answer has gone (a failure is logged, not answered:
    an answer would tell who is enrolled)."""
    try:
        found = await enrolled(api, address)
        if found is None:
            return
        api, row = found
        learner = await api.learning.learner(sql.learner_by_id(row["id"]))
        assert learner is not None
        course = await api.learning.course()
        token, _ = await issue(api, learner["id"], "email", api.clock())
        subject, text = MAIL_TEXT.get(course.language, MAIL_TEXT["en"])
        body = text.format(name=learner["name"], course=course.title, url=join + token)
        await mail.deliver(smtp, mail.message(smtp, address, subject, body))
    except Exception:  # noqa: BLE001 - logged: nothing else may tell the requester
        log.exception("could not email a sign-in link to %s", address)


def routes(api: Context) -> list[Route]:
    """The sign-in routes, bound to the API (Api.routes lists them)."""
    return [
        Route("/api/session", partial(open_session, api), methods=["POST"]),
        Route("/api/session", partial(close_session, api), methods=["DELETE"]),
        Route("/api/sessions", partial(list_sessions, api), methods=["GET"]),
        Route("/api/sessions", partial(end_other_sessions, api), methods=["DELETE"]),
        Route("/api/device-link", partial(device_link, api), methods=["POST"]),
        Route("/api/email-link", partial(email_link, api), methods=["POST"]),
        Route("/api/admin/invite", partial(reissue, api), methods=["POST"]),
    ]
