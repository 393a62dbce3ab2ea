"""The issuer: its key and profile as published, the revocation status list, revocation.

What a verifier fetches (api/certificates.py signs with it): the public key as a JWKS at
/.well-known/jwks.json (its `kid` the key's thumbprint), the Open Badges issuer Profile at
/.well-known/issuer.json, and the W3C Bitstring Status List at /api/certificates/status/1, a
credential itself signed. The teacher revokes a certificate (the admin API here, `python
build.py certificates revoke`, the admin page), for good: its bit in the list is set at once.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import auth, limits, sql
from .clock import iso
from .context import Context
from .course import Course
from .errors import ApiError
from .jws import IssuerKey, b64url
from .operations_certificates import REVOKE

CONTEXTS = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
STATUS_LIST_SIZE = 131_072  # bits: the W3C minimum (16 KB), so one bit says little of whom
STATUS_LIST = "/api/certificates/status/1"
JWKS_PATH, ISSUER_PATH = "/.well-known/jwks.json", "/.well-known/issuer.json"


def base_of(api: Context, request: Request) -> str:
    """The site's public address: SILLON_BASE_URL, else the request's own."""
    return (api.settings.base_url or str(request.base_url)).rstrip("/")


def issuer_of(api: Context, course: Course, base: str) -> dict[str, Any]:
    """The issuer's Open Badges Profile, published at /.well-known/issuer.json."""
    name = api.settings.issuer_name or course.author or course.title
    return {
        "@context": CONTEXTS,
        "id": base + ISSUER_PATH,
        "type": ["Profile"],
        "name": name,
        "url": base + "/",
    }


def key_of(api: Context) -> IssuerKey:
    if api.settings.issuer_key is None:
        raise ApiError(
            503,
            "certificates_off",
            "This server issues no certificates yet: its SILLON_ISSUER_KEY is not set.",
        )
    return api.settings.issuer_key


def header(key: IssuerKey, base: str) -> dict[str, str]:
    """OB 3.0's JOSE header: `kid` a URI that dereferences to the public JWK."""
    return {"kid": f"{base}{JWKS_PATH}#{key.thumbprint}", "typ": "JWT"}


def signed(key: IssuerKey, document: dict[str, Any], base: str) -> str:
    """The VC-JWT: the credential with OB 3.0's claims (iss, jti, nbf, sub), signed."""
    issuer = document["issuer"]
    claims = {
        **document,
        "iss": issuer["id"] if isinstance(issuer, dict) else issuer,
        "jti": document["id"],
        "nbf": int(datetime.fromisoformat(document["validFrom"]).timestamp()),
        "sub": document["credentialSubject"]["id"],
    }
    return key.sign(claims, header(key, base))


# -- the status list -----------------------------------------------------------------------------


