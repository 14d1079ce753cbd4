"""Models: the shared library (see courses/library/).

A `Material` is one piece of learning material a school shares: a file (PDF, slides,
image, audio, video), a structured teaching case, a link, or a session recording. The
row holds the *current* metadata; every change adds a `MaterialVersion` (a snapshot of
the metadata and its own set of `MaterialFile` rows), so older versions stay readable
and downloadable. Writes go through `courses.library.services`; reads that depend on
who is asking go through `courses.library.selectors`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

__all__ = [
    "FILE_KINDS",
    "Level",
    "Licence",
    "Material",
    "MaterialFile",
    "MaterialKind",
    "MaterialVersion",
    "FileRole",
    "Scope",
    "UploadSession",
]


class MaterialKind(models.TextChoices):
    """What a material is. The first five are files; the others carry no upload of their own."""

    PDF = "pdf", _("PDF document")
    SLIDES = "slides", _("Slides")
    IMAGE = "image", _("Image")
    AUDIO = "audio", _("Audio")
    VIDEO = "video", _("Video")
    CASE = "case", _("Teaching case")
    LINK = "link", _("Link")
    RECORDING = "recording", _("Session recording")


FILE_KINDS = frozenset({"pdf", "slides", "image", "audio", "video", "recording"})


class Level(models.TextChoices):
    PRE_CLINICAL = "preclinical", _("Pre-clinical")
    CLINICAL = "clinical", _("Clinical")
    POSTGRADUATE = "postgraduate", _("Postgraduate")


class Licence(models.TextChoices):
    ALL_RIGHTS_RESERVED = "arr", _("All rights reserved")
    CC_BY = "cc-by", _("CC BY 4.0")
    CC_BY_SA = "cc-by-sa", _("CC BY-SA 4.0")
    CC_BY_ND = "cc-by-nd", _("CC BY-ND 4.0")
    CC_BY_NC = "cc-by-nc", _("CC BY-NC 4.0")
    CC_BY_NC_SA = "cc-by-nc-sa", _("CC BY-NC-SA 4.0")
    CC_BY_NC_ND = "cc-by-nc-nd", _("CC BY-NC-ND 4.0")
    PUBLIC_DOMAIN = "public-domain", _("Public domain")


class Scope(models.TextChoices):
    """Who may see a material, decided against the contributing school's ACTIVE partnerships."""

    PUBLIC = "public", _("Everyone")
    PARTNERS = "partners", _("Partner schools")
    OWN_SCHOOL = "school", _("Own school only")


