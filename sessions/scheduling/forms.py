"""Forms of the scheduling pages. They parse and convert; the rules are in services.py.

The host enters the start as a date and a time in a time zone (their own by default),
which the form turns into an aware datetime; the service stores it in UTC.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from server.languages import CONTENT_LANGUAGES, LANGUAGE_NAMES
from server.people.models import TIME_ZONE_CHOICES, Institution, Membership, User
from sessions.models import Audience, LiveSession, SessionKind

from .selectors import PEER_ROLES, TEACHING_ROLES, user_may_host_kind
from .services import SessionDetails

DURATIONS = [(15, "15 min"), (30, "30 min"), (45, "45 min"), (60, "1 h"), (90, "1 h 30"), (120, "2 h"), (180, "3 h"), (240, "4 h")]


def _kind_choices(user: User) -> list[tuple[str, Any]]:
    return [(value, label) for value, label in SessionKind.choices if value != SessionKind.CONSULT and user_may_host_kind(user=user, kind=value)]


class SessionForm(forms.Form):
    """Create or edit a session. `kind` is only asked when creating."""

    kind = forms.ChoiceField(label=_("Kind"))
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 5}))
    specialty = forms.CharField(label=_("Specialty"), required=False, max_length=80)
    language = forms.ChoiceField(label=_("Language of the session"), choices=CONTENT_LANGUAGES, initial="en")
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(label=_("Start time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    duration = forms.TypedChoiceField(label=_("Duration"), choices=DURATIONS, coerce=int, initial=60)
    time_zone = forms.ChoiceField(
        label=_("Time zone of the date and time above"), choices=TIME_ZONE_CHOICES,
        help_text=_("Yours by default. Everyone sees the time in their own zone."),
    )
    capacity = forms.IntegerField(
        label=_("Places"), min_value=1, max_value=5000, initial=100,
        help_text=_("People who can register besides you. Peer sessions: 1 to 5 (2 to 6 people with you)."),
    )
    audience = forms.ChoiceField(label=_("Who can join"), choices=Audience.choices, initial=Audience.EVERYONE)
    lobby_enabled = forms.BooleanField(label=_("Lobby: I admit each person"), required=False)
    institution = forms.ModelChoiceField(label=_("School"), queryset=Institution.objects.none(), empty_label=None)
    presenter = forms.CharField(
        label=_("Presenter (username)"), required=False, max_length=150,
        help_text=_("Case conferences: who presents the case and receives your recommendations. You by default."),
    )
    case_material = forms.TypedChoiceField(label=_("Case from the library"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, user: User, session: LiveSession | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.session = session
        self.fields["time_zone"].initial = user.time_zone or "UTC"
        roles = list(TEACHING_ROLES) + list(PEER_ROLES)
        schools = Institution.objects.filter(
            pk__in=Membership.objects.filter(user=user, is_active=True, role__in=roles).values("institution_id")
        )
        self.fields["institution"].queryset = schools  # type: ignore[attr-defined]  # a ModelChoiceField
        self._set_case_choices()
        if session is None:
            self.fields["kind"].choices = _kind_choices(user)  # type: ignore[attr-defined]  # a ChoiceField
        else:
            del self.fields["kind"]
            del self.fields["institution"]
            self._fill_from(session)

    def _set_case_choices(self) -> None:
        choices: list[tuple[str | int, Any]] = [("", _("No case"))]
        try:
            from courses.library.selectors import material_visible_to
            from courses.models import MaterialKind

            cases = material_visible_to(self.user).filter(kind=MaterialKind.CASE).order_by("title")[:200]
            choices += [(material.pk, material.title) for material in cases]
        except ImportError:  # the library part is optional for scheduling
            pass
        self.fields["case_material"].choices = choices  # type: ignore[attr-defined]  # a ChoiceField

    def _fill_from(self, session: LiveSession) -> None:
        zone = zoneinfo.ZoneInfo(self.user.time_zone or "UTC")
        local = session.starts_at.astimezone(zone)
        minutes = session.duration_minutes
        if minutes not in dict(DURATIONS):
            self.fields["duration"].choices = sorted([*DURATIONS, (minutes, f"{minutes} min")])  # type: ignore[attr-defined]  # a ChoiceField
        self.initial.update(
            title=session.title, description=session.description, specialty=session.specialty,
            language=session.language, date=local.date(), start_time=local.time().replace(second=0, microsecond=0),
            duration=minutes, time_zone=zone.key, capacity=session.capacity, audience=session.audience,
            lobby_enabled=session.lobby_enabled,
            presenter=session.presenter.username if session.presenter and session.presenter_id != session.host_id else "",
            case_material=session.case_material_id or "",
        )

    def clean_presenter(self) -> User | None:
        username = self.cleaned_data.get("presenter", "").strip()
        if not username:
            return None
        presenter = User.objects.filter(username=username, is_active=True).first()
        if presenter is None:
            raise forms.ValidationError(_("Nobody has the username %(name)s.") % {"name": username})
        return presenter

    def clean(self) -> dict:
        data = cast(dict[str, Any], super().clean())  # Form.clean returns cleaned_data
        day, time, zone_name = data.get("date"), data.get("start_time"), data.get("time_zone")
        if day and time and zone_name:
            zone = zoneinfo.ZoneInfo(zone_name)
            naive = dt.datetime.combine(day, time)
            starts = naive.replace(tzinfo=zone)
            # A wall-clock time skipped when clocks go forward does not exist: say so.
            if starts.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != naive:
                self.add_error("start_time", _("This time does not exist in %(zone)s (the clocks change).") % {"zone": zone_name})
            else:
                data["starts_at"] = starts
                data["ends_at"] = starts + dt.timedelta(minutes=data.get("duration") or 60)
        return data

    def details(self) -> SessionDetails:
        """The cleaned form as what the services take. Only after `is_valid()`."""
        data = self.cleaned_data
        return SessionDetails(
            title=data["title"], starts_at=data["starts_at"], ends_at=data["ends_at"],
            description=data.get("description", ""), specialty=data.get("specialty", ""),
            language=data["language"], capacity=data["capacity"], audience=data["audience"],
            lobby_enabled=data.get("lobby_enabled", False), presenter=data.get("presenter"),
            case_material_id=data.get("case_material"),
        )


class CatalogFilterForm(forms.Form):
    """The catalog's filters (GET). Dates are days in the viewer's zone."""

    kind = forms.ChoiceField(label=_("Kind"), required=False)
    specialty = forms.ChoiceField(label=_("Specialty"), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, specialties: list[str], languages: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        any_choice = [("", _("Any"))]
        # A filter for a value no upcoming session has (an old link) filters to nothing, not to all.
        data = self.data if self.is_bound else {}
        if data.get("specialty") and data["specialty"] not in specialties:
            specialties = [*specialties, data["specialty"][:80]]
        if data.get("language") and data["language"] not in languages:
            languages = [*languages, data["language"][:8]]
        self.fields["kind"].choices = any_choice + [c for c in SessionKind.choices if c[0] != SessionKind.CONSULT]  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["specialty"].choices = any_choice + [(s, s) for s in specialties]  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["language"].choices = any_choice + [(code, LANGUAGE_NAMES.get(code, code)) for code in languages]  # type: ignore[attr-defined]  # a ChoiceField


class InviteForm(forms.Form):
    username = forms.CharField(label=_("Invite (username)"), max_length=150)


class RecommendationForm(forms.Form):
    body = forms.CharField(label=_("Recommendations for the presenter"), max_length=5000, widget=forms.Textarea(attrs={"rows": 6}))


class ReflectionForm(forms.Form):
    body = forms.CharField(label=_("Your reflection"), max_length=2000, widget=forms.Textarea(attrs={"rows": 5}))
    shared = forms.BooleanField(label=_("Share with the other participants"), required=False)


class RecordingPublishForm(forms.Form):
    """The host's choice when a recording goes to the library (sessions/scheduling/recordings.py)."""

    scope = forms.ChoiceField(label=_("Who may see it in the library"), choices=())
    licence = forms.ChoiceField(label=_("Licence"), choices=())
    everyone_told = forms.BooleanField(
        label=_("Everyone listed above was told that this recording will be in the library"), required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from courses.models import Licence, Scope

        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = Scope.choices  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["scope"].initial = Scope.OWN_SCHOOL
        self.fields["licence"].choices = Licence.choices  # type: ignore[attr-defined]  # a ChoiceField
