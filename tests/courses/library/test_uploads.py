"""Resumable chunked uploads through /api/library/uploads and the contribute page."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

from courses.library import uploads
from courses.models import FileRole, Material, MaterialFile, UploadSession

from .conftest import photo_with_gps, sample_pdf

pytestmark = pytest.mark.django_db

API = "/api/library/uploads"


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.LIBRARY_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    return tmp_path / "uploads"


@pytest.fixture
def hoffmann(client, people):
    client.force_login(people.hoffmann)
    return client


def start(client, data: bytes, *, name: str = "notes.pdf", kind: str = "file", sha256: str = "") -> dict:
    response = client.post(API, {"name": name, "size": len(data), "kind": kind, "sha256": sha256},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def send(client, upload_id: str, offset: int, piece: bytes, **headers):
    return client.put(f"{API}/{upload_id}/chunks?offset={offset}", data=piece,
                      content_type="application/octet-stream", headers=headers)


def send_all(client, upload_id: str, data: bytes, chunk: int) -> None:
    for offset in range(0, len(data), chunk):
        response = send(client, upload_id, offset, data[offset:offset + chunk])
        assert response.status_code == 200, response.content


def finalize(client, upload_id: str, **fields):
    body = {"title": "Heart failure notes", "licence": "cc-by", "scope": "partners", **fields}
    return client.post(f"{API}/{upload_id}/finalize", body, content_type="application/json")


def padded_pdf(size: int = 300_000) -> bytes:
    """A real PDF followed by a comment block, so it needs several chunks."""
    pdf = sample_pdf()
    return pdf + b"%" + b"x" * (size - len(pdf) - 2) + b"\n"


def test_chunked_pdf_is_assembled_byte_for_byte_and_becomes_a_material(hoffmann, local_storage, upload_dir):
    data = padded_pdf()
    digest = hashlib.sha256(data).hexdigest()
    session = start(hoffmann, data, sha256=digest)
    assert session["received"] == 0 and session["chunk_size"] == uploads.CHUNK_SIZE
    send_all(hoffmann, session["id"], data, 64 * 1024)
    status = hoffmann.get(f"{API}/{session['id']}").json()
    assert status["received"] == len(data) and status["complete"]
    response = finalize(hoffmann, session["id"])
    assert response.status_code == 201, response.content
    material = Material.objects.get(pk=response.json()["id"])
    assert material.kind == "pdf" and material.contributed_by.username == "hoffmann"
    main = MaterialFile.objects.get(version__material=material, role=FileRole.MAIN)
    with default_storage.open(main.storage_name, "rb") as stored:
        assert hashlib.sha256(stored.read()).hexdigest() == digest
    assert main.sha256 == digest and main.size == len(data)
    assert not UploadSession.objects.exists()
    assert not list(upload_dir.iterdir()), "the temporary file is gone"


def test_chunked_photo_is_cleaned_of_gps(hoffmann, local_storage, upload_dir):
    data = photo_with_gps()
    session = start(hoffmann, data, name="IMG_2041.JPG", sha256=hashlib.sha256(data).hexdigest())
    send_all(hoffmann, session["id"], data, 1000)
    assert finalize(hoffmann, session["id"]).status_code == 201
    main = MaterialFile.objects.get(role=FileRole.MAIN)
    with default_storage.open(main.storage_name, "rb") as stored, Image.open(io.BytesIO(stored.read())) as image:
        assert not image.getexif()
        assert image.size == (32, 64)  # orientation applied


def test_upload_resumes_after_an_interrupted_chunk(hoffmann, local_storage, upload_dir):
    data = padded_pdf()
    session = start(hoffmann, data)
    upload_id = session["id"]
    assert send(hoffmann, upload_id, 0, data[:100_000]).status_code == 200
    # The connection drops halfway through the second piece (the body stops with an error).

    class DroppedConnection(io.BytesIO):
        def read(self, size=-1):
            if self.tell() >= 50_000:
                raise OSError("connection reset")
            return super().read(min(size, 50_000 - self.tell()))

    user = UploadSession.objects.get().owner
    with pytest.raises(OSError):
        uploads.upload_session_append(user=user, session_id=upload_id, offset=100_000,
                                      body=DroppedConnection(data[100_000:200_000]), length=100_000)
    # The client asks how much arrived, and continues from there.
    received = hoffmann.get(f"{API}/{upload_id}").json()["received"]
    assert received == 100_000
    assert os.path.getsize(UploadSession.objects.get().temp_path) == 100_000
    send_all_from = received
    for offset in range(send_all_from, len(data), 100_000):
        assert send(hoffmann, upload_id, offset, data[offset:offset + 100_000]).status_code == 200
    assert finalize(hoffmann, upload_id).status_code == 201
    main = MaterialFile.objects.get(role=FileRole.MAIN)
    assert main.sha256 == hashlib.sha256(data).hexdigest()


def test_damaged_chunk_is_refused_and_can_be_sent_again(hoffmann, upload_dir):
    data = padded_pdf()
    upload_id = start(hoffmann, data)["id"]
    piece = data[:65536]
    wrong = send(hoffmann, upload_id, 0, piece, **{"X-Chunk-SHA256": "0" * 64})
    assert wrong.status_code == 400 and wrong.json()["code"] == "upload_chunk_corrupted"
    right = send(hoffmann, upload_id, 0, piece, **{"X-Chunk-SHA256": hashlib.sha256(piece).hexdigest()})
    assert right.status_code == 200 and right.json()["received"] == 65536


def test_chunk_out_of_order_is_refused_with_the_offset_expected(hoffmann, upload_dir):
    data = padded_pdf()
    upload_id = start(hoffmann, data)["id"]
    assert send(hoffmann, upload_id, 0, data[:50_000]).status_code == 200
    ahead = send(hoffmann, upload_id, 100_000, data[100_000:150_000])
    assert ahead.status_code == 409
    assert ahead.json()["code"] == "upload_offset_mismatch" and ahead.json()["received"] == 50_000
    again = send(hoffmann, upload_id, 0, data[:50_000])  # a piece already stored
    assert again.status_code == 409 and again.json()["received"] == 50_000


def test_other_persons_upload_is_refused(client, people, upload_dir):
    client.force_login(people.hoffmann)
    data = padded_pdf()
    upload_id = start(client, data)["id"]
    client.force_login(people.asante)
    for response in (
        client.get(f"{API}/{upload_id}"),
        send(client, upload_id, 0, data[:1000]),
        finalize(client, upload_id),
        client.delete(f"{API}/{upload_id}"),
    ):
        assert response.status_code == 403
        assert response.json()["message"] == "This upload does not exist or belongs to someone else."
    assert UploadSession.objects.get().received == 0


def test_student_cannot_start_an_upload(client, people, upload_dir):
    client.force_login(people.amina)
    response = client.post(API, {"name": "a.pdf", "size": 1000}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["message"] == "Only faculty, supervisors and coordinators can contribute to the library."


def test_executable_is_refused_from_its_first_chunk(hoffmann, upload_dir):
    data = b"MZ" + b"\0" * 200_000
    upload_id = start(hoffmann, data, name="setup.pdf")["id"]
    response = send(hoffmann, upload_id, 0, data[:65536])
    assert response.status_code == 400
    assert response.json() == {"code": "file_executable", "message": "Programs and scripts cannot be shared in the library.",
                               "received": None}
    assert not UploadSession.objects.exists() and not list(upload_dir.iterdir())


def test_image_declared_but_pdf_sent_is_refused_from_its_first_chunk(hoffmann, upload_dir):
    data = padded_pdf()
    upload_id = start(hoffmann, data, kind="image")["id"]
    response = send(hoffmann, upload_id, 0, data[:65536])
    assert response.status_code == 400
    assert response.json()["message"] == "This file is a PDF document, not what you chose to share. Choose the matching kind."


def test_video_larger_than_its_kind_allows_is_refused_before_any_byte(hoffmann, upload_dir):
    response = hoffmann.post(API, {"name": "big.webm", "size": 3 * 1024**3, "kind": "video"}, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["message"] == "The file is 3.0 GB; files of this kind may be at most 2.0 GB."


def test_image_larger_than_the_image_limit_is_refused_at_the_first_chunk(hoffmann, upload_dir):
    size = 30 * 1024 * 1024
    response = hoffmann.post(API, {"name": "scan.jpg", "size": size}, content_type="application/json")
    upload_id = response.json()["id"]
    refused = send(hoffmann, upload_id, 0, photo_with_gps() + b"\0" * 10_000)
    assert refused.status_code == 413
    assert refused.json()["message"] == "The file is 30.0 MB; files of this kind may be at most 20.0 MB."


def test_bytes_beyond_the_announced_size_are_refused(hoffmann, upload_dir):
    data = padded_pdf()
    upload_id = start(hoffmann, data[:100_000])["id"]
    response = send(hoffmann, upload_id, 0, data[:150_000])
    assert response.status_code == 413 and response.json()["code"] == "upload_too_long"
    assert hoffmann.get(f"{API}/{upload_id}").json()["received"] == 0


def test_chunk_over_eight_megabytes_is_refused(hoffmann, upload_dir):
    data = sample_pdf() + b"%" + b"x" * (9 * 1024 * 1024)
    upload_id = start(hoffmann, data)["id"]
    response = send(hoffmann, upload_id, 0, data[: 8 * 1024 * 1024 + 1])
    assert response.status_code == 413 and response.json()["code"] == "upload_chunk_too_large"


def test_incomplete_upload_cannot_be_finalized(hoffmann, upload_dir):
    data = padded_pdf()
    upload_id = start(hoffmann, data)["id"]
    send(hoffmann, upload_id, 0, data[:1000])
    response = finalize(hoffmann, upload_id)
    assert response.status_code == 400 and response.json()["code"] == "upload_incomplete"


def test_missing_title_keeps_the_upload_for_a_second_try(hoffmann, local_storage, upload_dir):
    data = padded_pdf()
    upload_id = start(hoffmann, data)["id"]
    send_all(hoffmann, upload_id, data, 128 * 1024)
    refused = finalize(hoffmann, upload_id, title="  ")
    assert refused.status_code == 400 and refused.json()["message"] == "Give the material a title."
    assert finalize(hoffmann, upload_id).status_code == 201


def test_expired_upload_is_refused_and_removed(hoffmann, upload_dir):
    from datetime import timedelta

    from django.utils import timezone

    data = padded_pdf()
    upload_id = start(hoffmann, data)["id"]
    UploadSession.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = send(hoffmann, upload_id, 0, data[:1000])
    assert response.status_code == 400 and response.json()["message"] == "This upload has expired; please start it again."
    assert not UploadSession.objects.exists() and not list(upload_dir.iterdir())


def test_cancel_removes_the_temporary_file(hoffmann, upload_dir):
    data = padded_pdf()
    upload_id = start(hoffmann, data)["id"]
    send(hoffmann, upload_id, 0, data[:1000])
    assert hoffmann.delete(f"{API}/{upload_id}").status_code == 204
    assert not UploadSession.objects.exists() and not list(upload_dir.iterdir())


def test_contribute_page_finalizes_a_chunked_upload(hoffmann, people, local_storage, upload_dir):
    data = padded_pdf()
    upload_id = start(hoffmann, data)["id"]
    send_all(hoffmann, upload_id, data, 100_000)
    page = reverse("material-contribute")
    form = {
        "kind": "file", "title": "Chunked lecture", "level": "clinical", "language": "en", "licence": "cc-by",
        "scope": "partners", "institution": people.schools.heidelberg.pk, "upload_session": upload_id,
    }
    missing = hoffmann.post(page, {**form, "title": ""})
    assert missing.status_code == 400
    assert f'name="upload_session" value="{upload_id}"' in missing.content.decode()
    response = hoffmann.post(page, form)
    assert response.status_code == 303
    material = Material.objects.get(title="Chunked lecture")
    assert MaterialFile.objects.get(version__material=material, role=FileRole.MAIN).sha256 == hashlib.sha256(data).hexdigest()


def test_contribute_page_shows_a_refusal_for_someone_elses_upload(client, people, upload_dir):
    client.force_login(people.hoffmann)
    upload_id = start(client, padded_pdf())["id"]
    client.force_login(people.asante)
    response = client.post(reverse("material-contribute"), {
        "kind": "file", "title": "Not mine", "level": "clinical", "language": "en", "licence": "cc-by",
        "scope": "partners", "institution": people.schools.knust.pk, "upload_session": upload_id,
    })
    assert response.status_code == 400
    assert "This upload does not exist or belongs to someone else." in response.content.decode()


def test_edit_page_replaces_the_file_with_a_chunked_upload(hoffmann, people, local_storage, upload_dir):
    from courses.library.services import material_create

    material = material_create(user=people.hoffmann, kind="file", title="Notes", upload=io.BytesIO(sample_pdf()),
                               upload_name="notes.pdf", licence="cc-by")
    page = hoffmann.get(reverse("material-edit", args=[material.pk])).content.decode()
    assert 'data-upload-kind="pdf"' in page
    data = padded_pdf()
    upload_id = start(hoffmann, data, kind="pdf")["id"]
    send_all(hoffmann, upload_id, data, 100_000)
    response = hoffmann.post(reverse("material-edit", args=[material.pk]), {
        "title": "Notes", "level": "clinical", "language": "en", "licence": "cc-by", "scope": "partners",
        "change_note": "Longer version", "upload_session": upload_id,
    })
    assert response.status_code == 303, response.content.decode()[:2000]
    material.refresh_from_db()
    assert material.version == 2
    current = MaterialFile.objects.get(version__material=material, version__number=2, role=FileRole.MAIN)
    assert current.sha256 == hashlib.sha256(data).hexdigest()


def test_chunk_without_csrf_token_is_refused(people, upload_dir):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people.hoffmann)
    response = strict.post(API, {"name": "a.pdf", "size": 1000}, content_type="application/json")
    assert response.status_code == 403
    assert not UploadSession.objects.exists()


def test_upload_endpoints_are_in_the_openapi_schema(client):
    paths = client.get("/api/schema").json()["paths"]
    assert {"/api/library/uploads", "/api/library/uploads/{upload_id}", "/api/library/uploads/{upload_id}/chunks",
            "/api/library/uploads/{upload_id}/finalize"} <= set(paths)


def test_malformed_upload_id_is_refused_like_a_missing_one(hoffmann, upload_dir, people):
    with pytest.raises(uploads.PermissionRefused):
        uploads.upload_session_get_for_user(user=people.hoffmann, session_id="not-a-uuid")
