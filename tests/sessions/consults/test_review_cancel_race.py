"""Review finding: `consult_cancel` wrote the status from the caller's copy of the consult
without locking it. A trainee cancelling while a supervisor accepted left the consult
"cancelled" but its live session scheduled (the copy knew no session)."""

from __future__ import annotations

from sessions.consults import services
from sessions.models import ConsultRequest, LiveSession, SessionStatus


def test_cancel_with_a_copy_from_before_the_accept_also_cancels_the_session(people, pending):
    stale = ConsultRequest.objects.get(pk=pending.pk)  # the trainee's page loaded before the accept
    services.consult_accept(supervisor=people.mensah, consult=pending)
    services.consult_cancel(by=people.chikondi, consult=stale)
    pending.refresh_from_db()
    assert pending.status == "cancelled"
    assert LiveSession.objects.get(pk=pending.session_id).status == SessionStatus.CANCELLED


def test_cancel_of_a_consult_completed_meanwhile_is_refused(people, consult):
    import pytest

    from server.people.errors import InvalidRequest

    stale = ConsultRequest.objects.get(pk=consult.pk)
    services.consult_complete(by=people.mensah, consult=consult)
    with pytest.raises(InvalidRequest):
        services.consult_cancel(by=people.chikondi, consult=stale)
    consult.refresh_from_db()
    assert consult.status == "completed"
