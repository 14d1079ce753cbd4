"""Pages about people and schools. Thin: parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_ratelimit.decorators import ratelimit

from . import selectors, services
from .errors import InvalidRequest, PermissionRefused
from .forms import InvitationForm, PartnershipProposalForm, ProfileForm, SignUpForm
from .http import AuthenticatedHttpRequest
from .models import Institution, Invitation, Membership, Partnership, PersonalAccessToken
from .throttling import rate


def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {}
    if request.user.is_authenticated:
        from .dashboard import dashboard_for

        context["dashboard"] = dashboard_for(user=request.user)
    return render(request, "people/home.html", context)


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("profile")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome to OpenRounds. Your account is ready."))
        next_url = request.GET.get("next", "")
        if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
            return redirect(next_url)
        return redirect("profile")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile was saved."))
        return redirect("profile")
    memberships = request.user.memberships.filter(is_active=True).select_related("institution")
    return render(
        request,
        "people/profile.html",
        {
            "form": form,
            "memberships": memberships,
            "managed": selectors.user_managed_institutions(user=request.user),
            "extra_sections": _profile_sections(request),
        },
        status=400 if form.errors else 200,
    )


def _profile_sections(request: HttpRequest) -> list[str]:
    """Templates other apps add to the profile page (attendance history, progress…)."""
    from django.apps import apps

    sections: list[str] = []
    for config in apps.get_app_configs():
        sections.extend(getattr(config, "profile_sections", []))
    return sections


@login_required
def institution_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    institution = get_object_or_404(Institution, pk=pk)
    can_manage = selectors.user_can_manage_institution(user=request.user, institution=institution)
    members = selectors.institution_members(institution=institution)
    context: dict[str, Any] = {
        "institution": institution,
        "can_manage": can_manage,
        "members": members if selectors.user_can_list_members(user=request.user, institution=institution) else [],
        "member_count": members.count(),
        "partnerships": selectors.institution_partnerships(institution=institution),
    }
    if can_manage:
        context["invitation_form"] = InvitationForm()
        context["partnership_form"] = PartnershipProposalForm()
        context["partnership_form"].fields["partner"].queryset = Institution.objects.exclude(pk=institution.pk)
        context["invitations"] = institution.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True)
    return render(request, "people/institution.html", context)


def _refusal(request: HttpRequest, error: PermissionRefused | InvalidRequest) -> None:
    if isinstance(error, PermissionRefused):
        raise PermissionDenied(error.message)
    messages.error(request, error.message)


@login_required
@require_POST
def invitation_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    institution = get_object_or_404(Institution, pk=pk)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a valid e-mail and role."))
        return redirect("institution", pk=pk)
    try:
        services.invitation_create(
            by=request.user, institution=institution, email=form.cleaned_data["email"],
            role=form.cleaned_data["role"], base_url=request.build_absolute_uri("/")[:-1],
        )
        messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
    except (PermissionRefused, InvalidRequest) as error:
        _refusal(request, error)
    return redirect("institution", pk=pk)


@login_required
@require_POST
def invitation_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=pk)
    try:
        services.invitation_revoke(by=request.user, invitation=invitation)
    except PermissionRefused as error:
        _refusal(request, error)
    return redirect("institution", pk=invitation.institution_id)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = Invitation.objects.select_related("institution").filter(token=token).first()
    if not request.user.is_authenticated:
        return render(request, "people/invitation.html", {"invitation": invitation, "token": token})
    if request.method == "POST":
        try:
            membership = services.invitation_accept(user=request.user, token=token)
        except (PermissionRefused, InvalidRequest) as error:
            messages.error(request, error.message)
            return render(request, "people/invitation.html", {"invitation": invitation, "token": token}, status=400)
        messages.success(request, _("You are now a member of %(school)s.") % {"school": membership.institution.name})
        return redirect("profile")
    return render(request, "people/invitation.html", {"invitation": invitation, "token": token})


@login_required
@require_POST
def membership_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=pk)
    try:
        if request.POST.get("action") == "remove":
            services.membership_deactivate(by=request.user, membership=membership)
        else:
            services.membership_set_role(by=request.user, membership=membership, role=request.POST.get("role", ""))
    except (PermissionRefused, InvalidRequest) as error:
        _refusal(request, error)
    return redirect("institution", pk=membership.institution_id)


@login_required
@require_POST
def partnership_propose(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    institution = get_object_or_404(Institution, pk=pk)
    form = PartnershipProposalForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a partner school."))
        return redirect("institution", pk=pk)
    try:
        services.partnership_propose(
            by=request.user, institution=institution, partner=form.cleaned_data["partner"], note=form.cleaned_data["note"]
        )
        messages.success(request, _("Partnership proposed."))
    except (PermissionRefused, InvalidRequest) as error:
        _refusal(request, error)
    return redirect("institution", pk=pk)


@login_required
@require_POST
def partnership_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    partnership = get_object_or_404(Partnership, pk=pk)
    action = request.POST.get("action")
    back_field = request.POST.get("institution", "")
    back = int(back_field) if back_field.isdigit() else partnership.first_id
    try:
        if action == "accept":
            services.partnership_accept(by=request.user, partnership=partnership)
        elif action == "decline":
            services.partnership_decline(by=request.user, partnership=partnership)
        elif action == "end":
            services.partnership_end(by=request.user, partnership=partnership)
        else:
            messages.error(request, _("Unknown action."))
    except (PermissionRefused, InvalidRequest) as error:
        _refusal(request, error)
    return redirect("institution", pk=back)


@login_required
@ratelimit(key="user", rate=rate(10), method="POST", block=True)
def access_tokens(request: AuthenticatedHttpRequest) -> HttpResponse:
    new_secret = None
    if request.method == "POST":
        if request.POST.get("revoke"):
            if not request.POST["revoke"].isdigit():
                raise Http404(_("No such token."))
            token = get_object_or_404(PersonalAccessToken, pk=request.POST["revoke"], user=request.user)
            services.access_token_revoke(user=request.user, token=token)
            messages.success(request, _("Token revoked."))
        else:
            _token, new_secret = services.access_token_create(user=request.user, name=request.POST.get("name") or "API token")
    tokens = request.user.api_tokens.filter(revoked_at__isnull=True)
    return render(request, "people/tokens.html", {"tokens": tokens, "new_secret": new_secret})


@require_POST
def data_saver_toggle(request: HttpRequest) -> HttpResponse:
    """Remember the data-saver choice: on the profile for users, in a cookie otherwise."""
    enabled = request.POST.get("enabled") == "1"
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = "/"
    response = redirect(next_url)
    if request.user.is_authenticated:
        services.user_update_profile(user=request.user, data_saver=enabled)
    response.set_cookie("data_saver", "1" if enabled else "0", max_age=365 * 86400, samesite="Lax")
    return response
