"""Downloads are authorized per request; local files stream with Range, S3 signs a URL."""

from __future__ import annotations

import urllib.request

import pytest
from django.test import Client

from courses.library.downloads import parse_range
from courses.library.selectors import material_current_files
from courses.library.services import material_create, material_update
from courses.models import FileRole

from .conftest import png_bytes, sample_pdf, upload, webm_bytes

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def main_file(material):
    return next(f for f in material_current_files(material=material) if f.role == FileRole.MAIN)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def fetch_signed(url: str) -> tuple[bytes, dict[str, str]]:
    assert url.startswith("http://127.0.0.1:")  # the test S3 server on loopback, never elsewhere
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read(), {k.lower(): v for k, v in answer.headers.items()}


def test_partner_student_downloads_a_pdf_as_an_attachment(people, library_storage):
    data = sample_pdf("Malaria lecture")
    material = material_create(user=people.hoffmann, kind="pdf", title="Malaria", scope="partners", upload=upload("m.pdf", data))
    file = main_file(material)
    response = login(people.amina).get(f"/library/{material.pk}/files/{file.pk}/")
    assert response["X-Content-Type-Options"] == "nosniff"
    if library_storage == "s3":
        assert response.status_code == 302
        assert "Signature=" in response["Location"] and "Expires=" in response["Location"]
        content, headers = fetch_signed(response["Location"])
        assert content == data
        assert headers["content-disposition"].startswith("attachment")
        assert headers["content-type"] == "application/pdf"
    else:
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
        assert response["Content-Length"] == str(len(data))
        assert body(response) == data


def test_non_partner_student_cannot_download(people, library_storage):
    material = material_create(user=people.hoffmann, kind="pdf", title="Malaria", scope="partners", upload=upload("m.pdf", sample_pdf()))
    response = login(people.awa).get(f"/library/{material.pk}/files/{main_file(material).pk}/")
    assert response.status_code == 403
    assert "not shared with your school" in response.content.decode()


def test_old_versions_stay_downloadable(people, library_storage):
    material = material_create(user=people.tanaka, kind="pdf", title="v1", scope="public", upload=upload("a.pdf", sample_pdf("First edition")))
    old = main_file(material)
    material_update(user=people.tanaka, material=material, upload=upload("b.pdf", sample_pdf("Second edition")))
    response = login(people.awa).get(f"/library/{material.pk}/files/{old.pk}/")
    if library_storage == "s3":
        content, _headers = fetch_signed(response["Location"])
    else:
        content = body(response)
    assert b"First edition" in content


def test_image_is_shown_inline_and_forced_download_is_an_attachment(people, local_storage):
    material = material_create(user=people.tanaka, kind="image", title="Rash", scope="public", upload=upload("r.png", png_bytes()))
    client = login(people.amina)
    url = f"/library/{material.pk}/files/{main_file(material).pk}/"
    assert client.get(url)["Content-Disposition"].startswith("inline")
    assert client.get(url + "?download=1")["Content-Disposition"].startswith("attachment")


def test_range_requests_return_206_with_content_range(people, local_storage):
    data = webm_bytes(1.0)
    material = material_create(user=people.tanaka, kind="video", title="Clip", scope="public", upload=upload("c.webm", data))
    client = login(people.amina)
    url = f"/library/{material.pk}/files/{main_file(material).pk}/"
    response = client.get(url, headers={"Range": "bytes=10-99"})
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-99/{len(data)}"
    assert response["Content-Length"] == "90"
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == data[10:100]
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and body(tail) == data[-50:]
    open_ended = client.get(url, headers={"Range": f"bytes={len(data) - 5}-"})
    assert body(open_ended) == data[-5:]
    assert response["Content-Disposition"].startswith("inline")  # a video plays in the page


def test_range_past_the_end_is_416(people, local_storage):
    material = material_create(user=people.tanaka, kind="pdf", title="x", scope="public", upload=upload("x.pdf", sample_pdf()))
    file = main_file(material)
    response = login(people.amina).get(f"/library/{material.pk}/files/{file.pk}/", headers={"Range": f"bytes={file.size + 10}-"})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{file.size}"


def test_if_range_with_an_old_etag_gets_the_whole_file(people, local_storage):
    material = material_create(user=people.tanaka, kind="pdf", title="x", scope="public", upload=upload("x.pdf", sample_pdf()))
    file = main_file(material)
    response = login(people.amina).get(
        f"/library/{material.pk}/files/{file.pk}/", headers={"Range": "bytes=0-9", "If-Range": '"stale"'}
    )
    assert response.status_code == 200 and len(body(response)) == file.size


@pytest.mark.parametrize(
    "header,expected",
    [("", None), ("bytes=0-0", (0, 0)), ("bytes=5-", (5, 99)), ("bytes=-10", (90, 99)), ("bytes=0-500", (0, 99)),
     ("bytes=100-", "unsatisfiable"), ("bytes=0-1,5-6", None), ("items=0-1", None), ("bytes=9-3", None)],
)
def test_parse_range(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.django_db(transaction=True)
async def test_daphne_path_streams_without_reading_the_whole_file(people, local_storage):
    """Under ASGI the response body is an async iterator (Django would list() a sync one)."""
    from asgiref.sync import sync_to_async
    from django.test import AsyncClient

    material = await sync_to_async(material_create)(
        user=people.tanaka, kind="video", title="Clip", scope="public", upload=upload("c.webm", webm_bytes(1.0))
    )
    file = await sync_to_async(main_file)(material)
    client = AsyncClient()
    await sync_to_async(client.force_login)(people.amina)
    response = await client.get(f"/library/{material.pk}/files/{file.pk}/", headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.is_async
    chunks = [chunk async for chunk in response.streaming_content]
    assert b"".join(chunks) == (await sync_to_async(lambda: open(file_path(file), "rb").read(10))())


def file_path(file) -> str:
    from django.core.files.storage import default_storage

    return default_storage.path(file.storage_name)
