"""Scheduling pages: catalog, session, create/edit, my schedule, calendar files.

Thin: parse, call a selector or service, render. `PermissionRefused` becomes a 403 (or a
form error with status 403), `InvalidRequest` a message; a session the person may not
see is a 404, so its existence is not revealed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from server.people.models import User
from server.private_files import private_file_response
from sessions.models import CalendarFeed, LiveSession, RegistrationStatus, SessionKind, SessionStatus

from . import ics, recordings, selectors, services
from .forms import CatalogFilterForm, InviteForm, RecommendationForm, RecordingPublishForm, ReflectionForm, SessionForm

logger = logging.getLogger(__name__)


def _visible_session(request: HttpRequest, session_id: int) -> LiveSession:
    session = selectors.session_get_visible(session_id=session_id, user=request.user)
    if session is None or session.kind == SessionKind.CONSULT:
        raise Http404(_("No such session."))
    return session


def _base_url(request: HttpRequest) -> str:
    """Scheme and host of this request, for links in e-mails."""
    return request.build_absolute_uri("/").rstrip("/")


def _refused(request: HttpRequest, refused: PermissionRefused) -> HttpResponse:
    """A 403 page that says why."""
    return render(request, "scheduling/refused.html", {"message": refused.message}, status=403)


@login_required
def catalog(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Upcoming sessions the person may join, filtered, times in the viewer's zone."""
    choices = selectors.session_catalog_choices(user=request.user)
    form = CatalogFilterForm(request.GET or None, **choices)
    filters = selectors.CatalogFilters()
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = selectors.CatalogFilters(
            kind=data["kind"], specialty=data["specialty"], language=data["language"],
            date_from=data["date_from"], date_to=data["date_to"],
        )
    sessions = list(selectors.session_catalog(user=request.user, filters=filters)[:200])
    states = selectors.user_registration_states(user=request.user, session_ids=[s.pk for s in sessions])
    for session in sessions:
        session.my_state = "host" if session.host_id == request.user.pk else states.get(session.pk, "")  # type: ignore[attr-defined]  # set for the template
    return render(request, "scheduling/catalog.html", {
        "form": form, "sessions": sessions,
        "may_create": [k for k in (SessionKind.CASE_CONFERENCE, SessionKind.LECTURE, SessionKind.PEER)
                       if selectors.user_may_host_kind(user=request.user, kind=k)],
    })


