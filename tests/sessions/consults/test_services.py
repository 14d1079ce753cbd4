"""The consult journey at the service level: request, accept, consent, note, photos, guidance."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from server.people.errors import InvalidRequest, PermissionRefused
from sessions.consults import media_hooks, selectors, services
from sessions.models import (
    Audience,
    AuditEntry,
    ConsultNote,
    ConsultNotification,
    ConsultStatus,
    SessionKind,
    SignedNoteLocked,
)

from .conftest import jpeg_with_gps

pytestmark = pytest.mark.django_db


# -- request and accept ---------------------------------------------------------------------

def test_matching_supervisor_accepts_and_both_are_told(people, pending, mailoutbox, django_capture_on_commit_callbacks):
    assert pending in selectors.consult_requests_matching(supervisor=people.mensah)
    with django_capture_on_commit_callbacks(execute=True):
        consult = services.consult_accept(supervisor=people.mensah, consult=pending)
    assert consult.status == ConsultStatus.ACCEPTED
    assert consult.session.kind == SessionKind.CONSULT
    assert consult.session.audience == Audience.INVITED
    assert consult.session.host == people.mensah
    assert ConsultNotification.objects.filter(user=people.chikondi, consult=consult).exists()
    assert ConsultNotification.objects.filter(user=people.mensah, consult=consult).exists()
    recipients = {address for message in mailoutbox for address in message.to}
    assert {people.chikondi.email, people.mensah.email} <= recipients
    # No patient data in the e-mails: the reason is never sent.
    assert all(pending.reason not in message.body for message in mailoutbox)


def test_accepting_for_later_schedules_the_consult(people, pending):
    later = timezone.now() + timedelta(hours=5)
    consult = services.consult_accept(supervisor=people.mensah, consult=pending, starts_at=later)
    assert consult.status == ConsultStatus.SCHEDULED
    assert consult.session.starts_at == later


def test_student_cannot_request_a_consult(people):
    with pytest.raises(PermissionRefused):
        services.consult_request_create(trainee=people.amina, specialty="Paediatrics", urgency="soon",
                                        language="en", reason="Fever")


@pytest.mark.parametrize("reason", [
    "Mr. John Phiri has chest pain",
    "Seen on 12/03/2026 with cough",
    "Call me on +265 888 123 456",
    "MRN 00123456 needs review",
    "Lives in Chileka village, fever",
])
def test_a_reason_that_identifies_the_patient_is_refused(people, roster, reason):
    with pytest.raises(InvalidRequest) as refused:
        services.consult_request_create(trainee=people.chikondi, specialty="Paediatrics", urgency="soon",
                                        language="en", reason=reason)
    assert refused.value.code == "reason_identifies_patient"


def test_supervisor_not_matching_cannot_accept(people, pending, other_supervisor):
    services.roster_update(supervisor=other_supervisor, specialties=["Dermatology"], languages=["en"], is_active=True)
    with pytest.raises(PermissionRefused):
        services.consult_accept(supervisor=other_supervisor, consult=pending)


def test_a_request_is_accepted_only_once(people, pending, other_supervisor):
    services.consult_accept(supervisor=people.mensah, consult=pending)
    with pytest.raises(InvalidRequest) as refused:
        services.consult_accept(supervisor=other_supervisor, consult=pending)
    assert refused.value.code == "request_not_pending"


def test_faculty_cannot_be_on_the_roster(people):
    with pytest.raises(PermissionRefused):
        services.roster_update(supervisor=people.tanaka, specialties=["Cardiology"], languages=["en"], is_active=True)


def test_observer_must_come_from_the_trainee_school_or_a_partner(people, consult):
    with pytest.raises(PermissionRefused):
        services.observer_invite(supervisor=people.mensah, consult=consult, user=people.amina)  # Lagos: no partnership
    with pytest.raises(PermissionRefused):
        services.observer_invite(supervisor=people.chikondi, consult=consult, user=people.thoko)


# -- consent --------------------------------------------------------------------------------

def test_no_media_before_consent(people, consult):
    assert selectors.consult_media_allowed(consult.session) is False
    assert selectors.consult_recording_allowed(consult.session) is False
    services.consent_record(by=people.chikondi, consult=consult, consult_given=True, recording_given=False,
                            teaching_given=False, language="ny")
    assert selectors.consult_media_allowed(consult.session) is True
    assert selectors.consult_recording_allowed(consult.session) is False


def test_consent_refused_means_no_media(people, consult):
    services.consent_record(by=people.chikondi, consult=consult, consult_given=False, recording_given=False,
                            teaching_given=False, language="en")
    assert selectors.consult_media_allowed(consult.session) is False


def test_only_the_trainee_records_consent(people, consult):
    for other in (people.mensah, people.kalua, people.amina):
        with pytest.raises(PermissionRefused):
            services.consent_record(by=other, consult=consult, consult_given=True, recording_given=True,
                                    teaching_given=True, language="en")


def test_recording_consent_without_consult_consent_is_refused(people, consult):
    with pytest.raises(InvalidRequest):
        services.consent_record(by=people.chikondi, consult=consult, consult_given=False, recording_given=True,
                                teaching_given=False, language="en")


def test_withdrawal_stops_and_deletes_the_recording(people, consented, monkeypatch, django_capture_on_commit_callbacks):
    calls: list[int] = []

    def stop_and_delete(*, session_id: int) -> dict:
        # The hook runs after the withdrawal committed: recording is no longer allowed.
        calls.append(session_id)
        assert selectors.consult_recording_allowed(consented.session) is False
        return {"stopped": True, "deleted_files": 1}

    monkeypatch.setattr(media_hooks, "_hooks", [])  # only this test's stand-in for the media worker
    media_hooks.register_recording_withdrawal(stop_and_delete)
    assert selectors.consult_recording_allowed(consented.session) is True
    with django_capture_on_commit_callbacks(execute=True):
        result = services.consent_withdraw(by=people.chikondi, consult=consented, scopes=["recording"])
    assert calls == [consented.session_id]
    assert result["withdrawn"] == ["recording"]
    assert selectors.consult_recording_allowed(consented.session) is False
    assert selectors.consult_media_allowed(consented.session) is True  # the consult itself goes on
    entry = AuditEntry.objects.filter(consult=consented, action="recording.withdrawn").get()
    assert entry.detail["hooks"][0]["stopped"] is True and entry.detail["hooks"][0]["deleted_files"] == 1


def test_withdrawing_the_consult_blocks_media_recording_and_teaching(people, consented, monkeypatch):
    monkeypatch.setattr(media_hooks, "_hooks", [])
    services.consent_withdraw(by=people.mensah, consult=consented, scopes=["consult"])
    assert selectors.consult_media_allowed(consented.session) is False
    assert selectors.consult_recording_allowed(consented.session) is False
    assert not selectors.consult_has_consent(consult=consented, scope="teaching")
    # History is kept: the rows are still there, marked withdrawn.
    assert consented.consents.filter(withdrawn_at__isnull=False).count() == 3


# -- the note -------------------------------------------------------------------------------

def test_trainee_writes_the_note_and_supervisor_signs(people, consult):
    note = services.note_update(by=people.chikondi, consult=consult, changes={"subjective": "Fever 3 days", "assessment": "Likely malaria", "plan": "RDT, ACT"}, base_version=0)
    assert note.version == 1
    services.note_comment(by=people.mensah, consult=consult, text="Check for neck stiffness.")
    signed = services.note_sign(by=people.mensah, consult=consult)
    assert signed.signed_by == people.mensah and signed.signed_at is not None


def test_a_signed_note_refuses_edits(people, consult):
    services.note_update(by=people.chikondi, consult=consult, changes={"assessment": "A", "plan": "P"})
    services.note_sign(by=people.mensah, consult=consult)
    with pytest.raises(InvalidRequest) as refused:
        services.note_update(by=people.chikondi, consult=consult, changes={"plan": "changed"})
    assert refused.value.code == "note_signed"
    with pytest.raises(InvalidRequest):
        services.note_comment(by=people.mensah, consult=consult, text="late comment")
    with pytest.raises(InvalidRequest):
        services.note_sign(by=people.mensah, consult=consult)
    # Any other code path is refused by the model itself.
    note = ConsultNote.objects.get(consult=consult)
    note.plan = "sneaky"
    with pytest.raises(SignedNoteLocked):
        note.save()
    assert ConsultNote.objects.get(consult=consult).plan == "P"
    addendum = services.note_addendum_add(by=people.chikondi, consult=consult, text="Malaria RDT positive.")
    assert addendum.note.addenda.count() == 1


def test_note_cannot_be_signed_without_assessment_and_plan(people, consult):
    with pytest.raises(InvalidRequest) as refused:
        services.note_sign(by=people.mensah, consult=consult)
    assert refused.value.code == "note_incomplete"


def test_observer_and_supervisor_cannot_write_the_soap_fields(people, consult):
    for other in (people.kalua, people.mensah):
        with pytest.raises(PermissionRefused):
            services.note_update(by=other, consult=consult, changes={"plan": "x"})
    with pytest.raises(PermissionRefused):
        services.note_sign(by=people.chikondi, consult=consult)


def test_concurrent_edit_is_refused_not_overwritten(people, consult):
    services.note_update(by=people.chikondi, consult=consult, changes={"plan": "first"}, base_version=0)
    with pytest.raises(InvalidRequest) as refused:
        services.note_update(by=people.chikondi, consult=consult, changes={"plan": "stale"}, base_version=0)
    assert refused.value.code == "note_conflict"


# -- photos and guidance ----------------------------------------------------------------------

def test_photo_is_stored_without_any_metadata(people, consented):
    data = jpeg_with_gps()
    assert b"ClinicPhone" in data and Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)
    photo = services.photo_add(by=people.chikondi, consult=consented, upload=io.BytesIO(data), size=len(data),
                               caption="Rash on the forearm")
    with default_storage.open(photo.file.name, "rb") as stored:
        raw = stored.read()
    assert b"ClinicPhone" not in raw and b"PhoneMaker" not in raw and b"Exif" not in raw
    image = Image.open(io.BytesIO(raw))
    assert not image.getexif() and not image.getexif().get_ifd(0x8825)
    assert (image.width, image.height) == (48, 64)  # orientation applied to the pixels
    assert photo.file.name.startswith(f"consults/{consented.pk}/")


def test_photo_refused_before_consent(people, consult):
    data = jpeg_with_gps()
    with pytest.raises(PermissionRefused) as refused:
        services.photo_add(by=people.chikondi, consult=consult, upload=io.BytesIO(data), size=len(data))
    assert refused.value.code == "consent_required"


def test_html_disguised_as_photo_is_refused(people, consented):
    data = b"<html><script>alert(1)</script></html>"
    with pytest.raises(InvalidRequest):
        services.photo_add(by=people.chikondi, consult=consented, upload=io.BytesIO(data), size=len(data))


def test_observer_cannot_add_photos(people, consented):
    data = jpeg_with_gps()
    with pytest.raises(PermissionRefused):
        services.photo_add(by=people.kalua, consult=consented, upload=io.BytesIO(data), size=len(data))


def test_guidance_goes_to_trainee_and_supervisor_only(people, consult):
    delivery = services.guidance_send(by=people.mensah, consult=consult, text="Ask about neck stiffness")
    assert sorted(delivery["visible_to"]) == sorted([people.chikondi.pk, people.mensah.pk])
    assert people.kalua.pk not in delivery["visible_to"]
    entry = AuditEntry.objects.filter(action="guidance.send").get()
    assert "neck" not in str(entry.detail)  # the audit records that guidance went, not what it said


def test_only_the_supervisor_sends_guidance(people, consult):
    for other in (people.chikondi, people.kalua):
        with pytest.raises(PermissionRefused):
            services.guidance_send(by=other, consult=consult, text="hello")


def test_supervisors_are_told_of_a_request_in_their_own_language(people, roster, django_capture_on_commit_callbacks):
    from django.core import mail
    from django.utils import translation

    from sessions.models import ConsultNotification

    people.mensah.preferred_language = "fr"
    people.mensah.save(update_fields=["preferred_language"])
    with translation.override("pt"), django_capture_on_commit_callbacks(execute=True):  # the trainee's language
        consult = services.consult_request_create(
            trainee=people.chikondi, specialty="Paediatrics", urgency="soon", language="en",
            reason="Child with fever and a new rash.",
        )
    notice = ConsultNotification.objects.get(consult=consult, user=people.mensah)
    assert notice.text.startswith("Un interne demande une supervision")
    sent = [m for m in mail.outbox if m.to == [people.mensah.email]]
    assert len(sent) == 1 and sent[0].subject.startswith("OpenRounds : une demande de consultation")


def test_a_recording_joined_after_consent_was_withdrawn_is_deleted_not_kept(people, consented, monkeypatch):
    """A killed worker's pieces can be joined and stored by another worker seconds after the
    patient withdrew recording consent (the withdrawal found no worker recording): the
    stored file is deleted instead of kept with the consult, and that is audited."""
    from django.core.files.base import ContentFile

    from sessions.media.outcomes import recordings_keep

    monkeypatch.setattr(media_hooks, "_hooks", [])
    kept = default_storage.save(f"recordings/session-{consented.session_id}/a-recovered.webm", ContentFile(b"webm"))
    recordings_keep(consented.session_id, [kept])
    assert default_storage.exists(kept)
    assert AuditEntry.objects.filter(consult=consented, action="recording.kept").count() == 1

    services.consent_withdraw(by=people.chikondi, consult=consented, scopes=["recording"])
    late = default_storage.save(f"recordings/session-{consented.session_id}/b-recovered.webm", ContentFile(b"webm"))
    recordings_keep(consented.session_id, [late])
    assert not default_storage.exists(late)
    assert AuditEntry.objects.filter(consult=consented, action="recording.discarded").get().detail["files"] == 1
    assert AuditEntry.objects.filter(consult=consented, action="recording.kept").count() == 1


def test_a_moved_consult_recording_goes_on_only_while_consent_is_in_force(people, consented, monkeypatch):
    """A withdrawal whose stop found no worker recording (its worker had died) leaves the
    notice on; the worker the session moves to must not start recording again."""
    from sessions.media.selectors import media_recording_continues
    from sessions.room.events import room_event_emit

    monkeypatch.setattr(media_hooks, "_hooks", [])
    session_id = consented.session_id
    assert not media_recording_continues(session_id=session_id)  # not recorded
    room_event_emit(session_id=session_id, type="media.recording", payload={"active": True})
    assert media_recording_continues(session_id=session_id)
    services.consent_withdraw(by=people.chikondi, consult=consented, scopes=["recording"])
    assert not media_recording_continues(session_id=session_id)