def encoded_list(indexes: list[int]) -> str:
    """The W3C Bitstring Status List: bit i is the i-th bit from the left (most significant
    first), GZIP-compressed, multibase base64url ('u', no padding)."""
    bits = bytearray(STATUS_LIST_SIZE // 8)
    for i in indexes:
        bits[i // 8] |= 0x80 >> (i % 8)
    zipped = bytearray(gzip.compress(bytes(bits), mtime=0))
    zipped[9] = 255  # the header's OS byte: 3 from Python 3.11, 255 from 3.13 (the Worker's)
    return "u" + b64url(bytes(zipped))


def status_list_url(api: Context, base: str) -> str:
    """This cohort's revocation list: of several cohorts, `?cohort=` says whose (each keeps its
    own list, in its own database; api/cohorts.py routes by it)."""
    cohort = api.settings.cohort
    return base + STATUS_LIST + (f"?cohort={cohort}" if cohort else "")


def status_credential(
    api: Context, key: IssuerKey, base: str, issuer: str, indexes: list[int], now: str
) -> str:
    """The signed BitstringStatusListCredential, made again only when a bit changes (kept by
    the API object: per process on serve, per isolate on the Worker)."""
    cache_key = (key.thumbprint, base, issuer, tuple(indexes))
    cache = api.status_lists
    if cache_key not in cache:
        url = status_list_url(api, base)
        document = {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": issuer,
            "validFrom": now,
            "credentialSubject": {
                "id": url + "#list",
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
                "encodedList": encoded_list(indexes),
            },
        }
        cache.clear()
        cache[cache_key] = signed(key, document, base)
    return cache[cache_key]


# -- routes: what the issuer publishes, and revocation ---------------------------------------------


async def status_list(api: Context, request: Request) -> Response:
    """GET /api/certificates/status/1: the revocation list, a signed credential (VC-JWT)."""
    key = key_of(api)
    base = base_of(api, request)
    indexes = [int(r["status_index"]) for r in (await api.db.execute(sql.revoked_indexes())).rows]
    issuer = base + ISSUER_PATH
    compact = status_credential(api, key, base, issuer, indexes, iso(api.clock()))
    return Response(compact, media_type="application/vc+jwt", headers={"Cache-Control": "no-cache"})


async def jwks(api: Context, request: Request) -> Response:
    """GET /.well-known/jwks.json: the issuer's public key (never its private parts)."""
    key = key_of(api)
    return JSONResponse({"keys": [key.public_jwk()]}, headers=_PUBLIC)


async def issuer_profile(api: Context, request: Request) -> Response:
    """GET /.well-known/issuer.json: the issuer's Open Badges profile."""
    key_of(api)
    course = await api.learning.course()
    return JSONResponse(issuer_of(api, course, base_of(api, request)), headers=_PUBLIC)


_PUBLIC = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}


async def listed(api: Context, request: Request) -> Response:
    """GET /api/admin/certificates: every certificate, newest first (teacher)."""
    auth.require_admin(request, api.settings.admin_token)
    api.limit(request, limits.ADMIN)
    rows = (await api.db.execute(sql.certificates_listed())).rows
    return JSONResponse({"certificates": [listed_row(r) for r in rows]})


def listed_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "userId": row["learner_id"],
        "name": row["name"],
        "email": row["email"],
        "teamId": row["team_id"],
        "courseVersion": row["course_version"],
        "issuedAt": row["issued_at"],
        "revokedAt": row["revoked_at"],
        "reason": row["revoked_reason"],
    }


async def revoke(api: Context, request: Request) -> Response:
    """POST /api/admin/certificates/<id>/revoke: for good (409 when it already is)."""
    auth.require_admin(request, api.settings.admin_token)
    api.limit(request, limits.ADMIN)
    reason = (await REVOKE.read(request)).data.get("reason") or ""
    revoked = await revoke_certificate(api, request.path_params["id"], reason)
    return JSONResponse(listed_row(revoked))


async def revoke_certificate(api: Context, certificate_id: str, reason: str) -> dict[str, Any]:
    """Set the certificate's revocation bit (the API and `build.py certificates revoke`)."""
    now = iso(api.clock())
    done = await api.db.batch([sql.revoke_certificate(certificate_id, now, reason)])
    rows = (await api.db.execute(sql.certificates_listed())).rows
    row = next((r for r in rows if r["id"] == certificate_id), None)
    if row is None:
        raise ApiError(404, "unknown_certificate", f"No certificate '{certificate_id}'.")
    if done[0].changes == 0:
        raise ApiError(
            409,
            "already_revoked",
            f"Certificate '{certificate_id}' was revoked on {row['revoked_at']}.",
        )
    return row


def routes(api: Context) -> list[Route]:
    """The issuer's routes, bound to the API (Api.routes lists them)."""
    return [
        Route(STATUS_LIST, partial(status_list, api), methods=["GET"]),
        Route("/api/admin/certificates", partial(listed, api), methods=["GET"]),
        Route("/api/admin/certificates/{id}/revoke", partial(revoke, api), methods=["POST"]),
        Route(JWKS_PATH, partial(jwks, api), methods=["GET"]),
        Route(ISSUER_PATH, partial(issuer_profile, api), methods=["GET"]),
    ]
