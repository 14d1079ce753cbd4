"""The library's pages and JSON API, as a person and a client see them."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from courses.library.services import material_create
from courses.models import Material

from .conftest import photo_with_gps, png_bytes, sample_pdf, upload

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def contribute_form(**overrides) -> dict:
    data = {
        "kind": "file", "title": "Acute abdomen", "description": "", "discipline": "Surgery", "topics": "appendicitis, peritonitis",
        "competencies": "", "level": "clinical", "language": "en", "licence": "cc-by", "authors": "Dr. A",
        "scope": "partners", "url": "", "history": "", "examination": "", "investigations": "", "case_captions": "",
        "question": "", "discussion": "", "learning_points": "",
    }
    data.update(overrides)
    return data


def test_faculty_contributes_a_file_through_the_form(people, local_storage):
    client = login(people.hoffmann)
    page = client.get("/library/contribute/")
    assert page.status_code == 200 and "upload.js" in page.content.decode()
    form = contribute_form(institution=people.schools.heidelberg.pk, upload=SimpleUploadedFile("Abdomen.PDF", sample_pdf()))
    response = client.post("/library/contribute/", form)
    material = Material.objects.get(title="Acute abdomen")
    assert response.status_code == 303 and response["Location"] == f"/library/{material.pk}/"
    assert material.kind == "pdf" and material.topics == ["appendicitis", "peritonitis"]
    detail = client.get(response["Location"]).content.decode()
    assert "Sabine Hoffmann" in detail and "CC BY 4.0" in detail and "Germany" in detail
    assert 'class="file-size"' in detail and "KB" in detail  # size before download


def test_refused_upload_shows_its_message_on_the_form(people):
    client = login(people.hoffmann)
    bad = SimpleUploadedFile("cute.png", png_bytes() + b"<script>alert(1)</script>", content_type="image/png")
    response = client.post("/library/contribute/", contribute_form(institution=people.schools.heidelberg.pk, upload=bad))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The image hides HTML or script inside it and was refused." in html
    assert 'value="Acute abdomen"' in html  # nothing typed is lost
    assert not Material.objects.exists()


def test_students_are_refused_the_contribute_page_with_a_reason(people):
    response = login(people.amina).get("/library/contribute/")
    assert response.status_code == 403
    assert "Only faculty, supervisors and coordinators can contribute to the library." in response.content.decode()


def test_anonymous_visitor_is_sent_to_log_in_to_contribute(people):
    response = Client().get("/library/contribute/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_search_page_shows_facets_and_only_visible_results(people):
    material_create(user=people.hoffmann, kind="link", url="https://x.org", title="Sepsis bundle", scope="partners", discipline="Emergency medicine")
    seen = login(people.amina).get("/library/", {"q": "sepsis"}).content.decode()
    assert "Sepsis bundle" in seen and "Emergency medicine" in seen and 'data-facet="country"' in seen
    hidden = login(people.awa).get("/library/", {"q": "sepsis"}).content.decode()
    assert "Sepsis bundle" not in hidden and "Nothing found" in hidden


def test_material_page_of_another_school_is_refused(people):
    material = material_create(user=people.hoffmann, kind="link", url="https://x.org", title="Internal", scope="school")
    response = login(people.amina).get(f"/library/{material.pk}/")
    assert response.status_code == 403
    assert "This material does not exist or is not shared with your school." in response.content.decode()


def test_video_page_does_not_preload(people, local_storage):
    from .conftest import webm_bytes

    material = material_create(user=people.tanaka, kind="video", title="Clip", scope="public", upload=upload("c.webm", webm_bytes(1.0)))
    html = login(people.amina).get(f"/library/{material.pk}/").content.decode()
    assert 'preload="none"' in html and "autoplay" not in html


def test_case_page_lays_out_the_case(people, local_storage):
    from io import BytesIO

    from courses.library.services import CaseImage

    material = material_create(
        user=people.mensah, kind="case", title="Child with cough", scope="public",
        case={"history": "Three weeks of cough.", "examination": "Crackles.", "question": "Next step?",
              "discussion": "Consider TB.", "learning_points": ["Ask about contacts"]},
        case_images=[CaseImage(file=BytesIO(photo_with_gps()), caption="Chest X-ray", name="cxr.jpg")],
    )
    html = login(people.awa).get(f"/library/{material.pk}/").content.decode()
    for text in ("Three weeks of cough.", "Crackles.", "Next step?", "Consider TB.", "Ask about contacts", "Chest X-ray"):
        assert text in html


def test_edit_makes_a_version_and_history_lists_them(people):
    material = material_create(user=people.tanaka, kind="link", url="https://x.org", title="Old title", scope="public")
    client = login(people.tanaka)
    form = contribute_form(title="New title", url="https://x.org", change_note="Clearer title")
    response = client.post(f"/library/{material.pk}/edit/", form)
    assert response.status_code == 303
    history = client.get(f"/library/{material.pk}/versions/").content.decode()
    assert "Version 2" in history and "Version 1" in history and "Clearer title" in history and "Old title" in history


def test_other_school_faculty_cannot_edit(people):
    material = material_create(user=people.tanaka, kind="link", url="https://x.org", title="T", scope="public")
    response = login(people.hoffmann).get(f"/library/{material.pk}/edit/")
    assert response.status_code == 403
    assert "Only the contributor and faculty of the contributing school can edit this material." in response.content.decode()


def test_api_search_returns_facets_and_visible_items(people):
    material_create(user=people.hoffmann, kind="link", url="https://x.org", title="Malaria in pregnancy", scope="partners", discipline="Obstetrics and gynaecology")
    answer = login(people.amina).get("/api/library/search", {"q": "malaria"}).json()
    assert answer["total"] == 1 and answer["items"][0]["title"] == "Malaria in pregnancy"
    assert answer["items"][0]["country"] == "DE"
    assert {f["value"] for f in answer["facets"]["kind"]} == {"link"}
    assert login(people.awa).get("/api/library/search", {"q": "malaria"}).json()["total"] == 0


def test_api_material_lists_files_with_sizes_and_versions(people, local_storage):
    material = material_create(user=people.tanaka, kind="pdf", title="Stroke", scope="public", upload=upload("s.pdf", sample_pdf()))
    answer = login(people.amina).get(f"/api/library/materials/{material.pk}").json()
    assert answer["files"][0]["size"] > 0 and answer["files"][0]["url"].startswith(f"/library/{material.pk}/files/")
    assert [v["number"] for v in answer["versions"]] == [1]
    hidden = material_create(user=people.tanaka, kind="link", url="https://x.org", title="Own", scope="school")
    refused = login(people.amina).get(f"/api/library/materials/{hidden.pk}")
    assert refused.status_code == 403 and refused.json()["code"] == "material_not_visible"


def test_api_needs_authentication(people):
    assert Client().get("/api/library/search").status_code == 401
