"""Forms of the consult pages. They parse and validate shapes; the rules are in services."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sessions.models import ConsentScope, ConsultUrgency, RosterWindow

from .services import CONSENT_FORM_VERSION

SPECIALTIES = [
    "Internal medicine", "Paediatrics", "Obstetrics and gynaecology", "Surgery", "Emergency medicine",
    "Infectious diseases", "Cardiology", "Dermatology", "Psychiatry", "Family medicine",
]
SPECIALTY_CHOICES = [(s, s) for s in SPECIALTIES]

# Consent is often taken in a language the interface is not translated into.
CONSENT_LANGUAGES = [
    ("en", "English"), ("fr", "Français"), ("pt", "Português"), ("ar", "العربية"), ("ny", "Chichewa"),
    ("sw", "Kiswahili"), ("ha", "Hausa"), ("yo", "Yorùbá"), ("ig", "Igbo"), ("tw", "Twi"), ("am", "አማርኛ"),
]


def _interface_languages() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


class ConsultRequestForm(forms.Form):
    specialty = forms.ChoiceField(label=_("Specialty"), choices=SPECIALTY_CHOICES)
    urgency = forms.ChoiceField(label=_("Urgency"), choices=ConsultUrgency.choices, initial=ConsultUrgency.SOON)
    language = forms.ChoiceField(label=_("Language of the consult"), choices=CONSENT_LANGUAGES, initial="en")
    reason = forms.CharField(
        label=_("Reason, in one or two sentences"), max_length=300,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 300}),
        help_text=_("No names, dates, places, phone or record numbers: describe only the clinical problem."),
    )


class RosterForm(forms.Form):
    specialties = forms.MultipleChoiceField(label=_("Specialties you supervise"), choices=SPECIALTY_CHOICES,
                                            widget=forms.CheckboxSelectMultiple)
    languages = forms.MultipleChoiceField(label=_("Languages you supervise in"), choices=CONSENT_LANGUAGES,
                                          widget=forms.CheckboxSelectMultiple)
    is_active = forms.BooleanField(label=_("I am on the roster"), required=False, initial=True)


class RosterWindowForm(forms.Form):
    weekday = forms.TypedChoiceField(label=_("Day"), coerce=int,
                                     choices=RosterWindow._meta.get_field("weekday").choices)  # type: ignore[arg-type]  # has choices
    starts = forms.TimeField(label=_("From"), widget=forms.TimeInput(attrs={"type": "time"}))
    ends = forms.TimeField(label=_("Until"), widget=forms.TimeInput(attrs={"type": "time"}))


class AcceptForm(forms.Form):
    starts_at = forms.DateTimeField(
        label=_("Start later (your time); leave empty to start now"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    duration = forms.TypedChoiceField(label=_("Duration"), coerce=int, initial=60,
                                      choices=[(30, _("30 minutes")), (60, _("1 hour")), (90, _("90 minutes"))])


YES_NO = [("yes", _("Yes")), ("no", _("No"))]


class ConsentForm(forms.Form):
    consult_given = forms.ChoiceField(label=ConsentScope.CONSULT.label, choices=YES_NO, widget=forms.RadioSelect)
    recording_given = forms.ChoiceField(label=ConsentScope.RECORDING.label, choices=YES_NO, widget=forms.RadioSelect)
    teaching_given = forms.ChoiceField(label=ConsentScope.TEACHING.label, choices=YES_NO, widget=forms.RadioSelect)
    language = forms.ChoiceField(label=_("Language the patient was asked in"), choices=CONSENT_LANGUAGES)
    explained = forms.BooleanField(
        label=_("I explained each point to the patient (or their guardian) in that language and recorded their own answers."),
    )
    form_version = forms.CharField(widget=forms.HiddenInput, initial=CONSENT_FORM_VERSION)


class WithdrawForm(forms.Form):
    scopes = forms.MultipleChoiceField(label=_("The patient withdraws consent to"), choices=ConsentScope.choices,
                                       widget=forms.CheckboxSelectMultiple)


class AddendumForm(forms.Form):
    text = forms.CharField(label=_("Addendum"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class ObserverForm(forms.Form):
    username = forms.CharField(label=_("Username of the person to invite"), max_length=150)


class PhotoForm(forms.Form):
    photo = forms.FileField(label=_("Photo"), widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp", "capture": "environment"}))
    caption = forms.CharField(label=_("What the photo shows (no identifiers)"), max_length=200, required=False)
