"""Library pages: search, material page, contribute, edit, versions, file downloads.

Views only translate HTTP: they parse forms, call a selector or service, and render.
A `PermissionRefused` becomes a 403 page with its message; an `InvalidRequest` from a
service is shown on the form (400), next to the field it is about.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses.models import FileRole, Licence, MaterialKind
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest

from . import downloads, selectors, services, uploads
from .forms import DISCIPLINES, MaterialContributeForm, MaterialEditForm
from .search import FACETS, material_search

logger = logging.getLogger(__name__)

UPLOAD_ERROR_CODES = {"file", "zip", "svg", "image", "media", "pdf", "office", "upload"}


def refusals_as_403(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Render PermissionRefused as a 403 page that says why."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except PermissionRefused as refusal:
            return render(request, "library/refused.html", {"message": refusal.message}, status=403)

    return wrapper


def _show_refusal(form, error: InvalidRequest | PermissionRefused, upload_session: str) -> str:
    """Put a refused save on the form; return the upload session still worth resuming.

    A refused upload (its session expired or belongs to someone else) reads like any
    invalid field and the file has to be sent again; any other refusal is a 403.
    """
    if isinstance(error, PermissionRefused):
        if not error.code.startswith("upload_"):
            raise error
        _attach_error(form, InvalidRequest(error.message, error.code))
        return ""
    _attach_error(form, error)
    return upload_session


def _attach_error(form, error: InvalidRequest) -> None:
    """Put a service's refusal next to the field it concerns (or on top of the form)."""
    prefix = error.code.split("_", 1)[0]
    field = None
    if prefix in UPLOAD_ERROR_CODES or error.code.startswith("kind_"):
        field = "upload" if "upload" in form.fields else None
    elif prefix in ("title", "url", "licence", "scope", "level", "language"):
        field = prefix
    elif error.code.startswith("case_"):
        field = "history"
    form.add_error(field if field in form.fields else None, error.message)


@require_GET
def library_search(request: HttpRequest) -> HttpResponse:
    """The library: full-text search with facets over what the viewer may see."""
    filters = {name: request.GET.get(name, "") for name in FACETS}
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        page = 1
    result = material_search(
        user=request.user, query=request.GET.get("q", "")[:200], filters=filters,
        sort=request.GET.get("sort", "relevance"), page=page,
    )
    thumbs = {f.version.material_id: f for f in _thumbnails([m.pk for m in result.items])}
    for material in result.items:
        material.thumb = thumbs.get(material.pk)  # type: ignore[attr-defined]  # set for the template
    base = request.GET.copy()
    base.pop("page", None)
    names = {
        "kind": _("Kind"), "discipline": _("Discipline"), "level": _("Level"), "language": _("Language"),
        "licence": _("Licence"), "school": _("School"), "country": _("Country"),
    }
    facet_groups = []
    for name, values in result.facets.items():
        links = []
        for value in values:
            toggled = base.copy()
            if value.selected:
                toggled.pop(name, None)
            else:
                toggled[name] = value.value
            links.append({"facet": value, "url": "?" + toggled.urlencode()})
        if links:
            facet_groups.append({"name": name, "label": names[name], "links": links})
    context = {
        "result": result,
        "facet_groups": facet_groups,
        "querystring": base.urlencode(),
        "any_filter": bool(result.filters),
        "can_contribute": selectors.user_can_contribute(user=request.user),
    }
    return render(request, "library/search.html", context)


def _thumbnails(material_ids: list[int]):
    from django.db.models import F

    from courses.models import MaterialFile

    return MaterialFile.objects.filter(
        version__material_id__in=material_ids, role=FileRole.THUMBNAIL,
        version__number=F("version__material__version"),
    ).select_related("version")


@refusals_as_403
@require_GET
def material_detail(request: HttpRequest, material_id: int) -> HttpResponse:
    """A material: who shared it, licence, preview, and every file's size before download."""
    material = selectors.material_get_for_user(request.user, material_id)
    files = selectors.material_current_files(material=material)
    context = {
        "material": material,
        "main": next((f for f in files if f.role == FileRole.MAIN), None),
        "thumbnail": next((f for f in files if f.role == FileRole.THUMBNAIL), None),
        "case_images": [f for f in files if f.role == FileRole.CASE_IMAGE],
        "downloadable": [f for f in files if f.role != FileRole.THUMBNAIL],
        "can_edit": selectors.material_user_can_edit(user=request.user, material=material),
        "licence_url": LICENCE_URLS.get(material.licence, ""),
    }
    return render(request, "library/material.html", context)


LICENCE_URLS: dict[str, str] = {
    Licence.CC_BY: "https://creativecommons.org/licenses/by/4.0/",
    Licence.CC_BY_SA: "https://creativecommons.org/licenses/by-sa/4.0/",
    Licence.CC_BY_ND: "https://creativecommons.org/licenses/by-nd/4.0/",
    Licence.CC_BY_NC: "https://creativecommons.org/licenses/by-nc/4.0/",
    Licence.CC_BY_NC_SA: "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    Licence.CC_BY_NC_ND: "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    Licence.PUBLIC_DOMAIN: "https://creativecommons.org/publicdomain/zero/1.0/",
}


@refusals_as_403
@require_GET
def material_versions(request: HttpRequest, material_id: int) -> HttpResponse:
    material = selectors.material_get_for_user(request.user, material_id)
    versions = selectors.material_versions(user=request.user, material=material)
    return render(request, "library/versions.html", {"material": material, "versions": versions})


@refusals_as_403
@require_GET
def material_file(request: HttpRequest, material_id: int, file_id: int) -> HttpResponseBase:
    """A file of any version, authorized on this request (see downloads.py)."""
    file = selectors.material_file_get_for_user(user=request.user, material_id=material_id, file_id=file_id)
    return downloads.file_response(request, file, force_download=request.GET.get("download") == "1")


