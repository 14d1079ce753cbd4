"""PDF documents of the learning record: a certificate, and a student's portfolio.

fpdf2 (pure Python, pinned) writes them; text is shaped by HarfBuzz (uharfbuzz), so
Arabic is joined and laid out right to left. The font is DejaVu Sans (Latin, Arabic),
from `RECORD_PDF_FONT` or the system's fonts. The QR code (segno) carries the public
verification address, so a printed certificate can be checked with a phone.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

import segno
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import override
from fpdf import FPDF

from sessions.models import Certificate

FONT_CANDIDATES = (
    os.environ.get("RECORD_PDF_FONT", ""),
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)


def _font_path() -> str:
    for candidate in FONT_CANDIDATES:
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError("No font for PDFs: install fonts-dejavu-core or set RECORD_PDF_FONT.")


class _Document(FPDF):
    def __init__(self, *, language: str, orientation: str = "P") -> None:
        super().__init__(orientation=orientation, format="A4")
        self.rtl = language == "ar"
        self.set_auto_page_break(auto=True, margin=15)
        self.add_font("DejaVu", "", _font_path())
        self.set_font("DejaVu", size=12)
        self.set_text_shaping(
            use_shaping_engine=True, direction="rtl" if self.rtl else "ltr",
            script="arab" if self.rtl else None, language=language,
        )
        self.set_lang(language)

    def line_of(self, text: str, *, size: int = 12, height: float = 8, center: bool = False) -> None:
        self.set_font_size(size)
        align = "C" if center else ("R" if self.rtl else "L")
        self.multi_cell(0, height, text, align=align, new_x="LMARGIN", new_y="NEXT")


def certificate_pdf(*, certificate: Certificate, verify_url: str) -> bytes:
    """The certificate in its holder's language, with its verification address and QR code."""
    with override(certificate.language):
        pdf = _Document(language=certificate.language, orientation="L")
        pdf.set_title(_("Certificate") + " · " + certificate.title)
        pdf.add_page()
        pdf.set_line_width(1.2)
        pdf.rect(8, 8, pdf.w - 16, pdf.h - 16)
        pdf.ln(12)
        if certificate.kind == "course":
            heading = _("Certificate of completion")
        else:
            heading = _("Certificate of attendance")
        pdf.line_of(heading, size=28, height=14, center=True)
        pdf.ln(4)
        pdf.line_of(_("This certifies that"), size=13, center=True)
        pdf.line_of(certificate.holder_name, size=24, height=14, center=True)
        if certificate.kind == "course":
            pdf.line_of(_("completed the course"), size=13, center=True)
        else:
            pdf.line_of(_("took part in"), size=13, center=True)
        pdf.line_of(certificate.title, size=18, height=11, center=True)
        details = [certificate.institution.name, formats.date_format(certificate.issued_at, "DATE_FORMAT")]
        if certificate.presence_percent is not None:
            details.append(_("present for %(percent)s%% (%(minutes)s min)") % {"percent": certificate.presence_percent, "minutes": certificate.minutes})
        pdf.line_of(" · ".join(details), size=12, center=True)
        qr = segno.make(verify_url, error="m")
        image = io.BytesIO()
        qr.save(image, kind="png", scale=6, border=2)
        image.seek(0)
        pdf.image(image, x=(pdf.w - 40) / 2, y=pdf.h - 68, w=40, h=40)
        pdf.set_y(pdf.h - 26)
        pdf.line_of(_("Check this certificate at:"), size=10, height=5, center=True)
        pdf.set_text_shaping(False)  # an address reads left to right in every language
        pdf.set_font_size(10)
        pdf.cell(0, 5, verify_url, align="C", link=verify_url)
        return bytes(pdf.output())


def portfolio_pdf(*, language: str, title: str, sections: Iterable[tuple[str, list[str]]]) -> bytes:
    """The portfolio as a simple document: a heading, then each section's lines."""
    with override(language):
        pdf = _Document(language=language)
        pdf.set_title(title)
        pdf.add_page()
        pdf.line_of(title, size=20, height=12)
        for heading, lines in sections:
            pdf.ln(3)
            pdf.line_of(heading, size=15, height=9)
            for line in lines or [_("Nothing yet.")]:
                pdf.line_of(line, size=11, height=6)
        return bytes(pdf.output())
