"""A tiny PDF writer for demo and test material (no reportlab needed).

It writes valid PDF 1.4 files with Helvetica text on A4 pages: a title, paragraphs
wrapped at a fixed width, and optional simple rectangles (a stand-in for a figure).
Enough for real-looking lecture notes and handouts that pypdfium2 renders.
"""

from __future__ import annotations

import textwrap


def _escape(text: str) -> str:
    text = text.encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_document(title: str, paragraphs: list[str], *, subtitle: str = "", pages: int = 1) -> bytes:
    """A PDF with `title` on top of the first page and `paragraphs` flowing over `pages`."""
    width, height = 595, 842
    lines: list[tuple[str, int, str]] = []  # (font, size, text)
    lines.append(("F2", 20, title))
    if subtitle:
        lines.append(("F1", 11, subtitle))
    lines.append(("F1", 11, ""))
    for paragraph in paragraphs:
        for line in textwrap.wrap(paragraph, 88) or [""]:
            lines.append(("F1", 11, line))
        lines.append(("F1", 11, ""))
    per_page = max(1, -(-len(lines) // max(1, pages)))
    chunks = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]

    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled below
    pages_obj = add(b"")
    font1 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    font2 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>")
    page_ids = []
    for number, chunk in enumerate(chunks, start=1):
        ops = ["0.13 0.35 0.55 rg", f"0 {height - 40} {width} 40 re f", "0 0 0 rg", "BT"]
        y = height - 90
        for font, size, text in chunk:
            ops.append(f"/{font} {size} Tf 1 0 0 1 56 {y} Tm ({_escape(text)}) Tj")
            y -= size + 6
        ops.append("ET")
        ops.append(f"BT /F1 9 Tf 1 0 0 1 56 30 Tm (OpenRounds shared library - page {number} of {len(chunks)}) Tj ET")
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> >>"
                % (pages_obj, width, height, content, font1, font2)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    info = add(b"<< /Title (%s) /Producer (OpenRounds) >>" % _escape(title).encode("latin-1"))

    return pdf_file(objects, root=catalog, info=info)


def pdf_file(objects: list[bytes], *, root: int, info: int | None = None) -> bytes:
    """Serialise numbered objects (1-based, in order) with their cross-reference table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for index, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % index + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, root)
    if info is not None:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)
