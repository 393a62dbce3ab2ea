"""The certificate of completion: an Open Badges 3.0 credential anyone can verify.

Sillon forces one path, so its certificate can say what a printed one cannot: this person took
every step in order, watched each video (at most at the course's speed cap) and passed every
quiz. It is an `OpenBadgeCredential` (a W3C Verifiable Credential) signed as a VC-JWT (RS256,
the proof every OB 3.0 verifier supports) with the issuer's key (api/jws.py), issued once: the
first `GET /api/certificate` after the last step makes it, every later one returns the same.

Anyone checks it without trusting a Sillon server's word: the static page /verify/ verifies
the signature in the browser with WebCrypto against the JWKS published at
/.well-known/jwks.json, and reads the revocation bit in the W3C Bitstring Status List served
at /api/certificates/status/1 (itself a signed credential). The teacher revokes through the
admin API, `python build.py certificates revoke` or the admin page; a revocation is for good.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from functools import partial
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import limits, sql
from .certificate_pdf import duration_words, render
from .clock import iso
from .context import Context
from .course import Course, StepInfo
from .errors import ApiError
from .issuer import (
    CONTEXTS,
    STATUS_LIST_SIZE,
    base_of,
    issuer_of,
    key_of,
    signed,
    status_list_url,
)
from .jws import payload_of
from .learner import Learner
from .pdf import available

SCHEMA = {
    "id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
    "type": "1EdTechJsonSchemaValidator2019",
}
ISSUE_TRIES = 8  # status indexes drawn before giving up (a list nearly full)

WORDS = {
    "fr": {
        "name": "Certificat de réussite : {title}",
        "criteria": (
            "A suivi chaque étape du cours dans l'ordre imposé, sans en sauter ni revenir en "
            "arrière, regardé chaque vidéo (au moins {share} % de chacune, à une vitesse d'au "
            "plus ×{rate}) et réussi chaque quiz."
        ),
        "course": "{steps} étapes suivies dans l'ordre, en {time} au total (version {version}).",
        "video": "Vidéo regardée à {share} % (vitesse plafonnée à ×{rate}), terminée le {day}.",
        "lesson": "Leçon lue, terminée le {day}.",
        "quiz": "Quiz : {first} % au premier essai, {final} % au dernier ({attempts} essai(s)), "
        "réussi le {day}.",
    },
    "en": {
        "name": "Certificate of completion: {title}",
        "criteria": (
            "Took every step of the course in the order set, never skipping ahead or going "
            "back, watched every video (at least {share}% of each, at most at {rate}x speed) "
            "and passed every quiz."
        ),
        "course": "{steps} steps taken in order, {time} in all (version {version}).",
        "video": "Video watched to {share}% (speed capped at {rate}x), finished on {day}.",
        "lesson": "Lesson read, finished on {day}.",
        "quiz": "Quiz: {first}% at the first try, {final}% at the last ({attempts} "
        "attempt(s)), passed on {day}.",
    },
}


def new_certificate_id() -> str:
    """A new certificate's id (the credential is urn:uuid:<id>); tests replace the four
    `new_*` draws, as api/auth.py's `new_learner_id`, to compare runs byte for byte."""
    return str(uuid.uuid4())


def new_subject_id() -> str:
    """The credentialSubject's id: a fresh urn:uuid, naming no one."""
    return str(uuid.uuid4())


def new_status_index() -> int:
    """A random bit of the revocation status list (one bit says little of whom)."""
    return secrets.randbelow(STATUS_LIST_SIZE)


def new_salt() -> str:
    """The salt of the hashed email in the credential."""
    return secrets.token_hex(16)


# -- evidence ------------------------------------------------------------------------------------


async def evidence(api: Context, learner: Learner, course: Course, base: str) -> list[Any]:
    """The course, then each step in path order: when it was finished, how long it was open,
    the share of each video watched, each quiz's first and final score."""
    words = WORDS.get(course.language, WORDS["en"])
    rows = (await api.db.execute(sql.evidence_completions(learner["id"]))).rows
    done = {r["step_id"]: r for r in rows}
    views = (await api.db.execute(sql.evidence_views(learner["id"]))).rows
    watched = {r["step_id"]: float(r["watched"]) for r in views}
    attempts: dict[str, list[dict[str, Any]]] = {}
    for attempt in (await api.db.execute(sql.evidence_attempts(learner["id"]))).rows:
        attempts.setdefault(attempt["step_id"], []).append(attempt)
    total = sum(float(r["seconds"] or 0) for r in rows)
    summary = {
        "id": base + "/",
        "type": ["Evidence"],
        "name": course.title,
        "genre": "course",
        "description": words["course"].format(
            steps=len(course.steps), time=duration_words(total), version=course.version[:12]
        ),
        "courseVersion": course.version,
        "steps": len(course.steps),
        "seconds": round(total),
        "playbackMaxRate": course.max_rate,
        "completion": course.completion,
    }
    return [summary] + [
        step_evidence(course, position, step, done.get(step.id), watched, attempts)
        for position, step in enumerate(course.steps, start=1)
    ]


