"""The "Find exchange partners" form. It parses and converts; the rules are in services.py.

Free times are entered as a date and two times in one time zone (the person's own by
default); the form turns them into aware datetimes and the service stores them in UTC.
An end earlier than the start is on the next day (22:00 to 01:00).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from server.languages import CONTENT_LANGUAGES, LANGUAGE_NAMES
from server.people.models import TIME_ZONE_CHOICES, User

from .matching import MAX_GROUP, MIN_GROUP
from .services import MAX_DISCIPLINE, MAX_TOPIC, MAX_WINDOWS, PeerWish

#: Rows of free times the page shows; up to MAX_WINDOWS are accepted.
WINDOW_ROWS = 4


class PeerRequestForm(forms.Form):
    topic = forms.CharField(
        label=_("Topic"), max_length=MAX_TOPIC,
        help_text=_("What you would like to talk about, in a few words, e.g. “malaria in pregnancy”."),
    )
    discipline = forms.CharField(label=_("Discipline (optional)"), required=False, max_length=MAX_DISCIPLINE)
    languages = forms.MultipleChoiceField(
        label=_("Languages you can use"), widget=forms.CheckboxSelectMultiple,
        help_text=_("From your profile; the group shares at least one of them."),
    )
    group_size = forms.TypedChoiceField(
        label=_("Group size, you included"), coerce=int, initial=4,
        choices=[(n, str(n)) for n in range(MIN_GROUP, MAX_GROUP + 1)],
    )
    same_country_ok = forms.BooleanField(
        label=_("A group of people from my own country is fine too"), required=False,
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone of the times below"), choices=TIME_ZONE_CHOICES,
        help_text=_("Yours by default. Everyone sees the times in their own zone."),
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        mine = [code for code in (user.languages or []) if code]
        choices = list(CONTENT_LANGUAGES) + [(code, code) for code in mine if code not in LANGUAGE_NAMES]
        self.fields["languages"].choices = choices  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["languages"].initial = mine
        self.fields["time_zone"].initial = user.time_zone or "UTC"

    def wish(self, windows: list[tuple[dt.datetime, dt.datetime]]) -> PeerWish:
        """The cleaned form as the service takes it. Only after `is_valid()`."""
        data = self.cleaned_data
        return PeerWish(
            topic=data["topic"], discipline=data.get("discipline", ""), languages=list(data["languages"]),
            group_size=data["group_size"], same_country_ok=data.get("same_country_ok", False),
            time_zone=data["time_zone"], windows=windows,
        )


class WindowForm(forms.Form):
    """One free time: a date and two times (in the form's time zone)."""

    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(label=_("From"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(label=_("To"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))

    def interval(self, zone: zoneinfo.ZoneInfo) -> tuple[dt.datetime, dt.datetime] | None:
        """The window as aware datetimes, or None (with a field error) for a time the clocks skip."""
        data = self.cleaned_data
        naive_start = dt.datetime.combine(data["date"], data["start"])
        try:
            end_day = data["date"] + dt.timedelta(days=1) if data["end"] <= data["start"] else data["date"]
            naive_end = dt.datetime.combine(end_day, data["end"])
        except OverflowError:  # 31 December 9999
            self.add_error("date", _("Give a date in the next two weeks."))
            return None
        bounds = []
        for name, naive in (("start", naive_start), ("end", naive_end)):
            aware = naive.replace(tzinfo=zone)
            try:
                round_trip = aware.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
            except OverflowError:
                self.add_error("date", _("Give a date in the next two weeks."))
                return None
            # A wall-clock time skipped when clocks go forward does not exist: say so.
            if round_trip != naive:
                self.add_error(name, _("This time does not exist in %(zone)s (the clocks change).") % {"zone": zone.key})
                return None
            bounds.append(aware)
        return bounds[0], bounds[1]


WindowFormSet = formset_factory(WindowForm, extra=WINDOW_ROWS, max_num=MAX_WINDOWS)


def windows_of(formset, zone_name: str) -> list[tuple[dt.datetime, dt.datetime]] | None:
    """The filled rows of a valid formset as aware intervals; None if a row has an error."""
    zone = zoneinfo.ZoneInfo(zone_name)
    windows = []
    for form in formset.forms:
        if not form.has_changed():
            continue
        interval = form.interval(zone)
        if interval is None:
            return None
        windows.append(interval)
    return windows
