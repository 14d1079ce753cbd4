"""Contributing, editing with versions, withdrawing — on local files and on real S3."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from courses.library.events import material_event
from courses.library.selectors import material_current_files, material_get_for_user
from courses.library.services import (
    CaseImage,
    material_create,
    material_create_recording,
    material_update,
    material_withdraw,
)
from courses.models import FileRole, MaterialFile
from server.people.errors import InvalidRequest, PermissionRefused

from .conftest import photo_with_gps, png_bytes, sample_pdf, upload, webm_bytes

pytestmark = pytest.mark.django_db


def read_stored(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def test_stored_photo_has_no_exif_or_gps(people, library_storage):
    material = material_create(
        user=people.hoffmann, kind="image", title="Erythema migrans", scope="partners",
        upload=upload("IMG_2041.JPG", photo_with_gps()),
    )
    main = next(f for f in material_current_files(material=material) if f.role == FileRole.MAIN)
    stored = read_stored(main.storage_name)
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()
        assert "xmp" not in image.info
        assert image.size == (32, 64)  # orientation applied to the pixels
    assert b"PhoneMaker" not in stored
    assert main.size == len(stored)
    assert main.original_name == "IMG_2041.jpg"
    assert any(f.role == FileRole.THUMBNAIL for f in material_current_files(material=material))


def test_pdf_gets_a_first_page_preview(people, library_storage):
    material = material_create(
        user=people.tanaka, kind="file", title="Stroke lecture", upload=upload("stroke.pdf", sample_pdf("Stroke")),
    )
    assert material.kind == "pdf"
    files = {f.role: f for f in material_current_files(material=material)}
    with Image.open(io.BytesIO(read_stored(files[FileRole.THUMBNAIL].storage_name))) as preview:
        assert preview.format == "JPEG" and preview.width <= 480


def test_every_change_keeps_a_version_and_old_files_stay_downloadable(people, library_storage):
    material = material_create(
        user=people.tanaka, kind="pdf", title="Sepsis v1", upload=upload("sepsis.pdf", sample_pdf("Sepsis one")),
    )
    first_file = next(f for f in material_current_files(material=material) if f.role == FileRole.MAIN)
    material = material_update(user=people.tanaka, material=material, title="Sepsis bundle", change_note="Retitled")
    material = material_update(
        user=people.tanaka, material=material, change_note="New slides",
        upload=upload("sepsis2.pdf", sample_pdf("Sepsis two")),
    )
    assert material.version == 3
    assert list(material.versions.values_list("number", flat=True)) == [3, 2, 1]
    assert material.versions.get(number=1).metadata["title"] == "Sepsis v1"
    v2_main = material.versions.get(number=2).files.get(role=FileRole.MAIN)
    assert v2_main.storage_name == first_file.storage_name  # metadata change shares the bytes
    v3_main = material.versions.get(number=3).files.get(role=FileRole.MAIN)
    assert v3_main.storage_name != first_file.storage_name
    assert b"Sepsis one" in read_stored(first_file.storage_name)
    assert b"Sepsis two" in read_stored(v3_main.storage_name)


def test_student_cannot_contribute(people):
    with pytest.raises(PermissionRefused) as caught:
        material_create(user=people.amina, kind="link", title="My notes", url="https://example.org")
    assert caught.value.message == "Only faculty, supervisors and coordinators can contribute to the library."


def test_faculty_cannot_contribute_for_another_school(people):
    with pytest.raises(PermissionRefused) as caught:
        material_create(
            user=people.tanaka, kind="link", title="x", url="https://example.org", institution=people.schools.lagos
        )
    assert caught.value.code == "not_your_school"


def test_faculty_of_another_school_cannot_edit(people):
    material = material_create(user=people.hoffmann, kind="link", title="Heidelberg", url="https://example.org", scope="public")
    with pytest.raises(PermissionRefused) as caught:
        material_update(user=people.tanaka, material=material, title="Tokyo now")
    assert caught.value.code == "cannot_edit"


@pytest.mark.parametrize(
    "fields,code,message",
    [
        ({"kind": "link", "title": "", "url": "https://x.org"}, "title_missing", "Give the material a title."),
        ({"kind": "link", "title": "A", "url": "javascript:alert(1)"}, "url_invalid", "A link must be a full web address starting with https:// or http://."),
        ({"kind": "case", "title": "A case", "case": {"history": "x"}}, "case_incomplete", "A teaching case needs at least the history and the question."),
        ({"kind": "link", "title": "A", "url": "https://x.org", "licence": "gpl"}, "licence_invalid", "Choose a licence."),
        ({"kind": "link", "title": "A", "url": "https://x.org", "scope": "world"}, "scope_invalid", "Choose who the material is shared with."),
        ({"kind": "pdf", "title": "A"}, "file_missing", "Choose a file to upload."),
    ],
)
def test_bad_metadata_is_refused_with_a_message(people, fields, code, message):
    with pytest.raises(InvalidRequest) as caught:
        material_create(user=people.tanaka, **fields)
    assert (caught.value.code, caught.value.message) == (code, message)


def test_refused_upload_leaves_nothing_behind(people, library_storage):
    bad = png_bytes() + b"<script>alert(1)</script>"
    with pytest.raises(InvalidRequest):
        material_create(user=people.tanaka, kind="image", title="Bad", upload=upload("x.png", bad))
    assert not MaterialFile.objects.exists()


def test_case_with_investigation_images(people, library_storage):
    material = material_create(
        user=people.mensah, kind="case", title="Fever and jaundice in a farmer",
        case={
            "history": "A 34-year-old farmer with 5 days of fever.", "examination": "Icteric, tender liver.",
            "investigations": "Bilirubin raised.", "question": "What is the most likely diagnosis?",
            "discussion": "Leptospirosis.", "learning_points": "Ask about water exposure\nTreat early",
        },
        case_images=[CaseImage(file=io.BytesIO(photo_with_gps()), caption="Conjunctival suffusion", name="eye.jpg")],
    )
    assert material.case["learning_points"] == ["Ask about water exposure", "Treat early"]
    image = material_current_files(material=material)[0]
    assert image.role == FileRole.CASE_IMAGE and image.caption == "Conjunctival suffusion"
    assert b"PhoneMaker" not in read_stored(image.storage_name)


def test_create_sends_one_event_after_commit(people, django_capture_on_commit_callbacks):
    received = []

    def listener(**kwargs):
        received.append((kwargs["kind"], kwargs["material_id"]))

    material_event.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            material = material_create(user=people.tanaka, kind="link", title="Event", url="https://x.org")
        assert received == [("material.created", material.pk)]
    finally:
        material_event.disconnect(listener)


def test_withdrawn_material_disappears_for_others(people):
    material = material_create(user=people.hoffmann, kind="link", title="Old", url="https://x.org", scope="public")
    material_withdraw(user=people.hoffmann, material=material)
    with pytest.raises(PermissionRefused):
        material_get_for_user(people.amina, material.pk)
    assert material_get_for_user(people.hoffmann, material.pk)


def test_session_recording_becomes_a_material(people, library_storage):
    from sessions.models import LiveSession

    start = timezone.now() - timedelta(hours=2)
    session = LiveSession.objects.create(
        kind="lecture", title="Stroke thrombolysis", description="Grand rounds", specialty="Neurology",
        language="en", host=people.tanaka, institution=people.schools.tokyo, starts_at=start,
        ends_at=start + timedelta(hours=1), audience="partners",
    )
    material = material_create_recording(session=session, file=io.BytesIO(webm_bytes(1.0)), scope="partners")  # the host's choice
    assert (material.kind, material.scope, material.discipline) == ("recording", "partners", "Neurology")
    assert material.session == session and material.contributed_by == people.tanaka
    assert material_get_for_user(people.amina, material.pk)  # Lagos–Tokyo active
    main = next(f for f in material_current_files(material=material) if f.role == FileRole.MAIN)
    assert main.content_type == "video/webm"
