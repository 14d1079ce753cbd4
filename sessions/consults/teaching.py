"""Turning a consult into a teaching case for the library, with the patient's teaching consent.

Three steps, each a function here:

1. `teaching_case_preview`: the supervisor sees every free-text field as it would be
   shared, with the identifiers the detector found already replaced and the kinds listed;
2. the supervisor reads and edits each field, ticks that each was read, and for each
   photo says whether it goes in and that it shows no full face or identifying mark;
3. `teaching_case_share`: checks the confirmation, runs the detector again on the edited
   text (anything still found is refused), and creates the case in the library through
   the library's own service.

Without current teaching consent nothing is shown or shared; a withdrawal later also
withdraws a case already shared (`teaching_case_withdraw_for_consent`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.models import Institution, User
from sessions.models import ClinicalPhoto, ConsentScope, ConsultNote, ConsultRequest, ConsultStatus

from . import selectors
from .audit import AuditSource, audit_append
from .deidentify import SAFE_HARBOR_KINDS, deidentify_text
from .selectors import SUPERVISOR

logger = logging.getLogger(__name__)

# The case fields, in the order the form shows them, with their labels.
CASE_FIELDS: list[tuple[str, Any]] = [
    ("title", gettext_lazy("Title")),
    ("history", gettext_lazy("History (from the subjective part)")),
    ("examination", gettext_lazy("Examination (from the objective part)")),
    ("question", gettext_lazy("Question for the learner")),
    ("discussion", gettext_lazy("Discussion (assessment, plan and comments)")),
    ("learning_points", gettext_lazy("Learning points, one per line")),
]


@dataclass
class FieldPreview:
    name: str
    label: str
    text: str
    found: dict[str, int] = field(default_factory=dict)

    @property
    def found_labels(self) -> list[str]:
        return [f"{SAFE_HARBOR_KINDS[kind]} ×{count}" for kind, count in sorted(self.found.items())]


@dataclass
class TeachingCasePreview:
    consult: ConsultRequest
    fields: list[FieldPreview]
    photos: list[ClinicalPhoto]


def _known_names(consult: ConsultRequest) -> list[str]:
    people = [consult.trainee, consult.supervisor, *[o.user for o in consult.observers.select_related("user")]]
    names: list[str] = []
    for person in people:
        if person is None:
            continue
        names += [person.first_name, person.last_name, person.display_name, person.username]
    return [n for n in names if n]


def _known_places() -> list[str]:
    return list(Institution.objects.values_list("city", flat=True))


def _check_allowed(*, user: User, consult: ConsultRequest) -> ConsultNote:
    selectors.consult_require_role(user=user, consult=consult, roles=(SUPERVISOR,))
    if not selectors.consult_has_consent(consult=consult, scope=ConsentScope.TEACHING):
        raise PermissionRefused(_("The patient has not consented to teaching use, or has withdrawn it."),
                                code="teaching_consent_missing")
    note = ConsultNote.objects.filter(consult=consult).first()
    if note is None or not note.is_signed:
        raise InvalidRequest(_("Sign the note before turning the consult into a teaching case."), code="note_not_signed")
    if consult.teaching_material_id:
        raise InvalidRequest(_("This consult is already a teaching case."), code="already_shared")
    return note


def teaching_case_preview(*, user: User, consult: ConsultRequest, source: AuditSource | None = None) -> TeachingCasePreview:
    """The draft case, de-identified as far as the detector can, for the supervisor to check."""
    note = _check_allowed(user=user, consult=consult)
    addenda = "\n".join(a.text for a in note.addenda.all())
    drafts = {
        "title": _("%(specialty)s consult") % {"specialty": consult.specialty},
        "history": note.subjective,
        "examination": note.objective,
        "question": _("What is your assessment, and what would you do next?"),
        "discussion": "\n\n".join(p for p in (note.assessment, note.plan, note.supervisor_comments, addenda) if p),
        "learning_points": "",
    }
    names, places = _known_names(consult), _known_places()
    previews: list[FieldPreview] = []
    for name, label in CASE_FIELDS:
        result = deidentify_text(drafts[name], known_names=names, known_places=places)
        previews.append(FieldPreview(name, str(label), result.text, dict(result.kinds)))
    photos = list(ClinicalPhoto.objects.filter(consult=consult))
    audit_append(actor=user, action="teaching.preview", consult=consult, source=source,
                 detail={"found": sum(sum(p.found.values()) for p in previews)})
    return TeachingCasePreview(consult, previews, photos)


def teaching_case_share(
    *, user: User, consult: ConsultRequest, texts: dict[str, str], fields_checked: set[str],
    photo_ids: set[int], photos_checked: set[int], confirmed: bool, scope: str = "partners",
    licence: str = "cc-by-nc-sa", source: AuditSource | None = None,
) -> Any:
    """Share the checked, de-identified case in the library (as the supervisor's school).

    Refused unless: teaching consent stands, the note is signed, every field was marked as
    read, every included photo was marked as showing no face or identifying mark, the
    supervisor confirmed, and the detector finds nothing left in the edited text.
    """
    _check_allowed(user=user, consult=consult)
    missing = [str(label) for name, label in CASE_FIELDS if name not in fields_checked]
    if missing:
        raise InvalidRequest(_("Read and tick every field before sharing: %(fields)s.") % {"fields": ", ".join(missing)},
                             code="fields_not_checked")
    photos = list(ClinicalPhoto.objects.filter(consult=consult, pk__in=photo_ids))
    if len(photos) != len(photo_ids):
        raise InvalidRequest(_("A chosen photo does not belong to this consult."), code="bad_photo")
    if any(photo.pk not in photos_checked for photo in photos):
        raise InvalidRequest(_("Confirm for each included photo that it shows no face and no identifying mark."),
                             code="photos_not_checked")
    if not confirmed:
        raise InvalidRequest(_("Confirm that you checked the case for identifiers."), code="not_confirmed")
    cleaned = {name: (texts.get(name) or "").strip() for name, _label in CASE_FIELDS}
    if not cleaned["title"] or not cleaned["history"]:
        raise InvalidRequest(_("The case needs a title and a history."), code="case_incomplete")
    names, places = _known_names(consult), _known_places()
    leftovers = {
        name: deidentify_text(text, known_names=names, known_places=places).kinds
        for name, text in cleaned.items()
    }
    leftovers = {name: kinds for name, kinds in leftovers.items() if kinds}
    if leftovers:
        raise InvalidRequest(
            _("Identifiers remain in: %(fields)s. Remove them and try again.")
            % {"fields": ", ".join(str(dict(CASE_FIELDS)[name]) for name in leftovers)},
            code="identifiers_remain",
        )
    from courses.library.services import CaseImage, material_create

    # A stored photo always has its file name (typed optional).
    images = [CaseImage(file=default_storage.open(photo.file.name, "rb"), caption=photo.caption,  # type: ignore[arg-type]
                        name=f"image-{index}.{photo.file.name.rsplit('.', 1)[-1]}")  # type: ignore[union-attr]
              for index, photo in enumerate(photos, start=1)]
    try:
        with transaction.atomic():
            consult = ConsultRequest.objects.select_for_update().get(pk=consult.pk)
            if consult.teaching_material_id:
                raise InvalidRequest(_("This consult is already a teaching case."), code="already_shared")
            material = material_create(
                user=user, kind="case", title=cleaned["title"], language=consult.language, licence=licence,
                scope=scope, discipline=consult.specialty, topics=[consult.specialty],
                description=_("A de-identified teaching case from a supervised remote consult."),
                authors=user.name,
                case={"history": cleaned["history"], "examination": cleaned["examination"], "investigations": "",
                      "question": cleaned["question"], "discussion": cleaned["discussion"],
                      "learning_points": cleaned["learning_points"].splitlines()},
                case_images=images,
            )
            ConsultRequest.objects.filter(pk=consult.pk).update(teaching_material_id=material.pk)
            audit_append(actor=user, action="teaching.share", consult=consult, source=source,
                         detail={"material": material.pk, "photos": sorted(p.pk for p in photos)})
    finally:
        for image in images:
            image.file.close()
    logger.info("consult %s shared as library material %s", consult.pk, material.pk)
    return material


def teaching_case_withdraw_for_consent(*, by: User, consult: ConsultRequest, source: AuditSource | None = None) -> bool:
    """Teaching consent was withdrawn: stop sharing the case made from this consult, if any."""
    if not consult.teaching_material_id:
        return False
    from courses.models import Material

    material = Material.objects.filter(pk=consult.teaching_material_id).first()
    if material is None or material.withdrawn_at is not None:
        return False
    from django.utils import timezone

    from courses.library.events import material_event_emit

    # The withdrawal of consent binds the platform whoever contributed the case, so this
    # does not go through the contributor's permission check.
    Material.objects.filter(pk=material.pk).update(withdrawn_at=timezone.now())
    material_event_emit(kind="material.withdrawn", material_id=material.pk)
    audit_append(actor=by, action="teaching.withdrawn", consult=consult, source=source, detail={"material": material.pk})
    return True


def teaching_status(*, consult: ConsultRequest) -> str:
    """What the consult page offers: "possible" only when sharing would succeed (the patient
    consented to teaching and the note is signed), so the button never leads to a refusal."""
    if consult.teaching_material_id:
        return "shared"
    if consult.status == ConsultStatus.CANCELLED:
        return "none"
    if not selectors.consult_has_consent(consult=consult, scope=ConsentScope.TEACHING):
        return "no_consent"
    note = ConsultNote.objects.filter(consult=consult).only("signed_at").first()
    return "possible" if note is not None and note.is_signed else "note_not_signed"
