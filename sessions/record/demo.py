"""Demo certificates: every demo school certifies its lectures and case conferences at 75%
presence, and the past demo sessions' attendance earns what it earns (idempotent)."""

from __future__ import annotations

from typing import TextIO

from server.people.models import Institution
from sessions.models import CertificateRule, SessionKind

from .services import certificates_backfill


def seed(stdout: TextIO) -> None:
    for institution in Institution.objects.all():
        for kind in (SessionKind.LECTURE, SessionKind.CASE_CONFERENCE, SessionKind.PEER):
            CertificateRule.objects.get_or_create(institution=institution, session_kind=kind, course=None,
                                                  defaults={"min_presence_percent": 75})
    stdout.write(f"Record: {certificates_backfill()} certificates issued from past sessions.\n")
