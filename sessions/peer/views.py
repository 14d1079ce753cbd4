"""Pages of peer exchange: "Find exchange partners", withdrawing, and the notes download.

Thin: parse, call a selector or service, render. Only students and trainees look for
partners (others get a 403 page that says why); the notes of a session are for its
participants only.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from sessions.models import NOTES_KINDS, LiveSession, PeerRequestStatus
from sessions.scheduling.selectors import session_user_may_see

from . import selectors, services
from .forms import PeerRequestForm, WindowFormSet, windows_of

logger = logging.getLogger(__name__)


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "scheduling/refused.html", {"message": message}, status=403)


@login_required
def exchange(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The form, the person's open request, their matches and earlier requests."""
    user = request.user
    if not selectors.user_may_request_peers(user=user):
        return _refused(request, _("Exchange partners are for students and trainees."))
    bound = request.method == "POST"
    form = PeerRequestForm(request.POST if bound else None, user=user)
    windows = WindowFormSet(request.POST if bound else None, prefix="windows")
    status = 200
    if bound:
        status = 400
        if form.is_valid() and windows.is_valid():
            intervals = windows_of(windows, form.cleaned_data["time_zone"])
            if intervals is not None:
                try:
                    made = services.peer_request_create(by=user, wish=form.wish(intervals), base_url=_base_url(request))
                except PermissionRefused as refused:
                    return _refused(request, refused.message)
                except InvalidRequest as invalid:
                    form.add_error(None, invalid.message)
                else:
                    if made.status == PeerRequestStatus.MATCHED:
                        messages.success(request, _("You have exchange partners! See your match below; everyone was told by e-mail."))
                    else:
                        messages.success(request, _("We are looking for partners. You will hear by e-mail as soon as a group forms."))
                    return redirect("peer:exchange")
    services.peer_requests_expire(user=user)
    requests = list(selectors.peer_requests_of(user=user))
    open_request = next((r for r in requests if r.status == PeerRequestStatus.OPEN), None)
    matches = [r for r in requests if r.status == PeerRequestStatus.MATCHED and r.session_id]
    for match in matches:
        match.partners = selectors.peer_partners_of(request=match)  # type: ignore[attr-defined]  # set for the template
        match.is_new = match.seen_at is None  # type: ignore[attr-defined]  # set for the template
    services.peer_matches_mark_seen(user=user)
    return render(request, "peer/exchange.html", {
        "form": form,
        "windows": windows,
        "open_request": open_request,
        "matches": matches,
        "earlier": [r for r in requests if r.status in (PeerRequestStatus.WITHDRAWN, PeerRequestStatus.EXPIRED)][:10],
        "max_windows": services.MAX_WINDOWS,
    }, status=status)


@require_POST
@login_required
def withdraw(request: AuthenticatedHttpRequest, request_id: int) -> HttpResponse:
    peer_request = selectors.peer_request_of(user=request.user, request_id=request_id)
    if peer_request is None:
        raise Http404(_("No such request."))
    try:
        services.peer_request_withdraw(by=request.user, request=peer_request)
    except InvalidRequest as invalid:
        messages.error(request, invalid.message)
    else:
        messages.success(request, _("Your request is withdrawn."))
    return redirect("peer:exchange")


@login_required
def notes_download(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    """The shared notes of a peer session as a plain-text file, for its participants."""
    session = LiveSession.objects.filter(pk=session_id, kind__in=NOTES_KINDS).first()
    if session is None or not session_user_may_see(session=session, user=request.user):
        raise Http404(_("No such session."))
    try:
        notes = selectors.peer_notes_read(session=session, user=request.user)
    except PermissionRefused as refused:
        return HttpResponse(refused.message, status=403, content_type="text/plain; charset=utf-8")
    logger.info("session %s: notes downloaded by user %s", session.pk, request.user.pk)
    body = notes.text + ("\n" if notes.text else "")
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="peer-notes-session-{session.pk}.txt"'
    response["Cache-Control"] = "private, no-store"
    return response
