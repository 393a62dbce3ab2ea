"""The issuer's key and RS256 compact JWS: what signs certificates (api/certificates.py).

Open Badges 3.0's VC-JWT proof requires RS256 of every verifier, so that is what Sillon signs
with. The signature is made by `rsa` (python-rsa: RSASSA-PKCS1-v1_5, pure Python), not by
`cryptography`: the Cloudflare Worker runs only pure-Python packages (ops/worker.py vendors
them), and one signer on both runtimes means the Worker signs exactly as serve does.

The key comes from SILLON_ISSUER_KEY (the environment, or `wrangler secret put`): a PKCS#1 RSA
private key in PEM, as is or base64-encoded on one line (`python build.py issuer-key` makes
one). The public half is published as a JWKS; its `kid` is the key's RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import rsa

KEY_ENV = "SILLON_ISSUER_KEY"
MIN_BITS = 2048  # RFC 7518 3.3: RS256 keys of 2048 bits or more
# The PEM armour of an RSA private key: PKCS#1 (RSA's own) or PKCS#8 (any algorithm's).
PKCS1_BEGIN, PKCS8_BEGIN = (f"-----BEGIN {label} KEY-----" for label in ("RSA PRIVATE", "PRIVATE"))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class IssuerKey:
    """The issuer's RSA key: signs, and says its public half as a JWK."""

    private: rsa.PrivateKey

    @classmethod
    def from_text(cls, raw: str) -> IssuerKey:
        """The key from its PEM, or from the PEM base64-encoded (ValueError when neither)."""
        text = raw.strip()
        if "-----BEGIN" not in text:
            try:
                text = base64.b64decode(text, validate=True).decode("ascii")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                text = ""
        return cls.from_pem(text, KEY_ENV)

    @classmethod
    def from_pem(cls, text: str, name: str) -> IssuerKey:
        """An RSA private key from its PEM, PKCS#1 (PKCS1_BEGIN) or PKCS#8 (PKCS8_BEGIN); a
        ValueError naming `name` (where it came from) otherwise."""
        if PKCS1_BEGIN not in text and PKCS8_BEGIN not in text:
            raise ValueError(
                f"{name} is neither an RSA private key in PEM nor one base64-encoded "
                "(`python build.py issuer-key` makes one)"
            )
        try:
            if PKCS1_BEGIN in text:
                private = rsa.PrivateKey.load_pkcs1(text.encode("ascii"), "PEM")
            else:
                private = rsa.PrivateKey.load_pkcs1(_pkcs8_inner(text), "DER")
        except Exception as exc:  # pyasn1 and rsa raise several kinds for a damaged key
            raise ValueError(f"{name} is not a readable RSA private key ({exc})") from None
        agree = pow(pow(2, private.e, private.n), private.d, private.n) == 2
        if private.p * private.q != private.n or not agree:
            raise ValueError(f"{name} is not a readable RSA private key (its numbers disagree)")
        if private.n.bit_length() < MIN_BITS:
            raise ValueError(f"{name} has {private.n.bit_length()} bits: RS256 needs 2048+")
        return cls(private)

    @classmethod
    def generate(cls, bits: int = 3072) -> IssuerKey:
        """A new key, made by `cryptography` (installed with PyJWT's crypto extra: milliseconds
        where pure-Python `rsa` takes 12 s for 3072 bits); only operators make keys, never the
        Worker."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

        made = rsa_keys.generate_private_key(public_exponent=65537, key_size=bits)
        pem = made.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1 for an RSA key
            serialization.NoEncryption(),
        )
        return cls.from_text(pem.decode("ascii"))

    def pem(self) -> str:
        return self.private.save_pkcs1("PEM").decode("ascii")

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK with its thumbprint as `kid`: never `d` or the primes."""
        members = {"e": _int(self.private.e), "kty": "RSA", "n": _int(self.private.n)}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
        thumbprint = b64url(hashlib.sha256(canonical.encode("ascii")).digest())
        return {**members, "alg": "RS256", "use": "sig", "kid": thumbprint}

    @property
    def thumbprint(self) -> str:
        return self.public_jwk()["kid"]

    def sign(self, payload: dict[str, Any], header: dict[str, Any]) -> str:
        """The compact JWS of `payload` (JSON, UTF-8) under `header`, alg RS256."""
        head = b64url(json.dumps({**header, "alg": "RS256"}, separators=(",", ":")).encode())
        body = b64url(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
        signing_input = f"{head}.{body}".encode("ascii")
        signature = rsa.sign(signing_input, self.private, "SHA-256")
        return f"{head}.{body}.{b64url(signature)}"


RSA_ENCRYPTION = "1.2.840.113549.1.1.1"


def _pkcs8_inner(text: str) -> bytes:
    """The PKCS#1 key inside a PKCS#8 PEM (PrivateKeyInfo: version, algorithm, key octets)."""
    from pyasn1.codec.der import decoder

    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    info, _ = decoder.decode(base64.b64decode(body))
    if str(info[1][0]) != RSA_ENCRYPTION:
        raise ValueError(f"a {info[1][0]} key, not RSA")
    return bytes(info[2])


def payload_of(compact: str) -> dict[str, Any]:
    """The payload of a compact JWS this server issued (no check: it comes from the database)."""
    value: dict[str, Any] = json.loads(b64url_decode(compact.split(".")[1]))
    return value
