"""Certificates as signed, machine-verifiable credentials (W3C VC 2.0 / Open Badges 3.0).

A certificate is issued as a VC-JWT: the credential JSON is the JWT's claims, signed
with the platform's Ed25519 key (JOSE `EdDSA`, PyJWT over `cryptography`). Anyone can
check it with the public key published at `/.well-known/jwks.json` (and in the did:web
document at `/.well-known/did.json`); nothing secret is needed to verify. Why a JWT
rather than a Data Integrity proof: JOSE needs no JSON-LD canonicalisation (which would
mean fetching contexts over the network), and PyJWT is already a pinned dependency.

The key comes from `RECORD_SIGNING_KEY` (32 bytes, base64url); without it, it is derived
from SECRET_KEY, so the demo and tests have a stable key and production can set one
that outlives a SECRET_KEY rotation.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings

CONTEXTS = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@lru_cache(maxsize=4)
def _private_key(configured: str, secret_key: str) -> Ed25519PrivateKey:
    if configured:
        seed = base64.urlsafe_b64decode(configured + "=" * (-len(configured) % 4))
        if len(seed) != 32:
            raise ValueError("RECORD_SIGNING_KEY must be 32 bytes, base64url-encoded.")
    else:
        seed = hashlib.sha256(b"openrounds-record-signing-key:" + secret_key.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key() -> Ed25519PrivateKey:
    return _private_key(settings.RECORD_SIGNING_KEY, settings.SECRET_KEY)


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def _public_raw() -> bytes:
    return public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id() -> str:
    """The key's RFC 7638 thumbprint: changes when the key does, so old JWTs name their key."""
    canonical = '{"crv":"Ed25519","kty":"OKP","x":"%s"}' % _b64url(_public_raw())
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk() -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(_public_raw()), "kid": key_id(), "alg": "EdDSA", "use": "sig"}


def issuer_id() -> str:
    """`did:web:<host>` of the site (SITE_URL; localhost in the demo)."""
    host = urlsplit(settings.SITE_URL).netloc if settings.SITE_URL else "localhost"
    return "did:web:" + host.replace(":", "%3A")


def did_document() -> dict[str, Any]:
    """The did:web document that publishes the public key (served at /.well-known/did.json)."""
    did = issuer_id()
    method = f"{did}#{key_id()}"
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
        "id": did,
        "verificationMethod": [{"id": method, "type": "JsonWebKey2020", "controller": did, "publicKeyJwk": public_jwk()}],
        "assertionMethod": [method],
    }


def credential_build(
    *, certificate_id: str, holder_name: str, title: str, description: str, issuer_name: str,
    issued_at: datetime, achievement_type: str,
) -> dict[str, Any]:
    """An Open Badges 3.0 OpenBadgeCredential (a W3C Verifiable Credential 2.0)."""
    return {
        "@context": CONTEXTS,
        "id": f"urn:uuid:{certificate_id}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer_id(), "type": ["Profile"], "name": issuer_name},
        "validFrom": issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "name": title,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": holder_name,
            "achievement": {
                "id": f"urn:uuid:{certificate_id}#achievement",
                "type": ["Achievement"],
                "achievementType": achievement_type,
                "name": title,
                "description": description,
                "criteria": {"narrative": description},
            },
        },
    }


def credential_sign(credential: dict[str, Any]) -> str:
    """The credential as a compact VC-JWT (JOSE header typ vc+jwt, alg EdDSA)."""
    return jwt.encode(
        credential, signing_key(), algorithm="EdDSA",
        headers={"typ": "vc+jwt", "cty": "vc", "kid": key_id()},
    )


class CredentialInvalid(Exception):
    """The token is not a credential this platform signed (tampered, other key, malformed)."""


def credential_verify(token: str) -> dict[str, Any]:
    """The credential inside `token` if the platform's key signed it exactly; else raises.

    Only EdDSA is accepted (never `none` or an HMAC algorithm chosen by the token).
    """
    try:
        header = jwt.get_unverified_header(token)
        if header.get("kid") != key_id():
            raise CredentialInvalid("signed with another key")
        claims = jwt.decode(token, public_key(), algorithms=["EdDSA"], options={"require": []})
    except CredentialInvalid:
        raise
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise CredentialInvalid(str(error)) from error
    if "OpenBadgeCredential" not in (claims.get("type") or []) or not str(claims.get("id", "")).startswith("urn:uuid:"):
        raise CredentialInvalid("not an OpenRounds certificate")
    return claims
