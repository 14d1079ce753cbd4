"""Rendering a PDF's pages (or one library image) to light images, in a child process.

Why a child process: PDFium is not thread-safe (no two calls at once in one process,
not even on different documents, or the process crashes), the web process already
calls it for library thumbnails, and a hostile or broken PDF must not take a daphne
process (and every socket on it) down with it. So the web process never renders: it
runs this file as a script with `sys.executable -I` (no Django, no environment secrets,
its own memory and CPU limits, lower priority) and reads one JSON line per event:

    {"pages": 12}                                   the page count, first
    {"page": 1, "images": [{"width": 1280, "height": 720, "bytes": 18211, "file": "0001-1280.webp"}, …]}
    {"error": "too_many_pages"}                     then exit status 2

Each page is rendered by PDFium directly at each width (text stays sharp; a downscaled
render needs many more bytes) and encoded twice, lossless and lossy WebP, keeping the
smaller: slides of text and flat colour are a few KB lossless, photos are smaller lossy.

An image (`--kind image`: an ECG, a radiograph, a photo from the library, already
cleaned of metadata by the library) is one page: decoded by Pillow (PNG, JPEG, GIF,
WebP only; at most MAX_IMAGE_PIXELS), fitted into each width the same way and never
enlarged (an enlarged image costs bytes and shows nothing more), encoded the same way.
It runs in the same child for the same reasons: a decoder bug or a decompression bomb
costs the child, within its memory limit, not the web process.

This module imports only the standard library at the top, so the child starts fast;
pypdfium2 and Pillow are imported in the child.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Quality of the lossy encoding (WebP 0-100; JPEG alike). Tuned on lecture slides: text
#: stays readable at 480 px, a photo slide stays under ~60 KB at 1280 px.
LOSSY_QUALITY = 70
#: A page is fitted into width × (width × MAX_ASPECT): a tall page (a scroll of a
#: poster) cannot become a gigapixel image.
MAX_ASPECT = 1.5
#: Exit status of the child when it reports a refusal ({"error": …}).
EXIT_REFUSED = 2

FORMATS = {"webp": ("image/webp", "webp"), "jpeg": ("image/jpeg", "jpg")}
#: What the source is: a PDF's pages, or one raster image.
KINDS = ("pdf", "image")
#: Image formats the child decodes (what the library keeps after cleaning an upload).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
#: Largest image decoded (the library refuses uploads above 40 megapixels).
MAX_IMAGE_PIXELS = 40_000_000


class RenderFailed(Exception):
    """Rendering stopped; `code` says why (see docs/slides.md for the codes)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class RenderLimits:
    """What one render may cost: pages, wall time, memory, CPU seconds."""

    max_pages: int = 300
    timeout_seconds: float = 600.0
    memory_mb: int = 1024


# --- the parent's side -----------------------------------------------------------------


def render_in_child(
    pdf_path: Path, out_dir: Path, *, widths: tuple[int, ...], image_format: str, limits: RenderLimits,
    kind: str = "pdf",
) -> Iterator[dict]:
    """Run the renderer on `pdf_path` (a PDF, or an image when `kind` is "image") in a child
    process; yield its events as they come.

    Images are written to `out_dir` (the caller stores and removes them). Raises
    RenderFailed with the child's refusal code, "render_timeout" when it ran past the
    limit (it is killed), or "render_crashed" when it died without saying why (PDFium
    crashed, or the memory limit was hit).
    """
    command = [
        sys.executable, "-I", str(Path(__file__).resolve()),
        "--out", str(out_dir), "--widths", ",".join(str(w) for w in widths), "--format", image_format,
        "--max-pages", str(limits.max_pages), "--memory-mb", str(limits.memory_mb),
        "--cpu-seconds", str(int(limits.timeout_seconds) + 5), "--kind", kind, str(pdf_path),
    ]
    # The child parses untrusted bytes: it gets no secrets (database, S3 keys) from us.
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, env=environment,
            cwd=str(out_dir), text=True,
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            process.kill()

        timer = threading.Timer(limits.timeout_seconds, kill)
        timer.daemon = True
        timer.start()
        refused = ""
        try:
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if "error" in event:
                    refused = str(event["error"])[:40]
                    continue
                yield event
            status = process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        if timed_out.is_set():
            raise RenderFailed("render_timeout")
        if refused:
            raise RenderFailed(refused)
        if status != 0:
            raise RenderFailed("render_crashed")


# --- the child's side ------------------------------------------------------------------


def _limit_child(memory_mb: int, cpu_seconds: int) -> None:
    """Cap memory and CPU, lower the priority, and die with the parent (Linux)."""
    import resource

    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    try:
        os.nice(10)
    except OSError:
        pass
    try:  # PR_SET_PDEATHSIG = 1: SIGKILL this process when the thread that started it ends
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _encode(image, image_format: str) -> bytes:
    """The smaller of a lossless and a lossy encoding (JPEG: lossy only)."""
    if image_format == "jpeg":
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=LOSSY_QUALITY, optimize=True, progressive=True)
        return out.getvalue()
    lossless, lossy = io.BytesIO(), io.BytesIO()
    image.save(lossless, format="WEBP", lossless=True, quality=80, method=4)
    image.save(lossy, format="WEBP", quality=LOSSY_QUALITY, method=4)
    return min(lossless.getvalue(), lossy.getvalue(), key=len)


