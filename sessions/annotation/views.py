"""The room record's "Put the annotated slides in the library" (mounted at /annotation/)."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from sessions.models import LiveSession

from .export import annotation_export_to_library

logger = logging.getLogger(__name__)


@login_required
@require_POST
def export_to_library(request: AuthenticatedHttpRequest, session_id: int) -> HttpResponse:
    """The host exports the annotated pages; back to the record with a message, or to the new material."""
    session = get_object_or_404(LiveSession, pk=session_id)
    try:
        material = annotation_export_to_library(session=session, user=request.user)
    except (PermissionRefused, InvalidRequest) as refusal:
        messages.error(request, refusal.message)
        return HttpResponseRedirect(reverse("room:room", args=[session.pk]), status=303)
    return HttpResponseRedirect(reverse("material-detail", args=[material.pk]), status=303)
