"""The offline bundle of a course: one zip, streamed while it is written, never held whole.

For students on paid data: download once (when data is cheap), then read without a
network. The zip holds an `index.html` (inline CSS, relative links only, licence and
source school per item), each available item's files, and each teaching case rendered
as its own HTML page next to its images. Only items the downloader may see under the
library's scope rules go in; the rest are named in the index as no longer shared.

How it streams: `zipfile` writes into a sink that is not seekable, so it uses data
descriptors and never seeks back; after every block written we hand the sink's bytes to
the response and forget them. Memory stays at about one block (`BLOCK_SIZE`) plus the
pages rendered up front (text only), whatever the size of the course. Under ASGI the
response gets an async iterator (a sync one would be read into a list by Django first).
"""

from __future__ import annotations

import io
import logging
import posixpath
import zipfile
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.core.files.storage import Storage, default_storage
from django.http import HttpRequest, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import get_valid_filename, slugify

from courses.models import Course, FileRole, MaterialFile, MaterialKind, QuestionSet
from server.people.http import AnyUser

from .material_facts import ItemFacts
from .selectors import CourseOutline, course_outline

logger = logging.getLogger(__name__)

BLOCK_SIZE = 256 * 1024

try:  # S3 reports a missing object as a ClientError, local files as an OSError.
    from botocore.exceptions import ClientError as _S3Error

    UNREADABLE_ERRORS: tuple[type[Exception], ...] = (OSError, _S3Error)
except ImportError:  # pragma: no cover - botocore is installed with django-storages[s3]
    UNREADABLE_ERRORS = (OSError,)
#: Entries this large need ZIP64 headers, which must be chosen before writing them.
ZIP64_THRESHOLD = zipfile.ZIP64_LIMIT - BLOCK_SIZE


@dataclass
class BundleFile:
    """One entry of the zip: either a stored library file or a page rendered up front."""

    arcname: str
    size: int
    storage_name: str = ""
    content: bytes | None = None

    @property
    def compress(self) -> bool:
        # Pages compress well; PDFs, images and media are compressed already.
        return self.content is not None


@dataclass
class BundleItem:
    """An item as the index shows it."""

    position: str
    facts: ItemFacts | None
    note: str
    page: str = ""
    files: list[tuple[str, MaterialFile]] = field(default_factory=list)


@dataclass
class BundleModule:
    title: str
    summary: str
    items: list[BundleItem] = field(default_factory=list)
    # (relative page path, title) of each question set's offline page.
    question_sets: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class BundlePlan:
    course: Course
    filename: str
    entries: list[BundleFile]
    unavailable_count: int

    @property
    def size_bytes(self) -> int:
        return sum(entry.size for entry in self.entries)


def bundle_size_estimate(*, outline: CourseOutline) -> int:
    """What the page says before download: the files' bytes plus a little for the pages."""
    pages = sum(1 for item in outline.available_items if item.kind == MaterialKind.CASE)
    return outline.total_size_bytes + 8 * 1024 * (pages + 1)


def _safe_file_name(name: str, used: set[str]) -> str:
    """A file name that stays inside its folder and does not collide with another."""
    base = get_valid_filename(posixpath.basename(name.replace("\\", "/"))) or "file"
    base = base.lstrip(".") or "file"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    candidate = base[:120]
    counter = 2
    while candidate.lower() in used or candidate.lower() in {"case.html"}:
        candidate = f"{stem[:100]}-{counter}{dot}{ext}"
        counter += 1
    used.add(candidate.lower())
    return candidate


def bundle_plan(*, user: AnyUser, course: Course) -> BundlePlan:
    """Decide what goes into the bundle for `user` and render its pages.

    Precondition: `user` may open `course` (the view uses `course_get_for_viewer`).
    Rendering happens here, in the request (active language and time zone), so the
    streaming part only copies bytes.
    """
    outline = course_outline(user=user, course=course)
    entries: list[BundleFile] = []
    modules: list[BundleModule] = []
    for m_index, module_view in enumerate(outline.modules, start=1):
        bundle_module = BundleModule(title=module_view.module.title, summary=module_view.module.summary)
        for i_index, item_view in enumerate(module_view.items, start=1):
            position = f"{m_index}.{i_index}"
            if not item_view.available:
                bundle_module.items.append(BundleItem(position=position, facts=None, note=""))
                continue
            facts: ItemFacts = item_view.facts
            folder = f"items/{m_index:02d}-{i_index:02d}-{slugify(facts.title)[:50] or 'item'}"
            bundle_item = BundleItem(position=position, facts=facts, note=item_view.item.note)
            used: set[str] = set()
            images: list[tuple[str, MaterialFile]] = []
            for stored in facts.files:
                name = _safe_file_name(stored.original_name, used)
                relative = f"{folder}/{name}"
                entries.append(BundleFile(arcname=relative, size=stored.size, storage_name=stored.storage_name))
                if stored.role == FileRole.CASE_IMAGE:
                    images.append((name, stored))
                else:
                    bundle_item.files.append((relative, stored))
            if facts.kind == MaterialKind.CASE:
                page = render_to_string(
                    "curriculum/bundle/case.html",
                    {"course": course, "facts": facts, "case": facts.case, "images": images},
                ).encode("utf-8")
                bundle_item.page = f"{folder}/case.html"
                entries.append(BundleFile(arcname=bundle_item.page, size=len(page), content=page))
            else:
                # Case images only belong to cases; elsewhere list them like other files.
                bundle_item.files.extend((f"{folder}/{name}", stored) for name, stored in images)
            bundle_module.items.append(bundle_item)
        for q_index, question_set in enumerate(module_view.question_sets, start=1):
            entries.extend(_question_set_entries(user, course, question_set, f"quizzes/{m_index:02d}-{q_index:02d}", bundle_module))
        modules.append(bundle_module)
    index = render_to_string(
        "curriculum/bundle/index.html",
        {
            "course": course,
            "modules": modules,
            "generated_at": timezone.now(),
            "downloader": user,
            "unavailable_count": outline.unavailable_count,
        },
    ).encode("utf-8")
    entries.insert(0, BundleFile(arcname="index.html", size=len(index), content=index))
    filename = f"{slugify(course.title)[:60] or 'course'}-offline.zip"
    logger.info("course %s bundle planned: %d entries, %d bytes", course.pk, len(entries), sum(e.size for e in entries))
    return BundlePlan(course=course, filename=filename, entries=entries, unavailable_count=outline.unavailable_count)


