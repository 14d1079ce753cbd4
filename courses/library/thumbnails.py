"""Small JPEG previews, so the library shows what a file is before anyone downloads it.

Images are scaled with Pillow, a PDF's first page is rendered with pypdfium2, and a
video's first picture is decoded with PyAV. A preview that cannot be made is not an
error: the material simply has none (logged, without any content).
"""

from __future__ import annotations

import io
import logging
import threading
from typing import IO

logger = logging.getLogger(__name__)

#: PDFium is not thread-safe, and daphne runs sync views in a thread pool: two uploads
#: rendering previews at once could crash the process. One render at a time.
_PDFIUM_LOCK = threading.Lock()

THUMBNAIL_BOX = (480, 360)


def _to_jpeg(image) -> bytes:
    from PIL import Image

    image.thumbnail(THUMBNAIL_BOX)
    if image.mode in ("RGBA", "LA", "PA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    elif image.mode != "RGB":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70, optimize=True)
    return out.getvalue()


def thumbnail_of_image(data: bytes) -> bytes:
    """A preview of an (already cleaned) image."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return _to_jpeg(image.copy())


def thumbnail_of_pdf(fileobj: IO[bytes]) -> bytes | None:
    """The first page of a PDF, rendered to fit the preview box."""
    import pypdfium2 as pdfium

    fileobj.seek(0)
    try:
        with _PDFIUM_LOCK:
            return _render_first_page(pdfium, fileobj)
    except Exception:
        logger.warning("no PDF preview could be rendered", exc_info=True)
        return None
    finally:
        fileobj.seek(0)


def _render_first_page(pdfium, fileobj: IO[bytes]) -> bytes | None:  # noqa: ANN001 (the pypdfium2 module)
    """Render page one to a JPEG preview (call with the PDFium lock held)."""
    source = fileobj.temporary_file_path() if hasattr(fileobj, "temporary_file_path") else fileobj.read()
    document = pdfium.PdfDocument(source)
    try:
        if len(document) == 0:
            return None
        page = document[0]
        width, _height = page.get_size()
        scale = min(2.0, THUMBNAIL_BOX[0] / max(width, 1))
        image = page.render(scale=scale).to_pil()
        page.close()
        return _to_jpeg(image)
    finally:
        document.close()


def thumbnail_of_video(fileobj: IO[bytes]) -> bytes | None:
    """The first decodable picture of a video."""
    import av

    fileobj.seek(0)
    try:
        with av.open(fileobj, mode="r") as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                return _to_jpeg(frame.to_image())
    except Exception:
        logger.warning("no video preview could be made", exc_info=True)
    finally:
        fileobj.seek(0)
    return None


def thumbnail_for(kind: str, content_type: str, fileobj: IO[bytes], cleaned: bytes | None) -> bytes | None:
    """The right preview for a stored file, or None."""
    if cleaned is not None and content_type != "image/svg+xml":
        return thumbnail_of_image(cleaned)
    if content_type == "application/pdf":
        return thumbnail_of_pdf(fileobj)
    if content_type.startswith("video/"):
        return thumbnail_of_video(fileobj)
    return None
