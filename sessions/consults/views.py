"""Pages of supervised consults. Thin: parse, call a service or selector, render.

Every page about one consult goes through `_consult_for`, which checks that the user
takes part (refusals are audited and answered 403) and audits the read itself.
Anonymous visitors are sent to the log-in page by `login_required`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from server.people.models import User
from server.private_files import private_file_response
from sessions.models import ClinicalPhoto, ConsentScope, ConsultNotification, ConsultRequest

from . import selectors, services, teaching
from .audit import AuditSource, audit_verify
from .forms import (
    AcceptForm,
    AddendumForm,
    ConsentForm,
    ConsultRequestForm,
    ObserverForm,
    PhotoForm,
    RosterForm,
    RosterWindowForm,
    WithdrawForm,
)
from .selectors import SUPERVISOR, TRAINEE

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def _source(request: HttpRequest) -> AuditSource:
    return AuditSource.from_request(request)


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")[:-1]


def _consult_for(request: AuthenticatedHttpRequest, pk: int, *, what: str, roles: tuple[str, ...] = selectors.PARTICIPANT_ROLES) -> tuple[ConsultRequest, str]:
    """The consult and the user's role, or 403 (audited). Does not audit the read itself."""
    consult = get_object_or_404(ConsultRequest.objects.select_related("trainee", "supervisor", "session", "institution"), pk=pk)
    try:
        role = selectors.consult_require_role(user=request.user, consult=consult, roles=roles)
    except PermissionRefused as refusal:
        services.consult_access_refused(user=request.user, consult=consult, what=what, source=_source(request))
        raise PermissionDenied(refusal.message) from refusal
    return consult, role


def consult_page(view: View) -> View:
    """Log-in required, never cached (consult pages hold patient data), refusals as 403/messages."""

    @login_required
    @never_cache
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PermissionRefused as refusal:
            raise PermissionDenied(refusal.message) from refusal
        except InvalidRequest as problem:
            messages.error(request, problem.message)
            pk = kwargs.get("pk")
            return redirect("consults:detail", pk=pk) if pk else redirect("consults:index")

    return wrapper


@consult_page
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """My consults, my notices, and (for a coordinator) that consults happened at the school."""
    user: User = request.user
    notices = list(ConsultNotification.objects.filter(user=user)[:20])
    ConsultNotification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
    return render(request, "consults/index.html", {
        "consults": selectors.consults_of_participant(user=user)[:100],
        "notices": notices,
        "school_consults": selectors.consults_for_coordinator(user=user),
        "is_trainee": selectors.user_is_trainee(user=user),
        "is_supervisor": selectors.user_is_supervisor(user=user),
    })


@consult_page
def request_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not selectors.user_is_trainee(user=request.user):
        raise PermissionDenied(_("Only trainees can ask for a supervised consult."))
    form = ConsultRequestForm(request.POST or None, initial={"language": (request.user.languages or ["en"])[0]})
    if request.method == "POST" and form.is_valid():
        try:
            consult = services.consult_request_create(trainee=request.user, source=_source(request),
                                                      base_url=_base_url(request), **form.cleaned_data)
        except InvalidRequest as problem:
            form.add_error("reason" if "reason" in problem.code else None, problem.message)
        else:
            messages.success(request, _("Your request was sent to the supervisors on the roster."))
            return redirect("consults:detail", pk=consult.pk)
    return render(request, "consults/request.html", {"form": form}, status=400 if form.errors else 200)


