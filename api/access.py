"""Optional Cloudflare Access mode: the learner is the person Access signed in.

Behind Cloudflare Access every request carries `Cf-Access-Jwt-Assertion`, an RS256 JWT signed
with the team's keys. Cloudflare's rules ("Validate JWTs" in the Zero Trust docs): check the
signature against the keys published at `https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`
(never a hard-coded key: they rotate every 6 weeks, the previous one stays listed for 7 days),
`aud` must contain the application's AUD tag, `iss` must be the team domain, and the time claims
must hold, with a little leeway for clock skew. The mode is off unless both env vars are set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from .errors import ApiError

HEADER = "Cf-Access-Jwt-Assertion"
TEAM_DOMAIN_ENV = "SILLON_ACCESS_TEAM_DOMAIN"
AUDIENCE_ENV = "SILLON_ACCESS_AUD"
ALGORITHM = "RS256"
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "email"]
FETCH_TIMEOUT = 10.0

_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "Your Cloudflare Access session has expired: sign in again."),
    (jwt.ImmatureSignatureError, "The Cloudflare Access token is not valid yet (server clock?)."),
    (jwt.InvalidAudienceError, "The Cloudflare Access token was issued for another application."),
    (jwt.InvalidIssuerError, "The Cloudflare Access token was issued by another team."),
    (jwt.InvalidAlgorithmError, "The Cloudflare Access token must be signed with RS256."),
    (jwt.InvalidSignatureError, "The Cloudflare Access token's signature does not verify."),
)


@dataclass(frozen=True)
class AccessConfig:
    """One Access application: its team domain (`myteam.cloudflareaccess.com`) and AUD tag."""

    team_domain: str
    audience: str
    certs_url: str | None = None  # overrides the team's JWKS URL (tests, staging)
    leeway: int = 30  # seconds of clock skew allowed on exp / nbf / iat

    def __post_init__(self) -> None:
        host = self.host
        if not host or any(c in host for c in "/:@ ") or not self.audience.strip():
            raise ValueError(
                f"Cloudflare Access needs a team domain like 'myteam.cloudflareaccess.com' "
                f"and a non-empty AUD tag (got {self.team_domain!r})."
            )

    @property
    def host(self) -> str:
        return self.team_domain.strip().removeprefix("https://").rstrip("/")

    @property
    def issuer(self) -> str:
        return f"https://{self.host}"

    @property
    def jwks_url(self) -> str:
        return self.certs_url or f"{self.issuer}/cdn-cgi/access/certs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AccessConfig | None:
        """None (the default: mode off) unless both variables are set; one alone is an error."""
        team = environ.get(TEAM_DOMAIN_ENV, "").strip()
        audience = environ.get(AUDIENCE_ENV, "").strip()
        if not team and not audience:
            return None
        if not team or not audience:
            missing = TEAM_DOMAIN_ENV if not team else AUDIENCE_ENV
            raise ValueError(
                f"Cloudflare Access mode is half-configured: {missing} is not set "
                f"(set both {TEAM_DOMAIN_ENV} and {AUDIENCE_ENV}, or neither)."
            )
        return cls(team_domain=team, audience=audience)


class AccessVerifier:
    """Turns a `Cf-Access-Jwt-Assertion` into the learner's email, or raises ApiError.

    Blocking: a JWKS fetch goes through urllib. Keys are cached (the signing key per `kid`
    without expiry, the whole set for `lifespan` seconds), so the usual call is pure CPU; an
    async caller that cannot accept an occasional fetch (first request, key rotation) should run
    `email` in a thread (`starlette.concurrency.run_in_threadpool`). An unknown `kid` forces one
    refresh of the set, at most once per `refresh_cooldown` seconds so forged `kid`s cannot
    turn into a flood of requests to Cloudflare.
    """

    def __init__(
        self, config: AccessConfig, *, lifespan: float = 300.0, refresh_cooldown: float = 30.0
    ) -> None:
        self.config = config
        self._keys = jwt.PyJWKClient(
            config.jwks_url,
            cache_keys=True,
            lifespan=lifespan,
            timeout=FETCH_TIMEOUT,
            cooldown_duration=refresh_cooldown,
        )

    def email(self, token: str) -> str:
        """Verify the token (RS256 signature, aud, iss, exp, nbf, iat) and return its email."""
        key = self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise _denied(f"The Cloudflare Access token has no '{exc.claim}' claim.") from exc
        except jwt.PyJWTError as exc:
            reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), None)
            raise _denied(reason or "The Cloudflare Access token is invalid.") from exc
        email = claims["email"]
        if not isinstance(email, str) or "@" not in email:
            raise _denied("The Cloudflare Access token carries no usable email address.")
        return email.strip().lower()

    def _signing_key(self, token: str) -> jwt.PyJWK:
        """The published key named by the token's `kid`, checked to be an RS256 token first."""
        if not token:
            raise _denied("This request carries no Cloudflare Access token.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _denied("The Cloudflare Access token is malformed.") from exc
        if header.get("alg") != ALGORITHM:
            raise _denied("The Cloudflare Access token must be signed with RS256.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _denied("The Cloudflare Access token does not name its signing key.")
        try:
            return self._keys.get_signing_key(kid)
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, ValueError) as exc:
            raise ApiError(
                503,
                "access_unavailable",
                "Cloudflare Access signing keys cannot be fetched right now; try again shortly.",
            ) from exc
        except jwt.PyJWKClientError as exc:
            raise _denied(
                "The Cloudflare Access token is signed by a key Access does not publish."
            ) from exc


def _denied(message: str) -> ApiError:
    return ApiError(401, "access_denied", message)
