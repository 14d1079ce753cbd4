"""Active content in a PDF, found in the parsed document rather than in its bytes.

Why: the library refused a PDF whose bytes contained `/JavaScript`, but names may be
written with hex escapes (`/J#61vaScript` is the same name) and objects may sit in a
compressed object stream, so the byte pattern missed the same document written another
way. pikepdf (qpdf) parses the file, decodes object streams and normalises names; every
object of the document is then walked, wherever it hangs (catalog, name trees, pages,
annotations, form fields, outlines, actions chained with /Next), and the PDF is refused
if anything could run or carry a file:

* JavaScript (`/JS`, `/JavaScript` name tree or action), launch, import, submit-form,
  rich-media, rendition and go-to-embedded actions (`/S`);
* embedded files (`/EmbeddedFiles` name tree, `/EF` file specifications,
  `/Type /EmbeddedFile` streams, file-attachment annotations);
* XFA forms (`/XFA`), which carry their own scripts.

A PDF that cannot be parsed, or is encrypted so that it cannot be read, is refused too:
what cannot be inspected is not published.
"""

from __future__ import annotations

from typing import IO, Any

import pikepdf

#: Actions (`/S`) that run something, reach outside the document, or open an embedded file.
DANGEROUS_ACTIONS = frozenset({
    "/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/RichMediaExecute", "/Rendition", "/GoToE",
})
#: Keys whose presence alone means active content or an embedded file.
DANGEROUS_KEYS = frozenset({"/JS", "/JavaScript", "/EmbeddedFiles", "/EF", "/XFA", "/RichMediaContent"})
DANGEROUS_TYPES = frozenset({"/EmbeddedFile"})
DANGEROUS_SUBTYPES = frozenset({"/FileAttachment", "/RichMedia"})
#: A walk this deep inside one object is itself suspicious (and bounds the work).
MAX_DEPTH = 64


class PdfUnreadable(Exception):
    """The PDF cannot be parsed or decrypted, so it cannot be inspected."""


def pdf_active_content(fileobj: IO[bytes]) -> str | None:
    """What active content the PDF holds (e.g. "/S /JavaScript"), or None if there is none.

    Raises PdfUnreadable if the document cannot be parsed. Leaves `fileobj` at 0.
    """
    fileobj.seek(0)
    try:
        with pikepdf.open(fileobj) as pdf:  # type: ignore[arg-type]  # pikepdf reads any binary file object
            for obj in pdf.objects:
                found = _dangerous(obj, 0)
                if found:
                    return found
            # The trailer and catalog themselves (direct dictionaries are not in `objects`).
            return _dangerous(pdf.trailer, 0) or _dangerous(pdf.Root, 0)
    except pikepdf.PasswordError as exc:
        raise PdfUnreadable("encrypted") from exc
    except pikepdf.PdfError as exc:
        raise PdfUnreadable(str(exc)[:200]) from exc
    finally:
        fileobj.seek(0)


def _dangerous(obj: Any, depth: int) -> str | None:
    """Look into one object and its direct (not indirect) children."""
    if depth > MAX_DEPTH:
        return "nesting too deep"
    if isinstance(obj, pikepdf.Stream):
        return _dangerous_dictionary(obj.stream_dict, depth)
    if isinstance(obj, pikepdf.Dictionary):
        return _dangerous_dictionary(obj, depth)
    if isinstance(obj, pikepdf.Array):
        for item in obj:
            if isinstance(item, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)) and not item.is_indirect:
                found = _dangerous(item, depth + 1)
                if found:
                    return found
    return None


def _dangerous_dictionary(dictionary: Any, depth: int) -> str | None:
    keys = set(dictionary.keys())
    hit = keys & DANGEROUS_KEYS
    if hit:
        return sorted(hit)[0]
    for key, wanted in (("/S", DANGEROUS_ACTIONS), ("/Type", DANGEROUS_TYPES), ("/Subtype", DANGEROUS_SUBTYPES)):
        value = dictionary.get(key)
        if isinstance(value, pikepdf.Name) and str(value) in wanted:
            return f"{key} {value}"
    for key in keys:
        value = dictionary.get(key)
        if isinstance(value, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)) and not value.is_indirect:
            found = _dangerous(value, depth + 1)
            if found:
                return found
    return None
