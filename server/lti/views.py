"""LTI endpoints: login initiation, launch, deep-link choice, the tool's JWKS. Thin.

The launch is a cross-site POST from the platform, so it is CSRF-exempt: its protection
is the signed id_token plus the state cookie set at login initiation (SameSite=None on
HTTPS so it survives that POST). Pages may be shown inside the platform's iframe.
"""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from server.people.errors import InvalidRequest, PermissionRefused
from server.people.throttling import rate

from . import claims, selectors, services

STATE_COOKIE_PREFIX = "lti-state-"
DEEP_LINK_SESSION_KEY = "lti_deep_link"


def _origin(url: str) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("https", "http") and parts.netloc else None


def _embeddable_by(response: HttpResponse, *urls: str, posts_to: str = "") -> HttpResponse:
    """Let the course platform frame this page (CSP frame-ancestors) and, for the deep-link
    return, post back to it (form-action); every other page stays 'self' only."""
    origins = [origin for origin in map(_origin, urls) if origin]
    update: dict[str, list[str]] = {}
    if origins:
        update["frame-ancestors"] = origins
    if posts_to and (origin := _origin(posts_to)):
        update["form-action"] = [origin]
    if update:
        response._csp_update = update  # type: ignore[attr-defined]  # read by django-csp's middleware
    return response


def _refusal(request: HttpRequest, error: InvalidRequest | PermissionRefused) -> HttpResponse:
    status = 403 if isinstance(error, PermissionRefused) else 400
    return render(request, "lti/refused.html", {"message": error.message, "code": error.code}, status=status)


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=rate(60), block=True)
def login_initiation(request: HttpRequest) -> HttpResponse:
    """Third-party initiated login: remember a state in a cookie and send the browser to the platform."""
    params = request.POST if request.method == "POST" else request.GET
    try:
        platform = selectors.platform_for_login(issuer=params.get("iss", ""), client_id=params.get("client_id", ""))
        start = services.lti_login_start(
            platform=platform,
            login_hint=params.get("login_hint", ""),
            lti_message_hint=params.get("lti_message_hint", ""),
            target_link_uri=params.get("target_link_uri", ""),
            redirect_uri=request.build_absolute_uri(reverse("lti:launch")),
        )
    except (InvalidRequest, PermissionRefused) as error:
        return _refusal(request, error)
    response = HttpResponseRedirect(start.url)
    secure = request.is_secure()
    response.set_cookie(
        STATE_COOKIE_PREFIX + start.state, start.state, max_age=int(services.STATE_LIFETIME.total_seconds()),
        path="/lti/", secure=secure, httponly=True, samesite="None" if secure else "Lax",
    )
    return response


@csrf_exempt
@xframe_options_exempt
@require_POST
@ratelimit(key="ip", rate=rate(60), block=True)
def launch(request: HttpRequest) -> HttpResponse:
    """The platform posts the id_token here; a valid launch logs the person in and opens the target."""
    state = request.POST.get("state", "")
    try:
        accepted = services.lti_launch_accept(
            id_token=request.POST.get("id_token", ""), state=state,
            state_cookie=request.COOKIES.get(STATE_COOKIE_PREFIX + state, ""),
        )
        deep_link = (
            services.deep_link_context_of(accepted) if accepted.message_type == claims.DEEP_LINKING_REQUEST else None
        )
    except (InvalidRequest, PermissionRefused) as error:
        return _refusal(request, error)
    login(request, accepted.user, backend="django.contrib.auth.backends.ModelBackend")
    if deep_link is not None:
        request.session[DEEP_LINK_SESSION_KEY] = asdict(deep_link)
        response: HttpResponse = redirect("lti:deep-link")
    else:
        target = selectors.launch_target_path(candidates=accepted.target_candidates, host=request.get_host())
        if accepted.document_target in {"iframe", "frame"}:
            # Our pages refuse to be framed (X-Frame-Options: DENY) and browsers drop our
            # cookies inside another site's frame, so offer the page in its own tab.
            response = _embeddable_by(render(request, "lti/open.html", {"target": target or reverse("home")}),
                                      accepted.platform.issuer)
        else:
            response = redirect(target or "home")
    response.delete_cookie(STATE_COOKIE_PREFIX + state, path="/lti/")
    if accepted.language and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, accepted.language, max_age=365 * 24 * 3600, samesite="Lax")
    return response


class DeepLinkForm(forms.Form):
    title = forms.CharField(label=_("Title shown in the course"), max_length=200)
    path = forms.CharField(
        label=_("Address in OpenRounds"), max_length=300,
        help_text=_("The page to embed, for example /sessions/12/ or /library/34/."),
    )


@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def deep_link(request: HttpRequest) -> HttpResponse:
    """A teacher picks the OpenRounds page the course will embed; we return it signed to the platform."""
    stored = request.session.get(DEEP_LINK_SESSION_KEY)
    if not request.user.is_authenticated or not stored:
        return _refusal(request, PermissionRefused(str(_("Start from your course's “add activity” page.")), code="no_deep_link"))
    form = DeepLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        path = selectors.launch_target_path(candidates=[form.cleaned_data["path"]], host=request.get_host())
        if path is None:
            form.add_error("path", _("Choose a session (/sessions/…/), a material (/library/…/) or a course (/courses/…/)."))
        else:
            context = services.DeepLinkContext(**stored)
            token = services.lti_deep_link_response(
                context=context, title=form.cleaned_data["title"], path=path,
                launch_url=request.build_absolute_uri(reverse("lti:launch")),
            )
            del request.session[DEEP_LINK_SESSION_KEY]
            return _embeddable_by(render(request, "lti/deep_link_return.html", {"return_url": context.return_url, "jwt": token}),
                                  context.return_url, posts_to=context.return_url)
    return _embeddable_by(render(request, "lti/deep_link.html", {"form": form}, status=400 if form.errors else 200),
                          services.DeepLinkContext(**stored).return_url)


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The tool's public keys, for platforms that verify our deep-linking responses."""
    services.tool_key_current()
    return JsonResponse(selectors.tool_jwks())


@require_GET
def configuration(request: HttpRequest) -> JsonResponse:
    """The URLs a platform administrator pastes when registering the tool."""
    return JsonResponse({
        "title": "OpenRounds",
        "oidc_initiation_url": request.build_absolute_uri(reverse("lti:login")),
        "target_link_uri": request.build_absolute_uri(reverse("lti:launch")),
        "redirect_uris": [request.build_absolute_uri(reverse("lti:launch"))],
        "public_jwk_url": request.build_absolute_uri(reverse("lti:jwks")),
        "deep_linking_url": request.build_absolute_uri(reverse("lti:launch")),
        "custom_parameters": {claims.CUSTOM_PATH: "/sessions/<id>/ or /library/<id>/"},
    })
