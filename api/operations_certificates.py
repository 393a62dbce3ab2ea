"""The certificate's operations (api/certificates.py), declared like every other
(api/operations.py lists them in OPERATIONS); apart only to keep each module short."""

from __future__ import annotations

from .body import Body, Field, Params
from .openapi import ADMIN, LEARNER, Operation, Reply, array, nullable, obj, ok, typed

REVOKE = Body(
    Field("reason", required=False, max_length=500, help="why, for the teacher's records"),
)
CERTIFICATE_ID = Params(
    Field("id", help="the certificate's id", checked_by="certificates"), location="path"
)

LISTED = obj(
    id=str,
    userId=str,
    name=(str, None),
    email=(str, None),
    teamId=(str, None),
    courseVersion=str,
    issuedAt=str,
    revokedAt=(str, None),
    reason=(str, None),
)
MINE = obj(
    id=str,
    credential=typed(str, "the signed credential: a compact JWS (VC-JWT, RS256)"),
    document=typed(dict, "the decoded OpenBadgeCredential"),
    issuedAt=str,
    revokedAt=(str, None),
    verifyUrl=typed(str, "the verify page, checking this credential in the browser"),
    pdfUrl=nullable(typed(str, "the one-page PDF (null on the Worker: no WeasyPrint there)")),
    linkedinUrl=typed(str, "LinkedIn's 'add to profile' link"),
)

CERTIFICATE_OPERATIONS = (
    Operation(
        "GET",
        "/api/certificate",
        "Your certificate of completion, issued once when the course is finished",
        LEARNER,
        replies=ok(MINE),
        errors=(401, 409, 503),
    ),
    Operation(
        "GET",
        "/api/certificate.pdf",
        "Your certificate as a one-page PDF with a QR code to its verify page",
        LEARNER,
        replies=(Reply(200, "PDF", typed(str), "application/pdf"),),
        errors=(401, 409, 503),
    ),
    Operation(
        "GET",
        "/api/certificates/status/1",
        "The revocation list: a signed W3C BitstringStatusListCredential (VC-JWT)",
        replies=(Reply(200, "Compact JWS", typed(str), "application/vc+jwt"),),
        errors=(503,),
    ),
    Operation(
        "GET",
        "/api/certificates/{id}",
        "A certificate's signed credential, by its id (the verify page's short links)",
        in_path=CERTIFICATE_ID,
        replies=ok(obj(id=str, credential=str)),
        errors=(404,),
    ),
    Operation(
        "GET",
        "/api/admin/certificates",
        "Every certificate issued, newest first (admin)",
        ADMIN,
        replies=ok(obj(certificates=array(LISTED))),
        errors=(401, 403),
    ),
    Operation(
        "POST",
        "/api/admin/certificates/{id}/revoke",
        "Revoke a certificate, for good (admin); the status list says so at once",
        ADMIN,
        REVOKE,
        in_path=CERTIFICATE_ID,
        replies=ok(LISTED),
        errors=(401, 403, 404, 409),
    ),
    Operation(
        "GET",
        "/.well-known/jwks.json",
        "The issuer's public keys (JWKS) that certificates verify against",
        replies=ok(obj(keys=array(dict))),
        errors=(503,),
    ),
    Operation(
        "GET",
        "/.well-known/issuer.json",
        "The issuer's Open Badges profile",
        replies=ok(obj(id=str, type=array(str), name=str, url=str)),
        errors=(503,),
    ),
)
