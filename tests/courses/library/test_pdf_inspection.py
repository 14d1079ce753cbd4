"""PDF active content is found in the parsed document, however it is written.

The byte pattern the library used let through `/J#61vaScript` (the same name, hex-escaped)
and actions inside compressed object streams. Each hostile PDF here is built with pikepdf
and sent through the contribute form as a faculty member would; the refusal is read from
the page.
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from courses.library.pdf_inspection import pdf_active_content
from courses.models import Material

from .conftest import sample_pdf
from .test_views import contribute_form, login

pytestmark = pytest.mark.django_db

REFUSAL = "PDFs with JavaScript, launch actions or embedded files are not accepted"


def built(change, *, object_streams: bool = False) -> bytes:
    """The sample PDF with `change(pdf)` applied, saved (optionally into object streams)."""
    with pikepdf.open(io.BytesIO(sample_pdf())) as pdf:
        change(pdf)
        out = io.BytesIO()
        mode = pikepdf.ObjectStreamMode.generate if object_streams else pikepdf.ObjectStreamMode.disable
        pdf.save(out, object_stream_mode=mode, compress_streams=True)
        return out.getvalue()


def javascript_open_action(pdf) -> None:
    pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")))


def launch_on_a_link_annotation(pdf) -> None:
    action = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))
    link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10], A=action)
    pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))


def page_open_script(pdf) -> None:
    pdf.pages[0].AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("x()")))


def embedded_file(pdf) -> None:
    data = pdf.make_stream(b"MZ not really an exe", Type=pikepdf.Name.EmbeddedFile)
    spec = pikepdf.Dictionary(Type=pikepdf.Name.Filespec, F=pikepdf.String("notes.exe"), EF=pikepdf.Dictionary(F=data))
    pdf.Root.Names = pikepdf.Dictionary(EmbeddedFiles=pikepdf.Dictionary(Names=[pikepdf.String("notes.exe"), spec]))


def hex_escaped(data: bytes) -> bytes:
    """The same document with its names written in hex escapes (the bytes no longer say /JavaScript)."""
    escaped = data.replace(b"/JavaScript", b"/J#61vaScript").replace(b"/JS ", b"/J#53 ")
    assert b"/JavaScript" not in escaped
    return escaped


HOSTILE = {
    "javascript open action": built(javascript_open_action),
    "javascript, hex-escaped names": hex_escaped(built(javascript_open_action)),
    "javascript in a compressed object stream": built(javascript_open_action, object_streams=True),
    "launch action on a link": built(launch_on_a_link_annotation, object_streams=True),
    "script when a page opens": built(page_open_script, object_streams=True),
    "embedded file": built(embedded_file, object_streams=True),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_pdf_is_refused_on_the_contribute_page(people, name):
    data = HOSTILE[name]
    if name != "javascript, hex-escaped names":
        assert pdf_active_content(io.BytesIO(data)), name
    response = login(people.hoffmann).post("/library/contribute/", contribute_form(
        institution=people.schools.heidelberg.pk, upload=SimpleUploadedFile("notes.pdf", data, content_type="application/pdf")))
    assert response.status_code == 400
    assert REFUSAL in response.content.decode()
    assert not Material.objects.exists()


def test_the_byte_pattern_alone_would_have_missed_them():
    for name in ("javascript, hex-escaped names", "javascript in a compressed object stream"):
        assert b"/JavaScript" not in HOSTILE[name], name


def test_ordinary_pdfs_pass_including_ones_with_links_and_object_streams(people, local_storage):
    def plain_link(pdf) -> None:
        action = pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://www.who.int/"))
        link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10], A=action)
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))

    for data in (sample_pdf(), built(plain_link, object_streams=True)):
        assert pdf_active_content(io.BytesIO(data)) is None
    response = login(people.hoffmann).post("/library/contribute/", contribute_form(
        institution=people.schools.heidelberg.pk,
        upload=SimpleUploadedFile("notes.pdf", built(plain_link, object_streams=True), content_type="application/pdf")))
    assert response.status_code == 303


def test_a_pdf_that_cannot_be_parsed_is_refused_with_a_clear_reason(people):
    broken = b"%PDF-1.7\n" + b"garbage " * 200 + b"\n%%EOF\n"
    response = login(people.hoffmann).post("/library/contribute/", contribute_form(
        institution=people.schools.heidelberg.pk, upload=SimpleUploadedFile("notes.pdf", broken, content_type="application/pdf")))
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
