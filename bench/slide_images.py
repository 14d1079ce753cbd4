"""A library image shown in the room: what the rendering child costs, and what viewers download.

Run: ``.venv/bin/python bench/slide_images.py`` (a few seconds; no server, no network).

For three teaching images made here (an ECG on pink paper, a grey radiograph-like
PNG, a 12-megapixel camera photo), it runs the slides renderer's child process
(sessions/slides/render.py, `--kind image`, the limits the room uses) several times and
prints its wall time (process start included) and the bytes of the large (1280 px) and
small (480 px) images it keeps, beside the stock way: every viewer downloading the
library's original file.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sessions.slides.render import RenderLimits, render_in_child  # noqa: E402

RUNS = 5


def ecg() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (2200, 1400), (250, 215, 215))
    draw = ImageDraw.Draw(image)
    for x in range(0, 2200, 40):
        draw.line([(x, 0), (x, 1400)], fill=(240, 160, 160), width=1)
    for y in range(0, 1400, 40):
        draw.line([(0, y), (2200, y)], fill=(240, 160, 160), width=1)
    for row in range(4):
        base = 200 + row * 320
        points = []
        for x in range(0, 2200, 4):
            beat = x % 220
            y = base - (120 if 100 <= beat < 108 else 30 if 108 <= beat < 116 else 0) + (20 if 150 <= beat < 190 else 0)
            points.append((x, y))
        draw.line(points, fill=(20, 20, 20), width=3)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def radiograph() -> bytes:
    from PIL import Image, ImageDraw, ImageFilter

    image = Image.new("L", (2000, 2500), 20)
    draw = ImageDraw.Draw(image)
    draw.ellipse((300, 300, 950, 2100), fill=70)
    draw.ellipse((1050, 300, 1700, 2100), fill=70)
    for y in range(400, 2000, 110):
        draw.arc((250, y, 1750, y + 500), 200, 340, fill=200, width=28)
    draw.rectangle((940, 0, 1060, 2500), fill=190)
    image = image.filter(ImageFilter.GaussianBlur(6))
    noise = Image.effect_noise((2000, 2500), 18)
    image = Image.blend(image, noise, 0.12)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def photo() -> bytes:
    from PIL import Image

    small = Image.effect_mandelbrot((400, 300), (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB")
    image = small.resize((4000, 3000), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((4000, 3000), 30).convert("RGB")
    image = Image.blend(image, noise, 0.15)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def main() -> None:
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"{'image':<28}{'original':>12}{'large 1280':>14}{'small 480':>12}{'child p50':>12}{'worst':>8}")
    for name, data in (("ECG 2200x1400 JPEG", ecg()), ("radiograph 2000x2500 PNG", radiograph()), ("photo 4000x3000 JPEG", photo())):
        times = []
        sizes: tuple[int, int] = (0, 0)
        for _ in range(RUNS):
            with tempfile.TemporaryDirectory() as workdir:
                source = Path(workdir) / "source"
                source.write_bytes(data)
                out = Path(workdir) / "out"
                out.mkdir()
                started = time.perf_counter()
                events = list(render_in_child(source, out, widths=(1280, 480), image_format="webp", limits=RenderLimits(), kind="image"))
                times.append(time.perf_counter() - started)
                large, small = events[-1]["images"]
                sizes = (large["bytes"], small["bytes"])
        print(f"{name:<28}{len(data) / 1024:>10.1f}KB{sizes[0] / 1024:>12.1f}KB{sizes[1] / 1024:>10.1f}KB"
              f"{statistics.median(times):>11.2f}s{max(times):>7.2f}s")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