def render_page_images(page, widths: tuple[int, ...], image_format: str) -> list[tuple[int, int, bytes]]:
    """(width, height, encoded bytes) of `page` rendered at each of `widths`."""
    page_width, page_height = page.get_size()
    page_width, page_height = max(page_width, 1.0), max(page_height, 1.0)
    images = []
    for width in widths:
        scale = min(width / page_width, width * MAX_ASPECT / page_height)
        bitmap = page.render(scale=scale, rev_byteorder=True, may_draw_forms=False)
        image = bitmap.to_pil()
        if image.mode != "RGB":
            image = image.convert("RGB")
        images.append((image.width, image.height, _encode(image, image_format)))
        bitmap.close()
    return images


def render_image_file(path: str, widths: tuple[int, ...], image_format: str) -> list[tuple[int, int, bytes]]:
    """(width, height, encoded bytes) of the image at `path` fitted into each of `widths`.

    Raises ValueError (and Pillow's own errors, all caught by the caller) for anything
    that is not one of IMAGE_FORMATS or is larger than MAX_IMAGE_PIXELS.
    """
    import warnings

    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    warnings.simplefilter("error", Image.DecompressionBombWarning)  # refuse, do not just warn
    with Image.open(path, formats=IMAGE_FORMATS) as opened:
        largest = max(widths)
        opened.draft("RGB", (largest, int(largest * MAX_ASPECT)))  # JPEG: decode at a reduced scale
        image = ImageOps.exif_transpose(opened)
        image.load()
    if image.mode in ("RGBA", "LA", "PA", "P"):
        rgba = image.convert("RGBA")  # transparency onto white, as a slide's background
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    source_width, source_height = max(image.width, 1), max(image.height, 1)
    images = []
    for width in widths:
        scale = min(1.0, width / source_width, width * MAX_ASPECT / source_height)
        size = (max(1, round(source_width * scale)), max(1, round(source_height * scale)))
        fitted = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
        images.append((fitted.width, fitted.height, _encode(fitted, image_format)))
    return images


def _image_main(args: argparse.Namespace, widths: tuple[int, ...], extension: str) -> int:
    """One image as a one-page deck (see the module docstring)."""
    try:
        rendered = render_image_file(args.pdf, widths, args.format)
    except Exception:  # not an image of an accepted format, damaged, or too many pixels
        _say({"error": "image_unreadable"})
        return EXIT_REFUSED
    _say({"pages": 1})
    images = []
    for width, (real_width, real_height, data) in zip(widths, rendered, strict=True):
        name = f"0001-{width}.{extension}"
        (Path(args.out) / name).write_bytes(data)
        images.append({"width": real_width, "height": real_height, "bytes": len(data), "file": name})
    _say({"page": 1, "images": images})
    return 0


def _say(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def child_main(argv: list[str] | None = None) -> int:
    """Render every page of a PDF into --out; report on stdout (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Render a PDF's pages (or an image) to images (OpenRounds slides).")
    parser.add_argument("pdf")
    parser.add_argument("--kind", default="pdf", choices=KINDS)
    parser.add_argument("--out", required=True)
    parser.add_argument("--widths", default="1280,480")
    parser.add_argument("--format", default="webp", choices=sorted(FORMATS))
    parser.add_argument("--max-pages", type=int, default=300)
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--cpu-seconds", type=int, default=600)
    args = parser.parse_args(argv)
    _limit_child(args.memory_mb, args.cpu_seconds)
    widths = tuple(int(w) for w in args.widths.split(","))
    extension = FORMATS[args.format][1]
    if args.kind == "image":
        return _image_main(args, widths, extension)

    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(args.pdf)
    except pdfium.PdfiumError:
        _say({"error": "pdf_unreadable"})  # damaged, or protected by a password
        return EXIT_REFUSED
    count = len(document)
    if count == 0:
        _say({"error": "pdf_empty"})
        return EXIT_REFUSED
    if count > args.max_pages:
        _say({"error": "too_many_pages"})
        return EXIT_REFUSED
    _say({"pages": count})
    out = Path(args.out)
    for index in range(count):
        page = document[index]
        try:
            rendered = render_page_images(page, widths, args.format)
        except pdfium.PdfiumError:
            _say({"error": "pdf_unreadable"})
            return EXIT_REFUSED
        finally:
            page.close()
        images = []
        for width, (real_width, real_height, data) in zip(widths, rendered, strict=True):
            name = f"{index + 1:04d}-{width}.{extension}"
            (out / name).write_bytes(data)
            images.append({"width": real_width, "height": real_height, "bytes": len(data), "file": name})
        _say({"page": index + 1, "images": images})
    document.close()
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