class Material(models.Model):
    """The current state of one shared material (the latest version's metadata)."""

    kind = models.CharField(_("kind"), max_length=12, choices=MaterialKind.choices)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=5000)
    discipline = models.CharField(_("discipline"), max_length=80, blank=True, db_index=True)
    topics = models.JSONField(_("topics"), default=list, blank=True)
    competencies = models.JSONField(_("competencies"), default=list, blank=True)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices, default=Level.CLINICAL)
    language = models.CharField(_("language"), max_length=8, default="en")
    licence = models.CharField(
        _("licence"), max_length=16, choices=Licence.choices, default=Licence.ALL_RIGHTS_RESERVED
    )
    authors = models.CharField(_("authors"), max_length=300, blank=True)
    institution = models.ForeignKey(
        "people.Institution", on_delete=models.PROTECT, related_name="materials",
        verbose_name=_("contributing school"),
    )
    contributed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="materials",
        db_index=False,  # see Meta: no index on the columns of the visibility rule
    )
    scope = models.CharField(_("sharing scope"), max_length=10, choices=Scope.choices, default=Scope.PARTNERS)
    url = models.URLField(_("link"), blank=True, max_length=500)
    # A teaching case: {"history", "examination", "investigations", "question",
    # "discussion", "learning_points": [..]}; investigation images are MaterialFiles.
    case = models.JSONField(_("case"), default=dict, blank=True)
    session = models.ForeignKey(
        "live.LiveSession", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="recordings", help_text=_("The live session a recording comes from."),
    )
    version = models.PositiveIntegerField(default=1)
    # Title, description, topics, competencies and case text in one column, kept by the
    # services, indexed by FTS5 (SQLite) or a GIN tsvector index (PostgreSQL): see
    # courses/library/search.py and the 0002 migration.
    search_text = models.TextField(blank=True, default="")
    @property
    def language_name(self) -> str:
        """The material's language, named in the interface language (not its code)."""
        from server.languages import content_language_name

        return content_language_name(self.language)

    #: The text inside the current main file (PDFs), for search (courses/library/text_extraction.py).
    file_text = models.TextField(blank=True, default="")
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-pk"]
        # Deliberately no index on scope, kind or contributed_by: with one, SQLite answers
        # the visibility rule (an OR of scopes) by collecting every visible row through
        # the index and sorting them (250 ms at 100,000 materials) instead of walking the
        # primary key newest-first and stopping after one page (a few ms). The institution
        # foreign-key index stays (it is a join and the "school" facet filter).
        # `material_facet_scan` leads with the id, so it can never answer the scope OR
        # (no such trap) but serves a newest-first scan of the visibility and facet
        # columns without reading the wide rows (courses/library/search.py).
        indexes = [
            models.Index(fields=["-updated_at", "-id"], name="material_recent"),
            models.Index(
                fields=["id", "scope", "institution", "withdrawn_at", "contributed_by", "kind", "discipline",
                        "level", "language", "licence"],
                name="material_facet_scan",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_file_kind(self) -> bool:
        return self.kind in FILE_KINDS

    def current_version(self) -> MaterialVersion | None:
        return self.versions.filter(number=self.version).first()


class MaterialVersion(models.Model):
    """A snapshot of a material after one change. Never edited; its files stay in storage."""

    material = models.ForeignKey(Material, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    metadata = models.JSONField(default=dict)
    change_note = models.CharField(_("what changed"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["material", "number"], name="one_material_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.material_id} v{self.number}"


class FileRole(models.TextChoices):
    MAIN = "main", _("Main file")
    THUMBNAIL = "thumbnail", _("Thumbnail")
    CASE_IMAGE = "case_image", _("Case image")


class MaterialFile(models.Model):
    """One stored file of one version. A metadata-only change copies the row, not the bytes."""

    version = models.ForeignKey(MaterialVersion, on_delete=models.CASCADE, related_name="files")
    role = models.CharField(max_length=12, choices=FileRole.choices, default=FileRole.MAIN)
    storage_name = models.CharField(max_length=400)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    caption = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["role", "position", "pk"]

    def __str__(self) -> str:
        return self.original_name


class UploadSession(models.Model):
    """A file arriving in pieces (resumable upload), before it becomes a material's file.

    One POST cannot carry a 1 GB file through daphne (it holds a request body in
    memory), and a 3G connection rarely survives one anyway: the browser sends the
    file in chunks, each appended to `temp_path` at the offset the server expects
    (`received`), and asks for `received` to resume after a failure. Finalizing hands
    the assembled file to `material_create`. Writes go through
    `courses.library.uploads`; the id is random, and only the owner may use it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    file_name = models.CharField(max_length=200)
    # The kind the contributor chose ("file": taken from the content), as for material_create.
    kind = models.CharField(max_length=12, default="file")
    size = models.BigIntegerField(help_text=_("Bytes announced when the upload started."))
    received = models.BigIntegerField(default=0)
    # What the first bytes turned out to be (set by the early check of the first chunk).
    detected_kind = models.CharField(max_length=12, blank=True)
    # SHA-256 the client announced for the whole file (optional); checked when finalizing.
    sha256 = models.CharField(max_length=64, blank=True)
    temp_path = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "expires_at"], name="upload_owner_expiry")]

    def __str__(self) -> str:
        return f"upload {self.pk} ({self.received}/{self.size})"

    @property
    def complete(self) -> bool:
        return self.received == self.size

