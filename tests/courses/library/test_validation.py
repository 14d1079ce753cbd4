"""Uploads are judged by their bytes: every refusal says what was wrong."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.test import override_settings
from PIL import Image

from courses.library.storage import safe_file_name, storage_name_for
from courses.library.validation import image_clean, upload_inspect
from server.people.errors import InvalidRequest

from .conftest import photo_with_gps, png_bytes, pptx_bytes, sample_pdf, webm_bytes


def refusal(data: bytes, kind: str | None = None) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        upload_inspect(io.BytesIO(data), declared_kind=kind)
    return caught.value


def test_pdf_is_recognised_by_content_whatever_its_name():
    inspected = upload_inspect(io.BytesIO(sample_pdf()))
    assert (inspected.kind, inspected.content_type, inspected.extension) == ("pdf", "application/pdf", "pdf")
    assert len(inspected.sha256) == 64


def test_png_header_followed_by_html_is_refused():
    data = png_bytes() + b"<html><body><script>alert(document.cookie)</script></body></html>"
    error = refusal(data)
    assert error.code == "file_polyglot"
    assert "hides HTML or script" in error.message


def test_html_page_is_refused():
    error = refusal(b"<!DOCTYPE html><html><body>hi</body></html>")
    assert error.code == "file_html"
    assert "HTML" in error.message


def test_svg_with_script_is_refused_and_clean_svg_is_accepted():
    error = refusal(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    assert error.code == "svg_script"
    assert "scripts" in error.message
    handler = refusal(b'<svg xmlns="http://www.w3.org/2000/svg"><rect onload="alert(1)"/></svg>')
    assert handler.code == "svg_script"
    clean = upload_inspect(io.BytesIO(b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="4" height="4"/></svg>'))
    assert clean.content_type == "image/svg+xml"


@pytest.mark.parametrize(
    "head",
    [b"MZ\x90\x00\x03\x00\x00\x00", b"\x7fELF\x02\x01\x01", b"#!/bin/sh\nrm -rf /\n", b"\xcf\xfa\xed\xfe\x07\x00"],
    ids=["windows", "linux", "script", "macos"],
)
def test_executables_are_refused(head):
    error = refusal(head + b"\x00" * 200)
    assert error.code == "file_executable"
    assert error.message == "Programs and scripts cannot be shared in the library."


def test_zip_bomb_disguised_as_slides_is_refused():
    bomb = pptx_bytes({"ppt/media/huge.xml": b"\x00" * (60 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024  # tiny on the wire
    error = refusal(bomb, "slides")
    assert error.code == "zip_bomb"
    assert "zip bomb" in error.message


def test_zip_with_too_many_uncompressed_bytes_in_its_headers_is_refused(monkeypatch):
    monkeypatch.setattr("courses.library.validation.ZIP_MAX_UNCOMPRESSED", 1000)
    error = refusal(pptx_bytes({"ppt/notes.xml": b"a" * 2000}, compression=zipfile.ZIP_STORED), "slides")
    assert error.code == "zip_bomb"


def test_slides_with_macros_are_refused():
    error = refusal(pptx_bytes({"ppt/vbaProject.bin": b"macro"}), "slides")
    assert error.code == "office_macros"


def test_pptx_is_accepted_as_slides():
    inspected = upload_inspect(io.BytesIO(pptx_bytes()), declared_kind="slides")
    assert inspected.kind == "slides"
    assert inspected.extension == "pptx"


def test_word_document_is_refused_with_advice():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    error = refusal(out.getvalue())
    assert error.code == "file_type_unsupported"
    assert "save documents as PDF" in error.message


def test_unknown_bytes_are_refused():
    error = refusal(b"just some plain text notes\n" * 10)
    assert error.code == "file_type_unknown"


def test_empty_file_is_refused():
    assert refusal(b"").message == "The file is empty."


def test_file_of_another_kind_than_chosen_is_refused():
    error = refusal(png_bytes(), "pdf")
    assert error.code == "file_kind_mismatch"
    assert "PNG image" in error.message


@override_settings(LIBRARY_UPLOAD_LIMITS={"image": 50})
def test_size_limit_is_per_kind():
    error = refusal(png_bytes(), "image")
    assert error.code == "file_too_large"
    assert "at most 50 bytes" in error.message
    assert upload_inspect(io.BytesIO(sample_pdf()), declared_kind="pdf").kind == "pdf"


def test_pdf_with_javascript_is_refused():
    data = sample_pdf().replace(b"/Type /Catalog", b"/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >>")
    error = refusal(data)
    assert error.code == "pdf_active_content"


def test_broken_image_is_refused():
    error = refusal(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert error.code == "image_broken"


def test_video_is_inspected_with_its_duration():
    inspected = upload_inspect(io.BytesIO(webm_bytes(1.0)), declared_kind="video")
    assert inspected.kind == "video"
    assert inspected.content_type == "video/webm"
    assert inspected.duration and inspected.duration > 0.5
    assert (inspected.width, inspected.height) == (160, 120)


def test_cleaned_photo_has_no_exif_gps_or_xmp_and_stays_upright():
    original = photo_with_gps(orientation=6)
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get(0x8825)  # the fixture really carries GPS
    clean = image_clean(io.BytesIO(original))
    with Image.open(io.BytesIO(clean.data)) as after:
        assert not after.getexif()
        assert "exif" not in after.info and "xmp" not in after.info
        # orientation 6 means "rotate 90° clockwise": the 64x32 picture is now 32x64,
        # and the blue band that was on the left is on top.
        assert after.size == (32, 64)
        red, green, blue = after.convert("RGB").getpixel((16, 2))
        assert blue > 200 and red < 60
    assert b"PhoneMaker" not in clean.data and b"GPS" not in clean.data


@pytest.mark.parametrize(
    "name,expected",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("...", "file"),
        ("Lecture 3 – Herz (final).pdf", "Lecture-3-Herz-final.pdf"),
        (".htaccess", "file.htaccess"),
    ],
)
def test_file_names_cannot_escape_their_folder(name, expected):
    assert safe_file_name(name) == expected
    stored = storage_name_for(material_id=7, file_name=name)
    assert stored.startswith("library/7/") and ".." not in stored and stored.count("/") == 3


def test_extension_comes_from_the_content():
    assert safe_file_name("notes.html", extension="pdf") == "notes.pdf"
