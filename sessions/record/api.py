"""The learning record as JSON, at /api/record/.

- `POST /api/record/verify` — public: `{"credential": "<VC-JWT>"}` → whether OpenRounds
  signed it, unchanged, and whether it is revoked (`status`: genuine, revoked, tampered,
  unknown; `valid` is true only for genuine). No sign-in needed.
- `GET /api/record/certificates/{id}` — public: the same check by the certificate's id.
- `GET /api/record/certificates` — my certificates (session or personal token).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Router, Schema

from server.people.http import AuthenticatedHttpRequest

from . import selectors

router = Router()


class CredentialIn(Schema):
    credential: str = Field(max_length=20000)


class VerificationOut(Schema):
    status: str
    valid: bool
    certificate: dict[str, Any] | None = None


class CertificateOut(Schema):
    id: str
    title: str
    kind: str
    school: str
    issued_at: dt.datetime
    revoked: bool
    jwt: str


@router.post("/verify", auth=None, response=VerificationOut)
def verify_credential(request, payload: CredentialIn):
    return selectors.certificate_verify_credential(token=payload.credential.strip()).as_json()


@router.get("/certificates/{certificate_id}", auth=None, response=VerificationOut)
def verify_certificate(request, certificate_id: str):
    return selectors.certificate_verify_id(certificate_id=certificate_id).as_json()


@router.get("/certificates", response=list[CertificateOut])
def my_certificates(request: AuthenticatedHttpRequest):
    return [
        {"id": str(c.pk), "title": c.title, "kind": c.kind, "school": c.institution.name, "issued_at": c.issued_at,
         "revoked": c.revoked_at is not None, "jwt": c.credential}
        for c in selectors.certificates_of(user=request.user)
    ]
