"""The demo seed: chikondi waits for a supervisor, mensah is on the roster, a past consult is signed."""

from __future__ import annotations

import io

import pytest

from sessions.consults import demo, selectors
from sessions.consults.audit import audit_verify
from sessions.models import ConsultNote, ConsultRequest, SupervisorRoster

pytestmark = pytest.mark.django_db


def test_demo_seed_is_complete_and_idempotent(people):
    demo.seed(io.StringIO())
    demo.seed(io.StringIO())
    assert SupervisorRoster.objects.get(supervisor=people.mensah).is_active
    pending = ConsultRequest.objects.get(trainee=people.chikondi, status="requested")
    assert pending in selectors.consult_requests_matching(supervisor=people.mensah)
    past = ConsultRequest.objects.get(status="completed")
    note = ConsultNote.objects.get(consult=past)
    assert note.is_signed and note.signed_by == people.mensah and note.addenda.count() == 1
    assert ConsultRequest.objects.count() == 2
    assert audit_verify().ok
