"""The offline bundle: what is inside, that its links work offline, and that it streams."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile

from asgiref.sync import async_to_sync
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse
from django.test import RequestFactory
from django.urls import reverse

from courses.curriculum import bundle as bundle_module
from courses.curriculum import services
from courses.curriculum.bundle import bundle_plan, bundle_response, bundle_stream
from courses.models import FileRole, MaterialFile, ProgressStatus
from server.people.models import Partnership, PartnershipStatus
from server.people.services import partnership_end

from .conftest import PDF_BYTES, PNG_BYTES, make_material


def _download(client, user, course) -> tuple[StreamingHttpResponse, zipfile.ZipFile]:
    client.force_login(user)
    response = client.get(reverse("course-bundle", args=[course.pk]))
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    return response, zipfile.ZipFile(io.BytesIO(data))


def _hrefs(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]+)"', html)


def test_bundle_is_a_streamed_zip_attachment(client, people, course):
    response, archive = _download(client, people.amina, course.course)
    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="acute-medicine-across-borders-offline.zip"'
    assert archive.testzip() is None


def test_index_links_every_included_file_relatively_and_bytes_are_intact(client, people, library, course):
    _response, archive = _download(client, people.amina, course.course)
    names = set(archive.namelist())
    index = archive.read("index.html").decode()
    local_links = [href for href in _hrefs(index) if not href.startswith("https://")]
    assert local_links, index
    for href in local_links:
        assert not href.startswith("/") and ".." not in href, href
        assert href in names, f"{href} is linked from index.html but not in the zip"
    assert archive.read("items/01-01-malaria-in-pregnancy/malaria.pdf") == PDF_BYTES
    assert "thumb.jpg" not in " ".join(names)  # previews are not content
    # The index works offline: no stylesheet, script or image from the network.
    assert "<style>" in index and "<script" not in index and "<link" not in index
    # Licence and source school per item; an online link is marked as such.
    assert "Shared by University of Lagos College of Medicine" in index
    assert "CC BY-NC 4.0" in index and "Public domain" in index
    assert 'href="https://example.org/guide"' in index


def test_case_is_a_readable_page_with_its_images_and_escaped_text(client, people, course):
    _response, archive = _download(client, people.amina, course.course)
    case_pages = [name for name in archive.namelist() if name.endswith("/case.html")]
    assert case_pages == ["items/02-01-chest-pain-after-a-marathon/case.html"]
    page = archive.read(case_pages[0]).decode()
    assert "Chest pain after a marathon" in page
    assert "&lt;b&gt;collapsed&lt;/b&gt;" in page  # case text is escaped, not injected
    assert "Get an ECG early" in page and "Check troponin" in page
    assert "CC BY-SA 4.0" in page
    assert f"shared by {people.schools.tokyo.name}" in page
    folder = case_pages[0].rsplit("/", 1)[0]
    for href in _hrefs(page):
        if href == "../../index.html":
            continue
        assert f"{folder}/{href}" in archive.namelist()
    assert archive.read(f"{folder}/ecg.png") == PNG_BYTES
    index = archive.read("index.html").decode()
    assert 'href="items/02-01-chest-pain-after-a-marathon/case.html"' in index


def test_bundle_holds_only_what_the_downloader_may_see(client, people, course):
    # Lukas (Heidelberg) may take the course, but Tokyo's case is not shared with Heidelberg.
    _response, archive = _download(client, people.lukas, course.course)
    assert not any("chest-pain" in name for name in archive.namelist())
    index = archive.read("index.html").decode()
    assert "Chest pain after a marathon" not in index
    assert "1 item is not included: it is no longer shared with your school." in index


def test_bundle_after_a_partnership_ends_leaves_the_partners_items_out(client, people, course):
    partnership = Partnership.objects.get(
        first__in=[people.schools.lagos, people.schools.heidelberg],
        second__in=[people.schools.lagos, people.schools.heidelberg],
        status=PartnershipStatus.ACTIVE,
    )
    partnership_end(by=people.okafor, partnership=partnership)
    _response, archive = _download(client, people.amina, course.course)
    assert not any("heart-sounds" in name for name in archive.namelist())


def test_bundle_refused_outside_the_audience(client, people, course):
    client.force_login(people.awa)
    response = client.get(reverse("course-bundle", args=[course.course.pk]))
    assert response.status_code == 403
    assert b"not open to you" in response.content


def test_bundle_streams_in_blocks_without_holding_the_file(people, course):
    """A 24 MB video goes out in blocks of about BLOCK_SIZE; memory stays far below its size."""
    big = b"\x1aE\xdf\xa3" + bytes(range(256)) * (24 * 4096)  # ~24 MiB
    material = make_material(
        by=people.adebayo, school=people.schools.lagos, title="Long lecture", files=[("lecture.webm", big, FileRole.MAIN)]
    )
    services.item_add(by=people.adebayo, module=course.modules[0], material=material)
    plan = bundle_plan(user=people.amina, course=course.course)
    tracemalloc.start()
    try:
        sizes: list[int] = []
        total = 0
        for chunk in bundle_stream(plan):
            sizes.append(len(chunk))
            total += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > len(big)
    assert len(sizes) > 90  # many pieces, not one
    assert max(sizes) <= bundle_module.BLOCK_SIZE + 64 * 1024
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes while streaming a {len(big)}-byte file"


def test_under_asgi_the_response_iterates_asynchronously(people, course):
    """Django reads a *sync* iterator into a list under ASGI, so ASGI gets an async one."""
    request = RequestFactory().get("/")
    request.scope = {"type": "http"}  # what an ASGIRequest carries
    request.user = people.amina
    response = bundle_response(request, bundle_plan(user=people.amina, course=course.course))
    assert response.is_async

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    archive = zipfile.ZipFile(io.BytesIO(async_to_sync(collect)()))
    assert "index.html" in archive.namelist()


def test_a_file_missing_from_storage_becomes_a_note_not_a_broken_zip(people, course):
    stored = MaterialFile.objects.get(version__material=course.items.lagos.material, role=FileRole.MAIN)
    default_storage.delete(stored.storage_name)
    plan = bundle_plan(user=people.amina, course=course.course)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(bundle_stream(plan))))
    assert "items/01-01-malaria-in-pregnancy/malaria.pdf.missing.txt" in archive.namelist()
    assert archive.testzip() is None


def test_bundle_size_is_shown_on_the_course_page_before_download(client, people, course):
    services.progress_set(user=people.amina, item=course.items.lagos, status=ProgressStatus.DONE)
    client.force_login(people.amina)
    page = client.get(reverse("course-detail", args=[course.course.pk])).content.decode()
    assert reverse("course-bundle", args=[course.course.pk]) in page
    match = re.search(r'class="bundle-size" data-bytes="(\d+)"', page)
    assert match is not None
    plan = bundle_plan(user=people.amina, course=course.course)
    stored_bytes = sum(entry.size for entry in plan.entries if entry.content is None)
    assert int(match.group(1)) >= stored_bytes