@login_required
def detail(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    session = _visible_session(request, session_id)
    user = request.user
    registration = selectors.session_registration_of(session=session, user=user)
    ended = selectors.session_has_ended(session=session)
    is_host = session.host_id == user.pk
    context: dict[str, Any] = {
        "session": session,
        "is_host": is_host,
        "registration": registration,
        "registered_count": selectors.session_registered_count(session=session),
        "waitlist_position": selectors.session_waitlist_position(session=session, user=user),
        "waiting_count": session.registrations.filter(status=RegistrationStatus.WAITLISTED).count(),
        "may_join": selectors.session_user_may_join(session, user),
        "ended": ended,
        "open": session.status in (SessionStatus.SCHEDULED, SessionStatus.LIVE) and not ended,
        "recommendations": selectors.session_recommendations_for(session=session, user=user),
        "reflections": selectors.session_reflections_for(session=session, user=user),
        "may_recommend": is_host and ended and session.kind == SessionKind.CASE_CONFERENCE
        and session.status != SessionStatus.CANCELLED and session.presenter_id not in (None, user.pk),
        "may_reflect": ended and session.status != SessionStatus.CANCELLED
        and selectors.session_user_is_participant(session=session, user=user),
        "recordings": recordings.session_recordings_for(session=session, user=user) if ended else [],
        "invite_form": InviteForm() if is_host else None,
        "recommendation_form": RecommendationForm(),
    }
    if context["may_reflect"]:
        mine = session.reflections.filter(author=user).first()
        context["reflection_form"] = ReflectionForm(initial={"body": mine.body, "shared": mine.shared} if mine else None)
    if is_host:
        context["participants"] = session.registrations.exclude(status=RegistrationStatus.CANCELLED).select_related("user")
        context["publish_form"] = RecordingPublishForm()
        for recording in context["recordings"]:
            if not recording.is_published:
                recording.recorded_people = recordings.session_recording_recorded_people(recording=recording)
    return render(request, "scheduling/detail.html", context)


def _recording_for(request: HttpRequest, session: LiveSession, recording_id: int):
    """The recording if this person is in the session's audience; 404 otherwise (not revealed)."""
    try:
        return recordings.session_recording_for_download(session=session, user=request.user, recording_id=recording_id)
    except InvalidRequest as missing:
        raise Http404(missing.message) from missing


@login_required
def recording_download(request: AuthenticatedHttpRequest, session_id: int, recording_id: int) -> HttpResponseBase:
    """A recording for its audience only (not the catalogue's whole audience); never cached."""
    session = _visible_session(request, session_id)
    recording = _recording_for(request, session, recording_id)
    # WebM from the recorder; MP4 when the recording is a broadcast's segments (sessions/media/broadcast.py).
    kind = "mp4" if recording.name.endswith(".mp4") else "webm"
    return private_file_response(recording.name, content_type=f"video/{kind}",
                                 filename=f"session-{session.pk}-recording-{recording.pk}.{kind}")


def recording_captions(request: HttpRequest, session_id: int, recording_id: int) -> HttpResponse:
    """The captions written while the recording ran, as WebVTT (for the recording's audience)."""
    from sessions.captions.webvtt import captions_webvtt

    session = _visible_session(request, session_id)
    recording = _recording_for(request, session, recording_id)
    text = captions_webvtt(session_id=session.pk, start=recording.started_at, end=recording.created_at)
    response = HttpResponse(text, content_type="text/vtt; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@login_required
def recording_publish(request: AuthenticatedHttpRequest, session_id: int, recording_id: int) -> HttpResponse:
    session = _visible_session(request, session_id)
    recording = _recording_for(request, session, recording_id)
    form = RecordingPublishForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose who may see it and its licence, and confirm that everyone recorded was told."))
        return redirect("scheduling:detail", session.pk)
    return _act(request, session, lambda: recordings.session_recording_publish(
        by=request.user, recording=recording, scope=form.cleaned_data["scope"], licence=form.cleaned_data["licence"],
        everyone_told=form.cleaned_data["everyone_told"],
    ), _("The recording is in the library; the people in it were told by e-mail."))


def _form_page(request: HttpRequest, form: SessionForm, session: LiveSession | None, status: int = 200) -> HttpResponse:
    return render(request, "scheduling/form.html", {"form": form, "session": session}, status=status)


@login_required
def create(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Faculty create conferences and lectures; students propose peer sessions."""
    initial = {"kind": request.GET.get("kind", "")}
    form = SessionForm(request.POST or None, user=request.user, initial=initial)
    if not form.fields["kind"].choices:  # type: ignore[attr-defined]  # a ChoiceField
        raise PermissionDenied(_("Only faculty, supervisors, students and trainees can create sessions."))
    if request.method == "POST" and form.is_valid():
        try:
            session = services.session_create(
                by=request.user, kind=form.cleaned_data["kind"], details=form.details(),
                institution=form.cleaned_data.get("institution"),
            )
        except PermissionRefused as refused:
            form.add_error(None, refused.message)
            return _form_page(request, form, None, status=403)
        except InvalidRequest as invalid:
            form.add_error(None, invalid.message)
        else:
            messages.success(request, _("The session is scheduled."))
            return redirect("scheduling:detail", session.pk)
    return _form_page(request, form, None, status=400 if form.errors else 200)


@login_required
def edit(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    session = _visible_session(request, session_id)
    if session.host_id != request.user.pk:
        raise PermissionDenied(_("Only the host can change this session."))
    form = SessionForm(request.POST or None, user=request.user, session=session)
    if request.method == "POST" and form.is_valid():
        try:
            services.session_update(by=request.user, session=session, details=form.details(), base_url=_base_url(request))
        except PermissionRefused as refused:
            form.add_error(None, refused.message)
            return _form_page(request, form, session, status=403)
        except InvalidRequest as invalid:
            form.add_error(None, invalid.message)
        else:
            messages.success(request, _("The session was changed."))
            return redirect("scheduling:detail", session.pk)
    return _form_page(request, form, session, status=400 if form.errors else 200)


def _act(request: HttpRequest, session: LiveSession, action: Callable[[], object], success: str) -> HttpResponse:
    """Run a service for a POST button: a refusal is a 403 page, a bad request a message."""
    try:
        action()
    except PermissionRefused as refused:
        return _refused(request, refused)
    except InvalidRequest as invalid:
        messages.error(request, invalid.message)
    else:
        messages.success(request, success)
    return redirect("scheduling:detail", session.pk)


@require_POST
@login_required
def register(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    session = _visible_session(request, session_id)
    try:
        registration = services.session_register(user=request.user, session=session)
    except PermissionRefused as refused:
        return _refused(request, refused)
    except InvalidRequest as invalid:
        messages.error(request, invalid.message)
    else:
        messages.success(request, services.registration_message(session=session, user=request.user, registration=registration))
    return redirect("scheduling:detail", session.pk)


@require_POST
@login_required
def unregister(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    session = _visible_session(request, session_id)
    return _act(request, session, lambda: services.session_unregister(user=request.user, session=session, base_url=_base_url(request)),
                _("You gave up your place."))


@require_POST
@login_required
def cancel(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    session = _visible_session(request, session_id)
    return _act(request, session, lambda: services.session_cancel(by=request.user, session=session),
                _("The session is cancelled; the people registered were told."))


@require_POST
@login_required
def invite(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    session = _visible_session(request, session_id)
    form = InviteForm(request.POST)
    invitee = User.objects.filter(username=request.POST.get("username", "").strip(), is_active=True).first() if form.is_valid() else None
    if invitee is None:
        messages.error(request, _("Nobody has this username."))
        return redirect("scheduling:detail", session.pk)
    return _act(request, session, lambda: services.session_invite(by=request.user, session=session, user=invitee),
                _("%(name)s is invited.") % {"name": invitee.name})


@require_POST
@login_required
def recommend(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    session = _visible_session(request, session_id)
    body = request.POST.get("body", "")
    return _act(request, session, lambda: services.recommendation_create(by=request.user, session=session, body=body, base_url=_base_url(request)),
                _("Your recommendations were sent to the presenter."))


@require_POST
@login_required
def reflect(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    session = _visible_session(request, session_id)
    shared = request.POST.get("shared") in ("on", "1", "true")
    return _act(request, session, lambda: services.reflection_save(by=request.user, session=session, body=request.POST.get("body", ""), shared=shared),
                _("Your reflection is saved."))


@login_required
def session_ics(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    """One session as an .ics file to add to a calendar."""
    session = _visible_session(request, session_id)
    url = request.build_absolute_uri(reverse("scheduling:detail", args=[session.pk]))
    response = HttpResponse(ics.session_calendar(session, url=url), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="openrounds-session-{session.pk}.ics"'
    return response


@login_required
def my_schedule(request: AuthenticatedHttpRequest) -> HttpResponse:
    sessions = list(selectors.user_schedule(user=request.user))
    states = selectors.user_registration_states(user=request.user, session_ids=[s.pk for s in sessions])
    for session in sessions:
        session.my_state = "host" if session.host_id == request.user.pk else (  # type: ignore[attr-defined]  # set for the template
            "presenter" if session.presenter_id == request.user.pk else states.get(session.pk, ""))
    feed = services.calendar_feed_get_or_create(user=request.user)
    return render(request, "scheduling/my_schedule.html", {
        "sessions": sessions,
        "past": selectors.user_past_sessions(user=request.user),
        "feed_url": request.build_absolute_uri(reverse("scheduling:feed", args=[feed.token])),
    })


@require_POST
@login_required
def feed_rotate(request: AuthenticatedHttpRequest) -> HttpResponse:
    services.calendar_feed_rotate(user=request.user)
    messages.success(request, _("Your calendar address was replaced; the old one no longer works."))
    return redirect("scheduling:mine")


def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The personal calendar feed: no login (calendar apps cannot log in), the secret URL is the key."""
    record = CalendarFeed.objects.select_related("user").filter(token=token).first()
    if record is None or not record.user.is_active:
        raise Http404(_("No such calendar."))
    base = _base_url(request)
    sessions = selectors.user_calendar_sessions(user=record.user, now=timezone.now())
    body = ics.schedule_calendar(sessions, name=_("OpenRounds — %(name)s") % {"name": record.user.name},
                                 url_of=lambda s: base + reverse("scheduling:detail", args=[s.pk]))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
