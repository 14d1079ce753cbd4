"""A word found only inside a PDF finds the material, through the library's search page and API."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from courses.library.minimal_pdf import pdf_document
from courses.library.text_extraction import pdf_text
from courses.models import Material

from .test_views import contribute_form, login

pytestmark = pytest.mark.django_db

WORD = "thrombolysis"


def lecture_pdf() -> bytes:
    return pdf_document("Stroke", ["Door to needle time under 60 minutes.", f"Alteplase {WORD} within 4.5 hours."])


def contribute(people, title: str = "Acute stroke") -> Material:
    response = login(people.hoffmann).post("/library/contribute/", contribute_form(
        title=title, topics="stroke", institution=people.schools.heidelberg.pk,
        upload=SimpleUploadedFile("stroke.pdf", lecture_pdf(), content_type="application/pdf")))
    assert response.status_code == 303
    return Material.objects.get(title=title)


def test_the_text_of_a_pdf_is_read(people):
    assert WORD in pdf_text(io.BytesIO(lecture_pdf()))
    assert pdf_text(io.BytesIO(b"%PDF-1.4 not really")) == ""


def test_a_word_only_inside_the_pdf_finds_it_on_the_search_page_and_in_the_api(people, local_storage):
    material = contribute(people)
    assert WORD not in (material.title + material.description + " ".join(material.topics))
    client = login(people.amina)  # Lagos and Heidelberg are partners
    page = client.get("/library/", {"q": WORD}).content.decode()
    assert "Acute stroke" in page
    found = client.get("/api/library/search", {"q": WORD}).json()
    assert [item["id"] for item in found["items"]] == [material.pk]
    assert client.get("/api/library/search", {"q": "appendectomy"}).json()["items"] == []


def test_existing_pdfs_are_made_searchable_by_the_backfill_command(people, local_storage):
    material = contribute(people)
    Material.objects.filter(pk=material.pk).update(file_text="", search_text="Acute stroke")
    client = login(people.amina)
    assert client.get("/api/library/search", {"q": WORD}).json()["items"] == []
    call_command("library_index_files")
    assert [item["id"] for item in client.get("/api/library/search", {"q": WORD}).json()["items"]] == [material.pk]
