"""Small JPEG previews, so the library shows what a file is before anyone downloads it.

Images are scaled with Pillow, a PDF's first page is rendered with pypdfium2, and a
video's first picture is decoded with PyAV. A preview that cannot be made is not an
error: the material simply has none (logged, without any content).
"""

from __future__ import annotations

import io
import logging
from typing import IO

logger = logging.getLogger(__name__)

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
        document = pdfium.PdfDocument(fileobj.read() if not hasattr(fileobj, "temporary_file_path") else fileobj.temporary_file_path())
        try:
            if len(document) == 0:
                return None
            page = document[0]
            width, _height = page.get_size()
            scale = min(2.0, THUMBNAIL_BOX[0] / max(width, 1))
            bitmap = page.render(scale=scale)
            image = bitmap.to_pil()
            page.close()
            return _to_jpeg(image)
        finally:
            document.close()
    except Exception:
        logger.warning("no PDF preview could be rendered", exc_info=True)
        return None
    finally:
        fileobj.seek(0)


def thumbnail_of_video(fileobj: IO[bytes]) -> bytes | None:
    """The first decodable picture of a video."""
    import av

    fileobj.seek(0)
    try:
        with av.open(fileobj) as container:
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
