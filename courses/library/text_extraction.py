"""The words inside a shared file, for full-text search.

Why: search read only the title, description, topics and case fields, so a word found only
in a PDF's text (a drug name on slide 14) found nothing. The text of each PDF is read with
pdfium (pypdfium2, already used for slides) when the file is contributed or replaced, and
kept on the material (`Material.file_text`), which `material_search_text` adds to what
PostgreSQL's and SQLite's full-text indexes read.

Bounded: at most `MAX_PAGES` pages and `MAX_CHARS` characters are kept (the words that
matter for finding a document come early, and the index stays small); a PDF pdfium cannot
read gives no text rather than an error (the upload inspection has already accepted it).
"""

from __future__ import annotations

import logging
import re
from typing import IO

import pypdfium2

logger = logging.getLogger(__name__)

MAX_PAGES = 300
MAX_CHARS = 200_000
_SPACE = re.compile(r"\s+")


def pdf_text(fileobj: IO[bytes]) -> str:
    """The text of a PDF's first pages, whitespace-normalised (empty if unreadable)."""
    fileobj.seek(0)
    data = fileobj.read()
    fileobj.seek(0)
    parts: list[str] = []
    length = 0
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        logger.info("PDF text not extracted: pdfium cannot read the file")
        return ""
    try:
        for index in range(min(len(document), MAX_PAGES)):
            page = document[index]
            textpage = page.get_textpage()
            try:
                text = _SPACE.sub(" ", textpage.get_text_range()).strip()
            finally:
                textpage.close()
                page.close()
            if text:
                parts.append(text)
                length += len(text) + 1
            if length >= MAX_CHARS:
                break
    finally:
        document.close()
    # Text the database cannot store never reaches it (server/storable_text.py).
    return re.sub("[\x00\ud800-\udfff]", " ", "\n".join(parts)[:MAX_CHARS])
