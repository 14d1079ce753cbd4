"""Every page of OpenRounds, in one list: the accessibility tests and bench/page_weight.py read it.

Each page names who looks at it and how to find its address in the demo data (seeded by
`seed_demo_data`). Add a page here when you add one to the product.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from django.apps import apps
from django.urls import reverse

# The same seed modules, in the same order, as `manage.py seed_demo` (which itself refuses
# to run with DEBUG off, as Django's test runner sets it).
from server.people.management.commands.seed_demo import DEMO_MODULES


def seed_demo_data() -> SimpleNamespace:
    """Seed every app's demo data; return the demo people by username and schools by key."""
    for name in DEMO_MODULES:
        importlib.import_module(name).seed(io.StringIO())
    from server.people.demo import seed_people
    from server.people.models import User

    schools = seed_people()  # idempotent; returns the schools by key
    return SimpleNamespace(**{u.username: u for u in User.objects.all()}, schools=SimpleNamespace(**schools))


@dataclass(frozen=True)
class SitePage:
    """One page: a name for reports, who views it, how to find its path, its weight budget."""

    name: str
    user: str | Callable[[SimpleNamespace], str] | None
    locate: Callable[[SimpleNamespace], str]
    budget_kb: int | None = None

    def path(self, people: SimpleNamespace) -> str:
        return self.locate(people)

    def viewer(self, people: SimpleNamespace) -> str | None:
        """The username of who looks at the page (None: an anonymous visitor)."""
        return self.user(people) if callable(self.user) else self.user


def _first_pk(label: str, **filters: object) -> int:
    app_label, model_name = label.split(".")
    model = apps.get_model(app_label, model_name)
    found = model.objects.filter(**filters).order_by("pk").values_list("pk", flat=True).first()
    if found is None:
        raise LookupError(f"The demo data has no {label} matching {filters}.")
    return found


def _registered_session(user) -> int:
    model = apps.get_model("live", "SessionRegistration")
    found = model.objects.filter(user=user, status="registered").order_by("session__starts_at").values_list("session_id", flat=True).first()
    if found is None:
        raise LookupError(f"{user.username} is registered for no demo session.")
    return found


def _first_course(people: SimpleNamespace):
    model = apps.get_model("courses", "Course")
    course = model.objects.filter(is_published=True, institution=people.schools.lagos).order_by("pk").first()
    if course is None:
        raise LookupError("The demo data has no published course at Lagos.")
    return course


def _first_quiz():
    model = apps.get_model("courses", "QuestionSet")
    found = model.objects.select_related("module").order_by("pk").first()
    if found is None:
        raise LookupError("The demo data has no question set.")
    return found


def _quiz_path(people: SimpleNamespace, suffix: str) -> str:
    quiz = _first_quiz()
    return f"/courses/{quiz.module.course_id}/quizzes/{quiz.pk}/{suffix}"


def _question_history_path(people: SimpleNamespace) -> str:
    """The history page of a demo question with two versions.

    The demo seeds no edit, so the first time this edits the demo set's multiple-choice
    question through the service the editor's form calls (its author makes the prompt
    say to choose every right option); later calls find that version.
    """
    from courses.assessment import services
    from courses.assessment.services import OptionDraft

    quiz = _first_quiz()
    model = apps.get_model("courses", "Question")
    edited = model.objects.filter(question_set=quiz, version__gt=1).order_by("pk").first()
    if edited is None:
        question = model.objects.filter(question_set=quiz, retired_at__isnull=True, kind="multiple").order_by("pk").first()
        if question is None:
            raise LookupError("The demo question set has no multiple-choice question to edit.")
        edited = services.question_update(
            by=quiz.module.course.owner, question=question, kind=question.kind, image=question.image,
            prompt=f"{question.prompt} Choose every one that applies.", points=question.points,
            model_answer=question.model_answer,
            options=[OptionDraft(o.text, o.is_correct, o.feedback) for o in question.options.order_by("position", "pk")],
        ).question
    return _quiz_path(people, f"questions/{edited.pk}/history/")


def _completed_consult() -> int:
    return _first_pk("live.ConsultRequest", status="completed")


def _first_session():
    """The first upcoming demo session that is not a consult (its host may edit it)."""
    model = apps.get_model("live", "LiveSession")
    session = model.objects.filter(status="scheduled").exclude(kind="consult").order_by("starts_at").first()
    if session is None:
        raise LookupError("The demo data has no scheduled session.")
    return session


