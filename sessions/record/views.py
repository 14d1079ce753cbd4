"""Pages of the learning record: my certificates, downloads, the public verification page,
revoking, the published key; the school's report; the portfolio.

Thin: parse, call a selector or service, render.
"""

from __future__ import annotations

import csv
import datetime as dt
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_date
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from courses.assessment.selectors import question_sets_counted
from courses.curriculum.selectors import course_get_for_viewer
from courses.models import Course
from server.people.errors import InvalidRequest, PermissionRefused
from server.people.http import AuthenticatedHttpRequest
from server.people.models import Institution
from server.people.selectors import user_managed_institutions
from sessions.models import SessionKind

from . import charts, report, selectors, services
from .credentials import did_document, public_jwk
from .forms import CourseRuleForm, SessionRuleForm
from .pdf import certificate_pdf, portfolio_pdf
from .portfolio import Portfolio, portfolio_owner_by_token, portfolio_read, portfolio_share_of


def verify_url(request: HttpRequest, certificate_id: object) -> str:
    return request.build_absolute_uri(reverse("record:verify", args=[certificate_id]))


@login_required
def my_certificates(request: AuthenticatedHttpRequest) -> HttpResponse:
    for session_id in selectors.sessions_awaiting_certificates(user=request.user):
        services.certificates_issue_for_session(session_id=session_id)
    return render(request, "record/my_certificates.html", {"certificates": selectors.certificates_of(user=request.user)})


@login_required
def certificate_download_pdf(request: AuthenticatedHttpRequest, certificate_id: str) -> HttpResponse:
    certificate = selectors.certificate_for_holder(user=request.user, certificate_id=certificate_id)
    if certificate is None:
        raise Http404
    body = certificate_pdf(certificate=certificate, verify_url=verify_url(request, certificate.pk))
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.pk}.pdf"'
    return response


