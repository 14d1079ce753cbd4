"""The host puts the annotated slide pages into the library as a PDF; nobody else can."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from courses.models import Material, MaterialFile
from sessions.annotation import codec, export, services
from sessions.models import Participant, SessionStatus
from sessions.slides import services as slides_services
from tests.courses.library.conftest import library_storage  # noqa: F401
from tests.sessions.slides.conftest import make_ready_deck

pytestmark = pytest.mark.django_db


def test_strokes_are_drawn_on_the_page_image():
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (400, 200), "white").save(blank, format="PNG")
    line = {"tool": "pen", "color": "red", "width": 3, "d": codec.encode([(1000, 5000), (9000, 5000)])}
    mark = {"tool": "highlighter", "color": "yellow", "width": 2, "d": codec.encode([(5000, 1000), (5000, 1000)])}
    drawn = export._draw_page(blank.getvalue(), [line, mark])
    assert drawn.getpixel((200, 100))[:3] == (214, 39, 40)  # the red line
    assert drawn.getpixel((20, 100)) == (255, 255, 255)  # before it starts
    yellowish = drawn.getpixel((200, 20))
    assert yellowish[2] < 200 and yellowish[0] > 240  # translucent yellow over white


def test_the_host_exports_the_annotated_pages_to_the_library(people, client, library_storage):  # noqa: F811
    """On local files, then on S3 (pass 2)."""
    from tests.sessions.room.conftest import make_session

    session = make_session(people)
    deck = make_ready_deck(session, people.tanaka, pages=3)
    slides_services.slides_open(session=session, user=people.tanaka, deck_id=deck.pk)
    line = codec.encode([(1000, 1000), (5000, 5000)])
    services.stroke_add(session=session, user=people.tanaka, deck_id=deck.pk, page=1, tool="pen", color="red", width=2, d=line)
    slides_services.slides_goto(session=session, user=people.tanaka, page=3)
    services.stroke_add(session=session, user=people.tanaka, deck_id=deck.pk, page=3, tool="pen", color="blue", width=2, d=line)
    Participant.objects.get_or_create(session=session, user=people.tanaka)  # he was in the room
    session.status = SessionStatus.ENDED
    session.save(update_fields=["status"])
    url = reverse("annotation:export", args=[session.pk])

    client.force_login(people.amina)
    refused = client.post(url, follow=True)
    assert "Only the host can put the annotated slides in the library." in refused.content.decode()
    assert not Material.objects.filter(title__startswith="Annotated slides").exists()

    client.force_login(people.tanaka)
    record = client.get(reverse("room:room", args=[session.pk])).content.decode()
    assert "Put the annotated slides in the library" in record
    answer = client.post(url)
    material = Material.objects.get(title=f"Annotated slides: {session.title}")
    assert answer.status_code == 303 and answer["Location"] == reverse("material-detail", args=[material.pk])
    assert material.kind == "pdf" and material.scope == "school" and material.contributed_by == people.tanaka
    pdf = MaterialFile.objects.get(version__material=material, content_type="application/pdf")
    assert pdf.content_type == "application/pdf"
    import pypdfium2
    from django.core.files.storage import default_storage

    with default_storage.open(pdf.storage_name, "rb") as handle:
        assert len(pypdfium2.PdfDocument(handle.read())) == 2  # pages 1 and 3, not the blank page 2