def _ended_session():
    """An ended demo session (not a consult): its room shows what it kept."""
    model = apps.get_model("live", "LiveSession")
    session = model.objects.filter(status="ended").exclude(kind="consult").order_by("starts_at").first()
    if session is None:
        raise LookupError("The demo data has no ended session.")
    return session


def _fixed(path: str) -> Callable[[SimpleNamespace], str]:
    return lambda people: path


PAGES: list[SitePage] = [
    SitePage("home", None, _fixed("/")),
    SitePage("home (signed in)", "amina", _fixed("/")),
    SitePage("log in", None, _fixed("/accounts/login/")),
    SitePage("sign up", None, _fixed("/accounts/signup/")),
    SitePage("profile", "amina", _fixed("/accounts/profile/")),
    SitePage("access tokens", "amina", _fixed("/accounts/tokens/")),
    SitePage("institution", "okafor", lambda p: reverse("institution", args=[p.schools.lagos.pk])),
    SitePage("sessions catalog", "amina", _fixed("/sessions/"), budget_kb=60),
    SitePage("my schedule", "amina", _fixed("/sessions/mine/")),
    SitePage("find exchange partners", "amina", _fixed("/peer/"), budget_kb=60),
    SitePage("session", "amina", lambda p: f"/sessions/{_registered_session(p.amina)}/"),
    SitePage("new session", "tanaka", _fixed("/sessions/new/")),
    SitePage("library search", "amina", _fixed("/library/"), budget_kb=60),
    SitePage("library search results", "amina", _fixed("/library/?q=malaria"), budget_kb=60),
    SitePage("material", "amina", lambda p: f"/library/{_first_pk('courses.Material', institution=p.schools.lagos)}/", budget_kb=60),
    SitePage("contribute material", "asante", _fixed("/library/contribute/"), budget_kb=60),
    SitePage("courses", "amina", _fixed("/courses/")),
    SitePage("course", "amina", lambda p: f"/courses/{_first_course(p).pk}/"),
    SitePage("new course", "tanaka", _fixed("/courses/new/")),
    SitePage("course builder", lambda p: _first_course(p).owner.username, lambda p: f"/courses/{_first_course(p).pk}/edit/"),
    SitePage("quiz", "amina", lambda p: _quiz_path(p, ""), budget_kb=60),
    SitePage("quiz statistics", "adebayo", lambda p: _quiz_path(p, "statistics/"), budget_kb=60),
    SitePage("quiz editor", "adebayo", lambda p: _quiz_path(p, "edit/"), budget_kb=60),
    SitePage("question editor", "adebayo", lambda p: _quiz_path(
        p, f"questions/{_first_pk('courses.Question', question_set=_first_quiz(), retired_at__isnull=True)}/edit/"
    ), budget_kb=60),
    SitePage("marking", "adebayo", lambda p: f"/courses/{_first_quiz().module.course_id}/assessment/marking/", budget_kb=60),
    # Visited after the other quiz pages: the first visit edits a demo question (see its locator).
    SitePage("question history", "adebayo", _question_history_path, budget_kb=60),
    SitePage("consults", "chikondi", _fixed("/consults/")),
    SitePage("request a consult", "chikondi", _fixed("/consults/request/")),
    SitePage("consult roster", "mensah", _fixed("/consults/roster/")),
    SitePage("consult (requested)", "chikondi", lambda p: f"/consults/{_first_pk('live.ConsultRequest', trainee=p.chikondi)}/"),
    SitePage("consult (completed)", "mensah", lambda p: f"/consults/{_completed_consult()}/"),
    SitePage("consult note", "mensah", lambda p: f"/consults/{_completed_consult()}/note/"),
    SitePage("consult audit log", "mensah", lambda p: f"/consults/{_completed_consult()}/audit/"),
    SitePage("material versions", "amina", lambda p: f"/library/{_first_pk('courses.Material', institution=p.schools.lagos)}/versions/"),
    SitePage("edit session", lambda p: _first_session().host.username, lambda p: f"/sessions/{_first_session().pk}/edit/"),
    SitePage("room record (ended)", lambda p: _ended_session().host.username, lambda p: f"/rooms/{_ended_session().pk}/"),
    SitePage("change password", "amina", _fixed("/accounts/password_change/")),
    SitePage("reset password", None, _fixed("/accounts/password_reset/")),
    SitePage("my certificates", "amina", _fixed("/record/certificates/"), budget_kb=60),
    SitePage("certificate verification", None, lambda p: f"/record/verify/{_first_pk('live.Certificate')}/", budget_kb=60),
    SitePage("school report", "okafor", lambda p: reverse("record:report", args=[p.schools.lagos.pk]), budget_kb=60),
    SitePage("portfolio", "amina", _fixed("/record/portfolio/"), budget_kb=60),
    SitePage("certificate rules (school)", "okafor", lambda p: reverse("record:rules-school", args=[p.schools.lagos.pk]), budget_kb=60),
    SitePage("certificate rule (course)", lambda p: _first_course(p).owner.username,
             lambda p: reverse("record:rules-course", args=[_first_course(p).pk]), budget_kb=60),
]