def step_evidence(
    course: Course,
    position: int,
    step: StepInfo,
    row: dict[str, Any] | None,
    watched: dict[str, float],
    attempts: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """One step's evidence: its place, when it was finished, what was watched or scored."""
    words = WORDS.get(course.language, WORDS["en"])
    day = (row["completed_at"] if row else "")[:10]
    seconds = row["seconds"] if row else None
    entry: dict[str, Any] = {
        "type": ["Evidence"],
        "name": step.title,
        "genre": step.kind,
        "position": position,
        "stepId": step.id,
        "completedAt": row["completed_at"] if row else None,
        "seconds": round(float(seconds)) if seconds is not None else None,
    }
    if step.kind == "video":
        share = min(1.0, watched.get(step.id, 0.0) / step.duration) if step.duration else 1.0
        entry |= {"watchedShare": round(share, 4), "playbackMaxRate": course.max_rate}
        entry["description"] = words["video"].format(
            share=round(share * 100), rate=_rate(course.max_rate), day=day
        )
    elif step.kind == "quiz":
        tries = attempts.get(step.id, [])
        first = float(tries[0]["score"]) if tries else None
        final = float(tries[-1]["score"]) if tries else None
        entry |= {"firstScore": first, "finalScore": final, "attempts": len(tries)}
        entry["description"] = words["quiz"].format(
            first=_percent(first), final=_percent(final), attempts=len(tries), day=day
        )
    else:
        entry["description"] = words["lesson"].format(day=day)
    return entry


def _rate(rate: float) -> str:
    return f"{rate:g}"


def _percent(score: float | None) -> str:
    return "–" if score is None else f"{round(score * 100)}"


def identifiers(learner: Learner, salt: str) -> list[dict[str, Any]]:
    """The learner by name, and by a salted hash of their email (OB 3.0 IdentityObject)."""
    email = learner["email"].strip().lower()
    digest = hashlib.sha256((email + salt).encode("utf-8")).hexdigest()
    return [
        {
            "type": "IdentityObject",
            "identityHash": learner["name"],
            "identityType": "name",
            "hashed": False,
        },
        {
            "type": "IdentityObject",
            "identityHash": f"sha256${digest}",
            "identityType": "emailAddress",
            "hashed": True,
            "salt": salt,
        },
    ]


def achievement(course: Course, base: str) -> dict[str, Any]:
    """What was achieved: this course, at this version, and what finishing it asks."""
    words = WORDS.get(course.language, WORDS["en"])
    criteria = words["criteria"].format(
        share=round(course.completion * 100), rate=_rate(course.max_rate)
    )
    return {
        "id": f"{base}/#course",
        "type": ["Achievement"],
        "achievementType": "Course",
        "name": course.title,
        "description": course.description or course.title,
        "criteria": {"narrative": criteria},
        "inLanguage": course.language,
        "version": course.version,
    }


async def credential(
    api: Context,
    learner: Learner,
    course: Course,
    base: str,
    certificate_id: str,
    index: int,
    now: str,
) -> dict[str, Any]:
    """The OpenBadgeCredential document (unsigned)."""
    words = WORDS.get(course.language, WORDS["en"])
    proofs = await evidence(api, learner, course, base)
    finished = [e["completedAt"] for e in proofs[1:] if e.get("completedAt")]
    issuer = issuer_of(api, course, base)
    del issuer["@context"]
    return {
        "@context": CONTEXTS,
        "id": f"urn:uuid:{certificate_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer,
        "validFrom": now,
        "name": words["name"].format(title=course.title),
        "credentialSubject": {
            "id": f"urn:uuid:{new_subject_id()}",
            "type": ["AchievementSubject"],
            "identifier": identifiers(learner, new_salt()),
            "activityEndDate": max(finished) if finished else now,
            "achievement": achievement(course, base),
        },
        "evidence": proofs,
        "credentialStatus": {
            "id": f"{status_list_url(api, base)}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(index),
            "statusListCredential": status_list_url(api, base),
        },
        "credentialSchema": [SCHEMA],
    }


# -- issuing -------------------------------------------------------------------------------------


async def issue(api: Context, learner: Learner, course: Course, base: str) -> dict[str, Any]:
    """The learner's certificate row: the one already issued, or a new one (once, for good)."""
    found = (await api.db.execute(sql.certificate_of(learner["id"]))).first()
    if found is not None:
        return found
    if learner["open_step"] is not None:
        raise ApiError(
            409, "not_finished", "The certificate comes when the course is finished: go on."
        )
    key = key_of(api)
    for _ in range(ISSUE_TRIES):
        certificate_id, index = new_certificate_id(), new_status_index()
        now = iso(api.clock())
        document = await credential(api, learner, course, base, certificate_id, index, now)
        compact = signed(key, document, base)
        await api.db.batch(
            [
                sql.issue_certificate(
                    certificate_id, learner["id"], index, course.version, compact, now
                )
            ]
        )
        found = (await api.db.execute(sql.certificate_of(learner["id"]))).first()
        if found is not None:  # ours, or the one a simultaneous request issued first
            return found
    raise ApiError(503, "status_list_full", "No free revocation index: try again.")


def answer(row: dict[str, Any], base: str, course: Course, issuer: str) -> dict[str, Any]:
    """What the learner gets: the signed credential, its decoded document and where to go."""
    document = {
        k: v
        for k, v in payload_of(row["credential"]).items()
        if k not in ("iss", "jti", "nbf", "sub")
    }
    verify = f"{base}/verify/#id={row['id']}"
    issued = row["issued_at"]
    linkedin = "https://www.linkedin.com/profile/add?" + urlencode(
        {
            "startTask": "CERTIFICATION_NAME",
            "name": document["name"],
            "organizationName": issuer,
            "issueYear": issued[:4],
            "issueMonth": str(int(issued[5:7])),
            "certUrl": verify,
            "certId": row["id"],
        }
    )
    return {
        "id": row["id"],
        "credential": row["credential"],
        "document": document,
        "issuedAt": issued,
        "revokedAt": row["revoked_at"],
        "verifyUrl": verify,
        "pdfUrl": f"{base}/api/certificate.pdf" if available() else None,
        "linkedinUrl": linkedin,
    }


async def my_certificate(api: Context, request: Request) -> Response:
    """GET /api/certificate: yours once the course is finished (409 `not_finished` before)."""
    learner, course = await api.placed(request)
    base = base_of(api, request)
    row = await issue(api, learner, course, base)
    issuer = issuer_of(api, course, base)["name"]
    return JSONResponse(answer(row, base, course, issuer), headers={"Cache-Control": "no-store"})


async def my_certificate_pdf(api: Context, request: Request) -> Response:
    """GET /api/certificate.pdf: the one-page PDF with its QR code to the verify page."""
    learner, course = await api.placed(request)
    base = base_of(api, request)
    row = await issue(api, learner, course, base)
    shown = answer(row, base, course, issuer_of(api, course, base)["name"])
    pdf = render(shown, course.language)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="certificate-{row["id"][:8]}.pdf"',
            "Cache-Control": "no-store",
        },
    )


async def public_certificate(api: Context, request: Request) -> Response:
    """GET /api/certificates/<id>: the signed credential, for the verify page's short links
    (the id is random; whoever has it was given it). The signature, not this answer, is what
    the page trusts."""
    api.limit(request, limits.EVENTS)
    row = (await api.db.execute(sql.certificate_by_id(request.path_params["id"]))).first()
    if row is None:
        raise ApiError(404, "unknown_certificate", "No certificate has this id.")
    return JSONResponse({"id": row["id"], "credential": row["credential"]})


def routes(api: Context) -> list[Route]:
    """The certificate's routes, bound to the API (Api.routes lists them)."""
    return [
        Route("/api/certificate", partial(my_certificate, api), methods=["GET"]),
        Route("/api/certificate.pdf", partial(my_certificate_pdf, api), methods=["GET"]),
        Route("/api/certificates/{id}", partial(public_certificate, api), methods=["GET"]),
    ]