def _question_set_entries(
    user: AnyUser, course: Course, question_set: QuestionSet, folder: str, bundle_module: BundleModule
) -> list[BundleFile]:
    """A question set's offline page (the questions without their key, as the learner's
    client gets them) and its images. Answering needs the quiz page in the browser: a page
    opened from a zip cannot reach the server, so it points there."""
    from courses.assessment.selectors import learner_question_set, question_image, question_set_questions

    data = learner_question_set(user=user, question_set=question_set)
    entries: list[BundleFile] = []
    used: set[str] = set()
    images: dict[int, str] = {}
    for view in question_set_questions(user=user, question_set=question_set):
        image = question_image(user=user, material=view.question.image)
        if image is not None:
            name = _safe_file_name(image.name, used)
            images[view.question.pk] = name
            entries.append(BundleFile(arcname=f"{folder}/{name}", size=image.size, storage_name=image.storage_name))
    for question in data["questions"]:
        question["image_file"] = images.get(question["id"], "")
    page = render_to_string(
        "assessment/bundle_quiz.html",
        {"course": course, "question_set": question_set, "data": data,
         "online_path": f"/courses/{course.pk}/quizzes/{question_set.pk}/"},
    ).encode("utf-8")
    bundle_module.question_sets.append((f"{folder}/quiz.html", question_set.title))
    entries.insert(0, BundleFile(arcname=f"{folder}/quiz.html", size=len(page), content=page))
    return entries


class _ChunkSink(io.RawIOBase):
    """A write-only, non-seekable stream that keeps what was written until drained."""

    def __init__(self) -> None:
        super().__init__()
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _storage_blocks(storage: Storage, name: str, block_size: int) -> Iterator[bytes]:
    """Read a stored file block by block.

    django-storages' S3 file object downloads the whole object into a buffer before the
    first read, so on S3 we read the object's body stream directly instead.
    """
    bucket = getattr(storage, "bucket", None)
    if bucket is not None and hasattr(storage, "_normalize_name"):
        from storages.utils import clean_name

        key = storage._normalize_name(clean_name(name))  # noqa: SLF001 - the key S3Storage._open uses
        body = bucket.Object(key).get()["Body"]
        try:
            yield from body.iter_chunks(block_size)
        finally:
            body.close()
        return
    with storage.open(name, "rb") as handle:
        while block := handle.read(block_size):
            yield block


def bundle_stream(
    plan: BundlePlan, *, storage: Storage | None = None, block_size: int = BLOCK_SIZE
) -> Generator[bytes]:
    """Yield the zip of `plan` piece by piece as it is written.

    A stored file that cannot be read when its turn comes (deleted meanwhile) is replaced
    by a short note, so one missing file does not spoil the whole download.
    """
    storage = storage or default_storage
    sink = _ChunkSink()
    now = timezone.now().timetuple()[:6]
    with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
        for entry in plan.entries:
            info = zipfile.ZipInfo(entry.arcname, date_time=now)
            info.compress_type = zipfile.ZIP_DEFLATED if entry.compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            if entry.content is not None:
                archive.writestr(info, entry.content)
                yield sink.drain()
                continue
            blocks = _storage_blocks(storage, entry.storage_name, block_size)
            try:
                first = next(blocks, b"")
            except UNREADABLE_ERRORS as error:
                logger.warning("course %s bundle: stored file unreadable (%s)", plan.course.pk, type(error).__name__)
                missing = zipfile.ZipInfo(entry.arcname + ".missing.txt", date_time=now)
                archive.writestr(missing, "This file could not be read from storage when the bundle was made.\n")
                yield sink.drain()
                continue
            with archive.open(info, "w", force_zip64=entry.size >= ZIP64_THRESHOLD) as target:
                target.write(first)
                yield sink.drain()
                for block in blocks:
                    target.write(block)
                    yield sink.drain()
            yield sink.drain()
    tail = sink.drain()
    if tail:
        yield tail


async def _async_blocks(blocks: Generator[bytes]) -> AsyncIterator[bytes]:
    """Pull from a sync generator in a worker thread, one block at a time."""
    sentinel = object()
    pull = sync_to_async(lambda: next(blocks, sentinel), thread_sensitive=False)
    try:
        while True:
            block = await pull()
            if block is sentinel:
                return
            if block:
                yield block  # type: ignore[misc]
    finally:
        await sync_to_async(blocks.close, thread_sensitive=False)()


def bundle_response(request: HttpRequest, plan: BundlePlan) -> StreamingHttpResponse:
    """A streamed download of the bundle, sync or async to match the server."""
    blocks = bundle_stream(plan)
    is_asgi = hasattr(request, "scope")
    response = StreamingHttpResponse(
        _async_blocks(blocks) if is_asgi else (block for block in blocks if block),
        content_type="application/zip",
    )
    response["Content-Disposition"] = f'attachment; filename="{plan.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