def _room_path(people: SimpleNamespace) -> str:
    """The room of the first demo session Amina is registered for."""
    registration = _first_pk("live.SessionRegistration", user=people.amina, status="registered")
    model = apps.get_model("live", "SessionRegistration")
    return f"/rooms/{model.objects.get(pk=registration).session_id}/"


ROOM_PAGE = SitePage("room", "amina", _room_path, budget_kb=150)
PAGES.append(ROOM_PAGE)


def _breakout_group_path(people: SimpleNamespace) -> str:
    """The room of an open breakout group that Amina is in (its page differs from a main room).

    The demo data has no open groups (they close by themselves), so the first time this
    splits a scheduled demo conference that Amina is not registered for (her own room stays
    as it is) into one group with Lukas, through the services the host's panel calls, and
    opens it; later calls find that group.
    """
    from sessions.breakouts import services
    from sessions.models import BreakoutGroup, BreakoutMember, LiveSession, Participant

    member = BreakoutMember.objects.filter(
        user=people.amina, group__opened_at__isnull=False, group__closed_at__isnull=True
    ).select_related("group").first()
    if member is None:
        session = (
            LiveSession.objects.filter(status="scheduled", kind__in=("case_conference", "lecture"))
            .exclude(registrations__user=people.amina).order_by("-starts_at").first()
        )
        if session is None:
            raise LookupError("The demo data has no scheduled conference to split into groups.")
        for user in (people.amina, people.lukas):
            Participant.objects.get_or_create(session=session, user=user, defaults={"role": "attendee"})
        services.breakouts_split(by=session.host, session=session, group_size=2, mode="manual", groups=1)
        group = BreakoutGroup.objects.filter(parent=session).order_by("-split").first()
        assert group is not None
        for user in (people.amina, people.lukas):
            services.breakout_move(by=session.host, session=session, user_id=user.pk, group_id=group.pk)
        services.breakouts_open(by=session.host, session=session, minutes=240)
        return f"/rooms/{group.room_id}/"
    return f"/rooms/{member.group.room_id}/"


# A breakout group's room: the room page with the group's heading, countdown and way back.
PAGES.append(SitePage("breakout group room", "amina", _breakout_group_path, budget_kb=150))


def room_usability_probe(page) -> None:
    """The room is usable when a chat message is sent and shown, and a raised hand is shown.

    Uses only what a person sees: the labelled message box, the send and raise-hand
    buttons, and the chat log. Returns when both have happened; raises on timeout.
    """
    import re
    import secrets

    from playwright.sync_api import expect

    text = f"Good morning from Lagos ({secrets.token_hex(3)})"
    box = page.get_by_role("textbox", name=re.compile(r"^message$", re.I))
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_role("region", name="Chat").get_by_text(text)).to_be_visible()
    me = page.get_by_role("navigation", name="Main").locator(".nav-account a").first.inner_text()
    page.get_by_role("button", name=re.compile(r"raise hand", re.I)).click()
    expect(page.get_by_role("region", name="Raised hands").get_by_role("listitem").filter(has_text=me)).to_be_visible()


# The pages that must also work in French and in Arabic (right to left).
TRANSLATED_PAGES = ["sessions catalog", "room", "library search"]


def page_named(name: str) -> SitePage:
    return next(page for page in PAGES if page.name == name)
