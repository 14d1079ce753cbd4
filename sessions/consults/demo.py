"""Demo data of consults for `seed_demo`; safe to run again.

Dr. Mensah is on the roster (paediatrics, internal medicine, infectious diseases; English);
Chikondi has a pending request; and one past consult (Mphatso, supervised by Dr. Mensah)
has consent, a signed note and an addendum. Everything goes through the services, so the
audit log of the demo is a real, verifiable chain. The texts are invented.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from server.people.models import User
from sessions.models import ConsultRequest, ConsultStatus, LiveSession

from . import services

PENDING_REASON = "Child with fever for three days and a new rash; unsure whether to refer."
PAST_REASON = "Adult with productive cough and weight loss; TB work-up and treatment plan."


def seed(stdout: TextIO) -> None:
    """Create this part's demo rows (once)."""
    mensah = User.objects.filter(username="mensah").first()
    chikondi = User.objects.filter(username="chikondi").first()
    mphatso = User.objects.filter(username="mphatso").first()
    if mensah is None or chikondi is None:
        stdout.write("consults: demo people missing; run the people seed first.")
        return
    with transaction.atomic():
        roster = services.roster_update(supervisor=mensah, specialties=["Paediatrics", "Internal medicine", "Infectious diseases"],
                                        languages=["en"], is_active=True)
        if not roster.windows.exists():
            for weekday in range(5):
                services.roster_window_add(supervisor=mensah, weekday=weekday, starts=time(8, 0), ends=time(17, 0))
        if not ConsultRequest.objects.filter(trainee=chikondi, reason=PENDING_REASON).exists():
            services.consult_request_create(trainee=chikondi, specialty="Paediatrics", urgency="soon", language="en",
                                            reason=PENDING_REASON)
        trainee = mphatso or chikondi
        if not ConsultRequest.objects.filter(trainee=trainee, reason=PAST_REASON).exists():
            _past_consult(trainee=trainee, supervisor=mensah)
    stdout.write("consults: roster, a pending request and a past signed consult ready.")


def _past_consult(*, trainee: User, supervisor: User) -> None:
    consult = services.consult_request_create(trainee=trainee, specialty="Internal medicine", urgency="routine",
                                              language="en", reason=PAST_REASON)
    consult = services.consult_accept(supervisor=supervisor, consult=consult)
    services.consent_record(by=trainee, consult=consult, consult_given=True, recording_given=False,
                            teaching_given=True, language="ny")
    services.note_update(by=trainee, consult=consult, changes={
        "subjective": "Productive cough for six weeks, night sweats, about 5 kg weight loss. No known HIV test in the past year.",
        "objective": "Thin, afebrile at rest. Crackles at the right apex. SpO2 95% on air.",
        "assessment": "Probable pulmonary tuberculosis.",
        "plan": "Two sputum samples for GeneXpert, HIV test with counselling, chest X-ray if available. Review with results.",
    })
    services.note_comment(by=supervisor, consult=consult,
                          text="Good history. Screen the household contacts and start isoniazid preventive therapy where indicated.")
    services.note_sign(by=supervisor, consult=consult)
    services.note_addendum_add(by=trainee, consult=consult, text="GeneXpert positive, rifampicin resistance not detected. 2HRZE started.")
    services.consult_complete(by=supervisor, consult=consult)
    # Move the consult into last week (demo only: the audit log keeps the real times).
    past = timezone.now() - timedelta(days=6)
    LiveSession.objects.filter(pk=consult.session_id).update(starts_at=past, ends_at=past + timedelta(hours=1))  # type: ignore[misc]  # accepted: has one
    ConsultRequest.objects.filter(pk=consult.pk).update(requested_at=past - timedelta(hours=2), accepted_at=past,
                                                         scheduled_for=past, closed_at=past + timedelta(hours=1),
                                                         status=ConsultStatus.COMPLETED)
