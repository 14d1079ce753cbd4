"""A consult becomes a library teaching case only with consent, a human check and confirmation."""

from __future__ import annotations

import io

import pytest

from server.people.errors import InvalidRequest, PermissionRefused
from sessions.consults import media_hooks, services, teaching
from sessions.models import AuditEntry

from .conftest import jpeg_with_gps

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(people, consented):
    services.note_update(by=people.chikondi, consult=consented, changes={
        "subjective": "Mrs. Grace Tembo, seen 12 March 2026, phone 0888123456, fever and rash for 3 days.",
        "objective": "Temp 38.9, petechial rash on legs, MRN 00123456.",
        "assessment": "Possible meningococcal sepsis.",
        "plan": "Ceftriaxone now, refer to Queen Elizabeth.",
    })
    services.note_sign(by=people.mensah, consult=consented)
    return consented


def _share(people, consult, preview, **overrides):
    texts = {field.name: field.text for field in preview.fields}
    texts["learning_points"] = "Recognise a petechial rash\nGive antibiotics before referral"
    arguments = dict(user=people.mensah, consult=consult, texts=texts,
                     fields_checked={name for name, _label in teaching.CASE_FIELDS}, photo_ids=set(),
                     photos_checked=set(), confirmed=True)
    arguments.update(overrides)
    return teaching.teaching_case_share(**arguments)


def test_preview_replaces_identifiers_and_lists_them(people, signed):
    preview = teaching.teaching_case_preview(user=people.mensah, consult=signed)
    history = next(f for f in preview.fields if f.name == "history")
    assert "Tembo" not in history.text and "0888123456" not in history.text and "12 March" not in history.text
    assert {"NAME", "PHONE", "DATE"} <= set(history.found)
    assert {f.name for f in preview.fields} == {name for name, _label in teaching.CASE_FIELDS}


def test_sharing_needs_every_field_checked_and_confirmation(people, signed):
    preview = teaching.teaching_case_preview(user=people.mensah, consult=signed)
    with pytest.raises(InvalidRequest) as refused:
        _share(people, signed, preview, fields_checked={"title"})
    assert refused.value.code == "fields_not_checked"
    with pytest.raises(InvalidRequest) as refused:
        _share(people, signed, preview, confirmed=False)
    assert refused.value.code == "not_confirmed"


def test_identifiers_put_back_by_hand_are_refused(people, signed):
    preview = teaching.teaching_case_preview(user=people.mensah, consult=signed)
    texts = {field.name: field.text for field in preview.fields}
    texts["discussion"] += " Call Dr. Mensah on +44 20 7946 0000."
    with pytest.raises(InvalidRequest) as refused:
        _share(people, signed, preview, texts=texts)
    assert refused.value.code == "identifiers_remain"


def test_photos_need_a_no_face_check(people, signed):
    data = jpeg_with_gps()
    photo = services.photo_add(by=people.chikondi, consult=signed, upload=io.BytesIO(data), size=len(data))
    preview = teaching.teaching_case_preview(user=people.mensah, consult=signed)
    with pytest.raises(InvalidRequest) as refused:
        _share(people, signed, preview, photo_ids={photo.pk})
    assert refused.value.code == "photos_not_checked"


def test_confirmed_case_goes_to_the_library_and_consent_withdrawal_takes_it_back(people, signed, monkeypatch):
    from courses.models import Material

    data = jpeg_with_gps()
    photo = services.photo_add(by=people.chikondi, consult=signed, upload=io.BytesIO(data), size=len(data))
    preview = teaching.teaching_case_preview(user=people.mensah, consult=signed)
    material = _share(people, signed, preview, photo_ids={photo.pk}, photos_checked={photo.pk})
    assert material.kind == "case" and "Tembo" not in str(material.case)
    from courses.models import MaterialFile

    assert MaterialFile.objects.filter(version__material=material, role="case_image").count() == 1
    signed.refresh_from_db()
    assert signed.teaching_material_id == material.pk
    assert AuditEntry.objects.filter(action="teaching.share", consult=signed).exists()
    monkeypatch.setattr(media_hooks, "_hooks", [])
    services.consent_withdraw(by=people.chikondi, consult=signed, scopes=["teaching"])
    assert Material.objects.get(pk=material.pk).withdrawn_at is not None


def test_no_teaching_case_without_teaching_consent(people, consult):
    services.consent_record(by=people.chikondi, consult=consult, consult_given=True, recording_given=False,
                            teaching_given=False, language="en")
    services.note_update(by=people.chikondi, consult=consult, changes={"assessment": "A", "plan": "P"})
    services.note_sign(by=people.mensah, consult=consult)
    with pytest.raises(PermissionRefused) as refused:
        teaching.teaching_case_preview(user=people.mensah, consult=consult)
    assert refused.value.code == "teaching_consent_missing"


def test_supervisor_shares_through_the_page(people, signed):
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(people.mensah)
    url = reverse("consults:teaching-case", args=[signed.pk])
    page = client.get(url).content.decode()
    assert "Tembo" not in page and "Replaced automatically" in page
    preview = teaching.teaching_case_preview(user=people.mensah, consult=signed)
    data = {field.name: field.text for field in preview.fields}
    data.update({"checked": [name for name, _label in teaching.CASE_FIELDS], "confirm": "yes"})
    unconfirmed = client.post(url, {**data, "confirm": ""})
    assert unconfirmed.status_code == 400
    response = client.post(url, data)
    signed.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == reverse("material-detail", args=[signed.teaching_material_id])