def _case_images(request: HttpRequest, form) -> list[services.CaseImage]:
    captions = [line.strip() for line in (form.cleaned_data.get("case_captions") or "").splitlines()]
    images = []
    for index, upload in enumerate(form.cleaned_data.get("case_images") or []):
        caption = captions[index] if index < len(captions) else ""
        images.append(services.CaseImage(file=upload, caption=caption, name=upload.name))
    return images


@login_required
@refusals_as_403
@require_http_methods(["GET", "POST"])
def material_contribute(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Contribute a file, a case or a link (faculty, supervisors, coordinators)."""
    if not selectors.user_can_contribute(user=request.user):
        raise PermissionRefused(_("Only faculty, supervisors and coordinators can contribute to the library."))
    schools = selectors.user_contributing_institutions(user=request.user)
    form = MaterialContributeForm(request.POST or None, request.FILES or None, schools=schools)
    if request.method == "GET":
        primary = request.user.primary_membership()
        if primary and schools.filter(pk=primary.institution_id).exists():
            form.initial["institution"] = primary.institution_id
    # A file sent in pieces by upload.js arrives as the id of its upload session.
    upload_session = (request.POST.get("upload_session") or "").strip()[:64]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["kind"] == "file" and upload_session and not data.get("upload"):
                material = uploads.upload_session_finalize(
                    user=request.user, session_id=upload_session, institution=data["institution"], **form.metadata()
                )
            else:
                material = services.material_create(
                    user=request.user, kind=data["kind"], institution=data["institution"],
                    upload=data.get("upload") if data["kind"] == "file" else None,
                    upload_name=getattr(data.get("upload"), "name", ""),
                    case=form.case_data() if data["kind"] == MaterialKind.CASE else None,
                    case_images=_case_images(request, form) if data["kind"] == MaterialKind.CASE else (),
                    **form.metadata(),
                )
        except (InvalidRequest, PermissionRefused) as error:
            upload_session = _show_refusal(form, error, upload_session)
        else:
            messages.success(request, _("Thank you: “%(title)s” is in the library.") % {"title": material.title})
            return HttpResponseRedirect(reverse("material-detail", args=[material.pk]), status=303)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "library/contribute.html",
        {"form": form, "disciplines": DISCIPLINES, "upload_session": upload_session,
         "upload_api": reverse("api:upload_create")},
        status=status,
    )


@login_required
@refusals_as_403
@require_http_methods(["GET", "POST"])
def material_edit(request: AuthenticatedHttpRequest, material_id: int) -> HttpResponse:
    """Edit a material; saving makes a new version and keeps the old one."""
    material = selectors.material_get_for_user(request.user, material_id)
    if not selectors.material_user_can_edit(user=request.user, material=material):
        raise PermissionRefused(_("Only the contributor and faculty of the contributing school can edit this material."))
    initial = {
        "title": material.title, "description": material.description, "discipline": material.discipline,
        "topics": ", ".join(material.topics or []), "competencies": ", ".join(material.competencies or []),
        "level": material.level, "language": material.language, "licence": material.licence,
        "authors": material.authors, "scope": material.scope, "url": material.url,
        **{k: v for k, v in (material.case or {}).items() if k != "learning_points"},
        "learning_points": "\n".join((material.case or {}).get("learning_points") or []),
    }
    form = MaterialEditForm(request.POST or None, request.FILES or None, initial=initial)
    if not material.is_file_kind:
        del form.fields["upload"]
    if material.kind != MaterialKind.CASE:
        for name in (*MaterialEditForm.CASE_FIELDS, "case_images", "case_captions"):
            del form.fields[name]
    if material.kind != MaterialKind.LINK:
        del form.fields["url"]
    upload_session = (request.POST.get("upload_session") or "").strip()[:64] if material.is_file_kind else ""
    if request.method == "POST" and form.is_valid():
        changes = form.metadata()
        changes.pop("url", None) if material.kind != MaterialKind.LINK else None
        if material.kind == MaterialKind.CASE:
            changes["case"] = form.case_data()
        upload = form.cleaned_data.get("upload")
        try:
            if upload_session and upload is None:
                material = uploads.upload_session_replace(
                    user=request.user, session_id=upload_session, material=material,
                    change_note=form.cleaned_data.get("change_note", ""), **changes,
                )
            else:
                material = services.material_update(
                    user=request.user, material=material, change_note=form.cleaned_data.get("change_note", ""),
                    upload=upload, upload_name=getattr(upload, "name", ""),
                    case_images=_case_images(request, form) if material.kind == MaterialKind.CASE else (),
                    **changes,
                )
        except (InvalidRequest, PermissionRefused) as error:
            upload_session = _show_refusal(form, error, upload_session)
        else:
            messages.success(request, _("Saved as version %(number)s.") % {"number": material.version})
            return HttpResponseRedirect(reverse("material-detail", args=[material.pk]), status=303)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "library/edit.html",
        {"form": form, "material": material, "disciplines": DISCIPLINES, "upload_session": upload_session,
         "upload_api": reverse("api:upload_create") if material.is_file_kind else "", "upload_kind": material.kind},
        status=status,
    )


@login_required
@refusals_as_403
@require_POST
def material_withdraw(request: AuthenticatedHttpRequest, material_id: int) -> HttpResponse:
    material = selectors.material_get_for_user(request.user, material_id)
    services.material_withdraw(user=request.user, material=material)
    messages.success(request, _("The material is no longer shared."))
    return HttpResponseRedirect(reverse("library-search"), status=303)