@login_required
def certificate_download_json(request: AuthenticatedHttpRequest, certificate_id: str) -> HttpResponse:
    """The signed credential (VC-JWT) and, for reading, the credential it carries."""
    certificate = selectors.certificate_for_holder(user=request.user, certificate_id=certificate_id)
    if certificate is None:
        raise Http404
    verification = selectors.certificate_verify_id(certificate_id=str(certificate.pk))
    body = {"jwt": certificate.credential, "credential": verification.credential, "verify": verify_url(request, certificate.pk)}
    response = HttpResponse(json.dumps(body, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="certificate-{certificate.pk}.json"'
    return response


def certificate_verify_page(request: HttpRequest, certificate_id: str) -> HttpResponse:
    """Public: is this certificate genuine and not revoked?"""
    verification = selectors.certificate_verify_id(certificate_id=certificate_id)
    can_revoke = (
        verification.certificate is not None and request.user.is_authenticated
        and verification.certificate.revoked_at is None
        and services.certificate_can_revoke(user=request.user, certificate=verification.certificate)
    )
    status = 404 if verification.status == "unknown" else 200
    return render(request, "record/verify.html", {"verification": verification, "can_revoke": can_revoke}, status=status)


@login_required
@require_POST
def certificate_revoke(request: AuthenticatedHttpRequest, certificate_id: str) -> HttpResponse:
    certificate = selectors.certificate_public(certificate_id=certificate_id)
    if certificate is None:
        raise Http404
    try:
        services.certificate_revoke(by=request.user, certificate=certificate, reason=request.POST.get("reason", ""))
    except PermissionRefused as refusal:
        return render(request, "scheduling/refused.html", {"message": refusal.message}, status=403)
    except InvalidRequest as refusal:
        messages.error(request, str(refusal.message))
    else:
        messages.success(request, _("The certificate is revoked."))
    return redirect("record:verify", certificate_id=certificate.pk)


def jwks(request: HttpRequest) -> JsonResponse:
    """The platform's public signing key (RFC 7517), for verifiers."""
    response = JsonResponse({"keys": [public_jwk()]})
    response["Access-Control-Allow-Origin"] = "*"
    return response


def did_web(request: HttpRequest) -> JsonResponse:
    """The did:web document naming the same key as the issuer's verification method."""
    response = JsonResponse(did_document(), content_type="application/did+json")
    response["Access-Control-Allow-Origin"] = "*"
    return response


# -- the school's report -------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[dt.date, dt.date]:
    """The period from ?since=&until= (ISO dates); default: the last twelve months."""
    today = timezone.localdate()
    until = parse_date(request.GET.get("until") or "") or today
    since = parse_date(request.GET.get("since") or "") or (until - dt.timedelta(days=365))
    if since > until:
        since, until = until, since
    return since, until


def _managed_school(request: AuthenticatedHttpRequest, institution_id: int) -> Institution:
    institution = Institution.objects.filter(pk=institution_id).first()
    if institution is None or not report.report_can_view(user=request.user, institution=institution):
        raise Http404
    return institution


@login_required
def school_report_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The report of the first school the person coordinates."""
    school = user_managed_institutions(user=request.user).order_by("name").first()
    if school is None:
        return render(request, "scheduling/refused.html", {"message": _("Only school coordinators see a school's report.")}, status=403)
    return redirect("record:report", institution_id=school.pk)


@login_required
def school_report_page(request: AuthenticatedHttpRequest, institution_id: int) -> HttpResponse:
    institution = _managed_school(request, institution_id)
    since, until = _period(request)
    numbers = report.school_report(user=request.user, institution=institution, since=since, until=until)
    enrolled = numbers.enrolled or 1
    kind_chart = charts.bar_chart(
        title=_("Students who took part, by activity"),
        rows=[(row.label, row.participants, f"{row.participants} · {round(row.participants * 100 / enrolled)}%") for row in numbers.by_kind],
        maximum=enrolled,
    )
    every_chart = charts.bar_chart(
        title=_("Students who took part at least once"),
        rows=[(_("Took part"), numbers.participants, f"{numbers.participants} / {numbers.enrolled} · {numbers.percent}%")],
        maximum=enrolled,
    )
    country_chart = charts.bar_chart(
        title=_("Partner schools reached, by country"),
        rows=[(report.country_name(code), count, str(count)) for code, count in numbers.countries_reached[:12]],
    )
    month_chart = charts.bar_chart(
        title=_("Students taking part, month by month"),
        rows=[(formats.date_format(month, "YEAR_MONTH_FORMAT"), count, str(count)) for month, count in numbers.by_month[-12:]],
    )
    schools = user_managed_institutions(user=request.user).order_by("name")
    return render(request, "record/school_report.html", {
        "report": numbers, "institution": institution, "schools": schools,
        "every_chart": every_chart, "kind_chart": kind_chart, "country_chart": country_chart, "month_chart": month_chart,
        "since": since.isoformat(), "until": until.isoformat(),
    })


@login_required
def school_report_csv(request: AuthenticatedHttpRequest, institution_id: int) -> HttpResponse:
    institution = _managed_school(request, institution_id)
    since, until = _period(request)
    numbers = report.school_report(user=request.user, institution=institution, since=since, until=until)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="school-report-{institution.pk}-{since}-{until}.csv"'
    writer = csv.writer(response)
    writer.writerow(["measure", "activity", "value"])
    writer.writerow(["period", "", f"{since}/{until}"])
    writer.writerow(["enrolled", "", numbers.enrolled])
    writer.writerow(["participants", "", numbers.participants])
    writer.writerow(["participation_percent", "", numbers.percent])
    writer.writerow(["hours", "", numbers.hours])
    for row in numbers.by_kind:
        writer.writerow(["participants", row.kind, row.participants])
        writer.writerow(["activities", row.kind, row.activities])
        writer.writerow(["hours", row.kind, row.hours])
    writer.writerow(["courses_completed", "", numbers.courses_completed])
    writer.writerow(["certificates", "", numbers.certificates])
    for name, code in numbers.schools_reached:
        writer.writerow(["school_reached", code, name])
    for month, count in numbers.by_month:
        writer.writerow(["participants_month", month.strftime("%Y-%m"), count])
    return response


# -- the portfolio -----------------------------------------------------------------------------


def _portfolio_sections(portfolio: Portfolio) -> list[tuple[str, list[str]]]:
    """The portfolio as plain lines, for its PDF."""
    sessions = [
        f"{formats.date_format(timezone.localtime(s.starts_at), 'DATE_FORMAT')} · {s.kind_label} · {s.title}"
        + (f" · {s.specialty}" if s.specialty else "")
        + (" · " + ", ".join(s.countries) if s.countries else "")
        for s in portfolio.sessions
    ]
    consults = [_("Observed: %(specialty)s × %(count)s") % {"specialty": k, "count": v} for k, v in sorted(portfolio.consults_observed.items())]
    consults += [_("Led: %(specialty)s × %(count)s") % {"specialty": k, "count": v} for k, v in sorted(portfolio.consults_led.items())]
    return [
        (_("Sessions attended"), sessions),
        (_("Countries of the people met"), [", ".join(portfolio.countries_met)] if portfolio.countries_met else []),
        (_("Peer exchanges"), [str(portfolio.peer_exchanges)]),
        (_("Consults (counts and specialties only)"), consults),
        (_("Cases presented"), [f"{c.title} · {c.specialty}" for c in portfolio.cases_presented]),
        (_("Courses completed"), [
            f"{title} · {formats.date_format(timezone.localtime(when), 'DATE_FORMAT')}" if when else title
            for title, when in portfolio.courses
        ]),
        (_("Reflections"), [f"{r.session.title}: {r.body}" for r in portfolio.reflections]),
        (_("Competencies covered"), [f"{name} ({count})" for name, count in portfolio.competencies]),
    ]


def _portfolio_response(request: HttpRequest, portfolio: Portfolio, *, as_pdf: bool, share_url: str = "") -> HttpResponse:
    if as_pdf:
        language = get_language() or "en"
        language = language if language in ("en", "fr", "pt", "ar") else "en"
        title = _("International learning portfolio of %(name)s") % {"name": portfolio.owner.name}
        body = portfolio_pdf(language=language, title=title, sections=_portfolio_sections(portfolio))
        response = HttpResponse(body, content_type="application/pdf")
        response["Content-Disposition"] = 'attachment; filename="portfolio.pdf"'
        return response
    response = render(request, "record/portfolio.html", {"portfolio": portfolio, "share_url": share_url})
    if not portfolio.is_owner:
        # Opened through the link, whose path is the secret: never send it onward. (Not on
        # the owner's page: with no referrer a browser sends "Origin: null" with its forms,
        # which the CSRF check rightly refuses.)
        response["Referrer-Policy"] = "no-referrer"
    return response


@login_required
def my_portfolio(request: AuthenticatedHttpRequest, as_pdf: bool = False) -> HttpResponse:
    portfolio = portfolio_read(viewer=request.user, owner=request.user)
    assert portfolio is not None  # the owner always sees their own
    share = portfolio_share_of(user=request.user)
    share_url = request.build_absolute_uri(reverse("record:portfolio-shared", args=[share.token])) if share else ""
    return _portfolio_response(request, portfolio, as_pdf=as_pdf, share_url=share_url)


def shared_portfolio(request: HttpRequest, token: str, as_pdf: bool = False) -> HttpResponse:
    owner = portfolio_owner_by_token(token=token)
    if owner is None:
        raise Http404
    portfolio = portfolio_read(viewer=request.user, owner=owner, through_link=True)
    assert portfolio is not None
    return _portfolio_response(request, portfolio, as_pdf=as_pdf)


@login_required
@require_POST
def portfolio_sharing(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.POST.get("action") == "stop":
        services.portfolio_unshare(user=request.user)
        messages.success(request, _("Your portfolio is private again; the old link no longer works."))
    else:
        services.portfolio_share(user=request.user)
        messages.success(request, _("Here is a new link to your portfolio; any earlier link no longer works."))
    return redirect("record:portfolio")


# -- certificate rules -------------------------------------------------------------------------


def _refused(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "scheduling/refused.html", {"message": message}, status=403)


@login_required
def certificate_rules_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The rules of the first school the person coordinates (a course's faculty go from the course page)."""
    school = user_managed_institutions(user=request.user).order_by("name").first()
    if school is None:
        return _refused(request, _("Only school coordinators set the certificate rules of a school's sessions. "
                                   "A course's faculty set its rule from the course's page."))
    return redirect("record:rules-school", institution_id=school.pk)


@login_required
@require_http_methods(["GET", "POST"])
def certificate_rules_school(request: AuthenticatedHttpRequest, institution_id: int) -> HttpResponse:
    """A school's rules per session kind: see them, create, change the share, switch off.

    Anyone but the school's coordinators (and staff) gets 404, as on the school's report.
    """
    institution = Institution.objects.filter(pk=institution_id).first()
    if institution is None or not selectors.certificate_rules_can_manage_school(user=request.user, institution=institution):
        raise Http404
    rules = selectors.certificate_rules_of_school(institution=institution)
    forms: dict[str, SessionRuleForm] = {
        str(kind): SessionRuleForm(prefix=kind, initial={
            "min_presence_percent": rules[kind].min_presence_percent if kind in rules else 75,
            "active": rules[kind].is_active if kind in rules else False,
        })
        for kind in services.CERTIFIABLE_KINDS
    }
    status = 200
    if request.method == "POST":
        kind = request.POST.get("session_kind", "")
        if kind not in forms:
            messages.error(request, _("Choose a session kind that certificates are issued for."))
            status = 400
        else:
            form = forms[kind] = SessionRuleForm(request.POST, prefix=kind)
            if form.is_valid():
                try:
                    services.certificate_rule_set(
                        by=request.user, institution=institution, session_kind=kind,
                        min_presence_percent=form.cleaned_data["min_presence_percent"], active=form.cleaned_data["active"],
                    )
                except PermissionRefused as refusal:
                    return _refused(request, refusal.message)
                except InvalidRequest as refusal:
                    form.add_error("min_presence_percent", refusal.message)
                else:
                    messages.success(request, _("The rule for %(kind)s is saved.") % {"kind": SessionKind(kind).label.lower()})
                    return redirect(reverse("record:rules-school", args=[institution.pk]) + f"#rule-{kind}")
            status = 400
    rows = [(str(kind), SessionKind(kind).label, rules.get(kind), forms[kind]) for kind in services.CERTIFIABLE_KINDS]
    course_rules = selectors.certificate_course_rules_of_school(institution=institution)
    all_rules = [*rules.values(), *course_rules]
    return render(request, "record/rules_school.html", {
        "institution": institution, "rows": rows, "course_rules": course_rules,
        "history": selectors.certificate_rule_history(rules=all_rules),
        "schools": user_managed_institutions(user=request.user).order_by("name"),
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def certificate_rule_course(request: AuthenticatedHttpRequest, course_id: int) -> HttpResponse:
    """A course's rule ("course passed"): switched on or off by the course's faculty.

    A course the person may not open, and one they may open but do not teach, get the
    403 page the course builder gives.
    """
    try:
        course: Course = course_get_for_viewer(user=request.user, course_id=course_id)
    except PermissionRefused as refusal:
        return _refused(request, refusal.message)
    if not selectors.certificate_rule_can_manage_course(user=request.user, course=course):
        return _refused(request, _("Only the course's faculty set its certificate rule."))
    rule = selectors.certificate_rule_of_course(course=course)
    form = CourseRuleForm(initial={"active": rule.is_active if rule else False})
    if request.method == "POST":
        form = CourseRuleForm(request.POST)
        if form.is_valid():
            try:
                services.certificate_rule_set(by=request.user, course=course, active=form.cleaned_data["active"],
                                              min_presence_percent=rule.min_presence_percent if rule else 75)
            except PermissionRefused as refusal:
                return _refused(request, refusal.message)
            messages.success(request, _("The course's certificate rule is saved."))
            return redirect("record:rules-course", course_id=course.pk)
    question_sets = question_sets_counted(course=course).count()
    return render(request, "record/rules_course.html", {
        "course": course, "rule": rule, "form": form, "question_sets": question_sets,
        "history": selectors.certificate_rule_history(rules=[rule] if rule else []),
    })
