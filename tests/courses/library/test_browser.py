"""In Chromium: a faculty member uploads with the progress bar; a partner student finds and
downloads it; a student of a school without an active partnership cannot find it."""

from __future__ import annotations

import re

import pytest

from courses.library.minimal_pdf import pdf_document

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH_PROGRESS = """() => {
  const bar = document.querySelector('#material-form-container progress');
  sessionStorage.setItem('maxProgress', '0');
  new MutationObserver(() => {
    const seen = Number(sessionStorage.getItem('maxProgress') || 0);
    sessionStorage.setItem('maxProgress', String(Math.max(seen, bar.value)));
  }).observe(bar, { attributes: true });
}"""


def test_upload_with_progress_then_partner_finds_and_downloads_and_non_partner_cannot(people, browser_page, tmp_path):
    # 3 MB: above FILE_UPLOAD_MAX_MEMORY_SIZE, so the server streams it through a temporary file.
    pdf = pdf_document("Schistosomiasis field guide", ["Praziquantel dosing and snail habitats."]) + b"\n" + b" " * (3 * 1024 * 1024)
    path = tmp_path / "Schisto guide.pdf"
    path.write_bytes(pdf)

    faculty = browser_page("hoffmann")
    faculty.goto("/library/contribute/")
    faculty.get_by_label("File", exact=True).set_input_files(str(path))
    faculty.get_by_label("Title").fill("Schistosomiasis field guide")
    faculty.get_by_label("Discipline").fill("Infectious diseases")
    faculty.get_by_label("Topics").fill("schistosomiasis, praziquantel")
    faculty.get_by_label("Shared with").select_option("partners")
    faculty.evaluate(WATCH_PROGRESS)
    faculty.get_by_role("button", name="Share").click()
    faculty.wait_for_url(re.compile(r".*/library/\d+/$"))
    assert faculty.evaluate("() => Number(sessionStorage.getItem('maxProgress'))") == 100
    assert faculty.get_by_role("heading", name="Schistosomiasis field guide").is_visible()
    assert faculty.locator(".file-size").first.inner_text().endswith("MB")

    student = browser_page("amina")  # Lagos: active partnership with Heidelberg
    student.goto("/library/")
    student.get_by_label("Search the library").fill("schistosomiasis")
    student.get_by_role("button", name="Search").click()
    student.get_by_role("link", name="Schistosomiasis field guide").click()
    assert "Heidelberg" in student.locator(".shared-by").inner_text()
    assert student.locator(".licence").inner_text()
    with student.expect_download() as download_info:
        student.locator(".file-list a").first.click()
    downloaded = download_info.value
    assert downloaded.suggested_filename.endswith(".pdf")
    downloaded.save_as(tmp_path / "got.pdf")
    assert (tmp_path / "got.pdf").read_bytes() == pdf

    outsider = browser_page("awa")  # Dakar: partnership with Heidelberg only proposed
    outsider.goto("/library/?q=schistosomiasis")
    assert outsider.get_by_text("Nothing found that is shared with you.").is_visible()
    assert outsider.get_by_role("link", name="Schistosomiasis field guide").count() == 0


def test_large_file_goes_in_pieces_and_resumes_after_a_dropped_piece(people, browser_page, tmp_path):
    import hashlib

    from courses.models import FileRole, MaterialFile

    # 10 MB: three pieces of at most 4 MB; the second piece's first try is cut off.
    pdf = pdf_document("Snakebite management", ["Antivenom and pressure immobilisation."]) + b"\n" + b" " * (10 * 1024 * 1024)
    path = tmp_path / "snakebite.pdf"
    path.write_bytes(pdf)
    faculty = browser_page("hoffmann")
    dropped: list[str] = []
    chunk_urls: list[str] = []

    def flaky(route):
        chunk_urls.append(route.request.url)
        if "offset=4194304" in route.request.url and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    faculty.route(re.compile(r".*/api/library/uploads/[0-9a-f-]+/chunks.*"), flaky)
    faculty.goto("/library/contribute/")
    faculty.get_by_label("File", exact=True).set_input_files(str(path))
    faculty.get_by_label("Title").fill("Snakebite management")
    faculty.evaluate(WATCH_PROGRESS)
    faculty.get_by_role("button", name="Share").click()
    faculty.wait_for_url(re.compile(r".*/library/\d+/$"), timeout=30_000)
    assert dropped, "one piece was cut off"
    assert len(chunk_urls) == 4, chunk_urls  # three pieces, one sent twice
    assert faculty.evaluate("() => Number(sessionStorage.getItem('maxProgress'))") == 100
    stored = MaterialFile.objects.get(version__material__title="Snakebite management", role=FileRole.MAIN)
    assert stored.sha256 == hashlib.sha256(pdf).hexdigest()