@consult_page
def roster(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The supervisor's roster entry, weekly windows, and the requests they may accept."""
    if not selectors.user_is_supervisor(user=request.user):
        raise PermissionDenied(_("Only supervisors have a place on the consult roster."))
    entry = selectors.roster_of(user=request.user)
    initial = {"specialties": entry.specialties, "languages": entry.languages, "is_active": entry.is_active} if entry else {
        "languages": request.user.languages or ["en"], "is_active": True}
    form = RosterForm(request.POST if request.POST.get("form") == "roster" else None, initial=initial)
    window_form = RosterWindowForm(request.POST if request.POST.get("form") == "window" else None)
    if request.method == "POST":
        try:
            if request.POST.get("form") == "roster" and form.is_valid():
                services.roster_update(supervisor=request.user, **form.cleaned_data)
                messages.success(request, _("Your roster entry was saved."))
                return redirect("consults:roster")
            if request.POST.get("form") == "window" and window_form.is_valid():
                services.roster_window_add(supervisor=request.user, **window_form.cleaned_data)
                messages.success(request, _("Availability window added."))
                return redirect("consults:roster")
        except InvalidRequest as problem:
            messages.error(request, problem.message)
    return render(request, "consults/roster.html", {
        "entry": entry, "form": form, "window_form": window_form, "accept_form": AcceptForm(),
        "matching": selectors.consult_requests_matching(supervisor=request.user),
        "zone": request.user.time_zone,
    }, status=400 if (form.errors or window_form.errors) else 200)


@consult_page
@require_POST
def roster_window_remove(request: AuthenticatedHttpRequest, window_id: int) -> HttpResponse:
    services.roster_window_remove(supervisor=request.user, window_id=window_id)
    return redirect("consults:roster")


@consult_page
@require_POST
def accept(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consult = get_object_or_404(ConsultRequest, pk=pk)
    form = AcceptForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Check the start time and duration."))
        return redirect("consults:roster")
    try:
        services.consult_accept(supervisor=request.user, consult=consult, starts_at=form.cleaned_data["starts_at"],
                                duration_minutes=form.cleaned_data["duration"], source=_source(request),
                                base_url=_base_url(request))
    except InvalidRequest as problem:
        messages.error(request, problem.message)
        return redirect("consults:roster")
    messages.success(request, _("You accepted the consult. The trainee was told."))
    return redirect("consults:detail", pk=pk)


@consult_page
def detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consult = get_object_or_404(ConsultRequest.objects.select_related("trainee", "supervisor", "session"), pk=pk)
    if consult.status == "requested" and selectors.consult_can_see_request(user=request.user, consult=consult) \
            and selectors.consult_role(user=request.user, consult=consult) is None:
        # A matching supervisor on the roster sees the request in order to accept it.
        return redirect("consults:roster")
    consult, role = _consult_for(request, pk, what="consult")
    selectors.consult_detail_read(user=request.user, consult=consult, source=_source(request))
    return render(request, "consults/detail.html", {
        "consult": consult, "role": role,
        "consent": selectors.consult_current_consent(consult=consult),
        "media_allowed": consult.session is not None and selectors.consult_media_allowed(consult.session),
        "observers": consult.observers.filter(revoked_at__isnull=True).select_related("user"),
        "observer_form": ObserverForm(),
        "teaching_status": teaching.teaching_status(consult=consult),
        # Listing is a read of clinical data: audited (recording.list) like opening one.
        "recordings": [] if consult.is_open else selectors.consult_recordings_list(
            user=request.user, consult=consult, source=_source(request)),
    })


@consult_page
@require_POST
def cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consult, _role = _consult_for(request, pk, what="cancel")
    services.consult_cancel(by=request.user, consult=consult, source=_source(request))
    messages.success(request, _("The consult was cancelled."))
    return redirect("consults:detail", pk=pk)


@consult_page
@require_POST
def complete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consult, _role = _consult_for(request, pk, what="complete", roles=(SUPERVISOR,))
    services.consult_complete(by=request.user, consult=consult, source=_source(request))
    messages.success(request, _("The consult is completed."))
    return redirect("consults:detail", pk=pk)


@consult_page
def consent(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The trainee records the patient's consent; trainee or supervisor records a withdrawal."""
    consult, role = _consult_for(request, pk, what="consent")
    form = ConsentForm(request.POST or None, initial={"language": consult.language})
    if request.method == "POST":
        if role != TRAINEE:
            raise PermissionDenied(_("Only the trainee, who is with the patient, records consent."))
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.consent_record(
                    by=request.user, consult=consult, consult_given=data["consult_given"] == "yes",
                    recording_given=data["recording_given"] == "yes", teaching_given=data["teaching_given"] == "yes",
                    language=data["language"], form_version=data["form_version"], source=_source(request),
                )
            except InvalidRequest as problem:
                form.add_error(None, problem.message)
            else:
                messages.success(request, _("The patient's consent was recorded."))
                return redirect("consults:detail", pk=pk)
    history = consult.consents.select_related("taken_by", "withdrawn_by").order_by("-taken_at", "scope")
    return render(request, "consults/consent.html", {
        "consult": consult, "role": role, "form": form, "withdraw_form": WithdrawForm(),
        "current": selectors.consult_current_consent(consult=consult), "history": history,
    }, status=400 if form.errors else 200)


@consult_page
@require_POST
def consent_withdraw(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consult, _role = _consult_for(request, pk, what="consent.withdraw", roles=(TRAINEE, SUPERVISOR))
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose what the patient withdraws."))
        return redirect("consults:consent", pk=pk)
    result = services.consent_withdraw(by=request.user, consult=consult, scopes=form.cleaned_data["scopes"],
                                       source=_source(request))
    text = _("Consent withdrawn. It takes effect now.")
    if ConsentScope.RECORDING in result["scopes"]:
        text += " " + _("Any recording was stopped and deleted.")
    messages.success(request, text)
    return redirect("consults:consent", pk=pk)


@consult_page
def room(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The consult room: the live room plus guidance, the note, photos and the mode."""
    consult, role = _consult_for(request, pk, what="room")
    if consult.session is None or not consult.is_open:
        messages.error(request, _("The room opens once a supervisor accepts, and closes when the consult ends."))
        return redirect("consults:detail", pk=pk)
    note = selectors.consult_note_read(user=request.user, consult=consult, source=_source(request))
    photos = selectors.consult_photos_list(user=request.user, consult=consult, source=_source(request))
    labels = {"subjective": _("Subjective"), "objective": _("Objective"), "assessment": _("Assessment"), "plan": _("Plan")}
    from sessions.room.protocol import PROTOCOL_VERSION

    return render(request, "consults/room.html", {
        "consult": consult, "role": role, "note": note, "photos": photos, "photo_form": PhotoForm(),
        "soap_fields": [(name, labels[name], getattr(note, name, "") if note else "") for name in labels],
        "session": consult.session, "socket_path": f"/ws/sessions/{consult.session_id}/",
        "protocol_version": PROTOCOL_VERSION, "is_host": request.user.pk == consult.session.host_id,
        "media_allowed": selectors.consult_media_allowed(consult.session),
        "recording_allowed": selectors.consult_recording_allowed(consult.session),
        "note_payload": services.note_payload(note) if note else {},
    })


@consult_page
def note(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The note as the clinical record: signed or not, with addenda."""
    consult, role = _consult_for(request, pk, what="note")
    note_row = selectors.consult_note_read(user=request.user, consult=consult, source=_source(request))
    form = AddendumForm(request.POST or None)
    if request.method == "POST":
        if role not in (TRAINEE, SUPERVISOR):
            raise PermissionDenied(_("Observers can read the note but not add to it."))
        if form.is_valid():
            try:
                services.note_addendum_add(by=request.user, consult=consult, text=form.cleaned_data["text"],
                                           source=_source(request))
            except InvalidRequest as problem:
                form.add_error("text", problem.message)
            else:
                messages.success(request, _("Addendum added."))
                return redirect("consults:note", pk=pk)
    return render(request, "consults/note.html", {
        "consult": consult, "role": role, "note": note_row, "form": form,
        "addenda": note_row.addenda.select_related("author") if note_row else [],
    }, status=400 if form.errors else 200)


@consult_page
@require_POST
def note_sign(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consult, _role = _consult_for(request, pk, what="note.sign", roles=(SUPERVISOR,))
    services.note_sign(by=request.user, consult=consult, source=_source(request))
    messages.success(request, _("The note is signed."))
    return redirect("consults:note", pk=pk)


@consult_page
@require_POST
def photo_upload(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consult, _role = _consult_for(request, pk, what="photo.add", roles=(TRAINEE, SUPERVISOR))
    form = PhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a photo."))
    else:
        upload = form.cleaned_data["photo"]
        services.photo_add(by=request.user, consult=consult, upload=upload, size=upload.size,
                           caption=form.cleaned_data["caption"], source=_source(request))
        messages.success(request, _("Photo added, without its metadata."))
    return redirect("consults:room", pk=pk)


@login_required
@never_cache
def photo(request: AuthenticatedHttpRequest, pk: int, photo_id: int) -> HttpResponseBase:
    """A clinical photo, for participants only; every view is audited; never cached or sniffed."""
    consult, _role = _consult_for(request, pk, what="photo")
    row = get_object_or_404(ClinicalPhoto, pk=photo_id, consult=consult)
    selectors.consult_photo_read(user=request.user, photo=row, source=_source(request))
    file_name = cast(str, row.file.name)  # a stored photo always has one
    response = FileResponse(default_storage.open(file_name, "rb"), content_type=row.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = f'inline; filename="consult-{consult.pk}-photo-{row.pk}.{file_name.rsplit(".", 1)[-1]}"'
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@login_required
@never_cache
def recording(request: AuthenticatedHttpRequest, pk: int, name: str) -> HttpResponseBase:
    """A consult recording, for participants only; every read is audited; never cached."""
    consult, _role = _consult_for(request, pk, what="recording")
    try:
        path = selectors.consult_recording_read(user=request.user, consult=consult, name=name, source=_source(request))
    except InvalidRequest as missing:
        raise Http404(missing.message) from missing
    return private_file_response(path, content_type="video/webm", filename=f"consult-{consult.pk}-{name}")


@consult_page
@require_POST
def observer_invite(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consult, _role = _consult_for(request, pk, what="observer.invite", roles=(SUPERVISOR,))
    form = ObserverForm(request.POST)
    user = User.objects.filter(username=form.data.get("username", "").strip(), is_active=True).first()
    if user is None:
        messages.error(request, _("No one has that username."))
    else:
        services.observer_invite(supervisor=request.user, consult=consult, user=user, source=_source(request))
        messages.success(request, _("%(name)s is invited to observe.") % {"name": user.name})
    return redirect("consults:detail", pk=pk)


@consult_page
@require_POST
def observer_revoke(request: AuthenticatedHttpRequest, pk: int, user_id: int) -> HttpResponse:
    consult, _role = _consult_for(request, pk, what="observer.revoke", roles=(SUPERVISOR,))
    user = get_object_or_404(User, pk=user_id)
    services.observer_revoke(supervisor=request.user, consult=consult, user=user, source=_source(request))
    messages.success(request, _("The invitation was withdrawn."))
    return redirect("consults:detail", pk=pk)


AUDIT_PAGE_ROWS = 1000


@consult_page
def audit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The consult's audit trail for its supervisor, with the result of the chain check."""
    consult, _role = _consult_for(request, pk, what="audit", roles=(SUPERVISOR,))
    entries = selectors.consult_audit_entries(user=request.user, consult=consult, source=_source(request))
    # The newest rows, in order: recent accesses are what a supervisor comes to check.
    shown = list(entries.select_related("actor").order_by("-pk")[:AUDIT_PAGE_ROWS])[::-1]
    return render(request, "consults/audit.html", {
        "consult": consult, "entries": shown, "check": audit_verify(),
        "omitted": entries.count() - len(shown) if len(shown) == AUDIT_PAGE_ROWS else 0,
    })


@consult_page
def teaching_case(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """De-identification preview, fields for a human check, and the supervisor's confirmation."""
    consult, _role = _consult_for(request, pk, what="teaching", roles=(SUPERVISOR,))
    preview = teaching.teaching_case_preview(user=request.user, consult=consult, source=_source(request))
    errors: list[str] = []
    if request.method == "POST":
        texts = {name: request.POST.get(name, "") for name, _label in teaching.CASE_FIELDS}
        try:
            material = teaching.teaching_case_share(
                user=request.user, consult=consult, texts=texts,
                fields_checked=set(request.POST.getlist("checked")),
                photo_ids={int(v) for v in request.POST.getlist("photo") if v.isdigit()},
                photos_checked={int(v) for v in request.POST.getlist("photo_checked") if v.isdigit()},
                confirmed=request.POST.get("confirm") == "yes", source=_source(request),
            )
        except InvalidRequest as problem:
            errors.append(problem.message)
            for field in preview.fields:
                field.text = texts.get(field.name, field.text)
        else:
            messages.success(request, _("The teaching case is in the library."))
            try:
                return HttpResponseRedirect(reverse("material-detail", args=[material.pk]))
            except NoReverseMatch:
                return redirect("consults:detail", pk=pk)
    return render(request, "consults/teaching_case.html", {"consult": consult, "preview": preview, "errors": errors},
                  status=400 if errors else 200)
