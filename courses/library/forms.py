"""Forms of the library pages: parsing and labels only; the rules are in services.py."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import Level, Licence, Scope

from .validation import DEFAULT_LIMITS, human_size

LANGUAGES = [
    ("en", _("English")), ("fr", _("French")), ("pt", _("Portuguese")), ("es", _("Spanish")),
    ("de", _("German")), ("ar", _("Arabic")), ("sw", _("Swahili")), ("ja", _("Japanese")),
    ("hi", _("Hindi")), ("ha", _("Hausa")), ("yo", _("Yoruba")), ("zh", _("Chinese")),
]
DISCIPLINES = [
    "Anatomy", "Physiology", "Pharmacology", "Pathology", "Microbiology", "Cardiology", "Neurology",
    "Infectious diseases", "Paediatrics", "Obstetrics and gynaecology", "Surgery", "Emergency medicine",
    "Public health", "Dermatology", "Psychiatry", "Radiology", "Internal medicine",
]
CONTRIBUTE_KINDS = [
    ("file", _("A file (PDF, slides, image, audio or video: we recognise it)")),
    ("case", _("A teaching case")),
    ("link", _("A link")),
]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (the images of a case)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def limits_help() -> str:
    return ", ".join(f"{kind} {human_size(size)}" for kind, size in DEFAULT_LIMITS.items() if kind != "recording")


class MaterialMetadataForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
    discipline = forms.CharField(
        label=_("Discipline"), max_length=80, required=False,
        widget=forms.TextInput(attrs={"list": "discipline-list"}),
    )
    topics = forms.CharField(label=_("Topics"), required=False, help_text=_("Separated by commas."), max_length=1000)
    competencies = forms.CharField(label=_("Competencies"), required=False, help_text=_("Separated by commas."), max_length=1000)
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices, initial=Level.CLINICAL)
    language = forms.ChoiceField(label=_("Language of the material"), choices=LANGUAGES, initial="en")
    licence = forms.ChoiceField(label=_("Licence"), choices=Licence.choices, initial=Licence.CC_BY)
    authors = forms.CharField(label=_("Authors"), max_length=300, required=False)
    scope = forms.ChoiceField(
        label=_("Shared with"), choices=Scope.choices, initial=Scope.PARTNERS,
        help_text=_("Partner schools means schools with an active partnership with yours; ending a partnership ends their access."),
    )
    url = forms.URLField(label=_("Link"), required=False, max_length=500, assume_scheme="https")
    history = forms.CharField(label=_("History"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    examination = forms.CharField(label=_("Examination"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    investigations = forms.CharField(label=_("Investigations"), widget=forms.Textarea(attrs={"rows": 3}), required=False)
    case_images = MultipleFileField(label=_("Investigation images"), required=False)
    case_captions = forms.CharField(
        label=_("Image captions"), widget=forms.Textarea(attrs={"rows": 2}), required=False,
        help_text=_("One line per image, in the same order."),
    )
    question = forms.CharField(label=_("Question for discussion"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    discussion = forms.CharField(label=_("Discussion"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    learning_points = forms.CharField(
        label=_("Learning points"), widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text=_("One per line."),
    )

    CASE_FIELDS = ("history", "examination", "investigations", "question", "discussion", "learning_points")

    def case_data(self) -> dict:
        return {name: self.cleaned_data.get(name, "") for name in self.CASE_FIELDS}

    def metadata(self) -> dict:
        data = self.cleaned_data
        return {
            name: data.get(name, "")
            for name in ("title", "description", "discipline", "topics", "competencies", "level",
                         "language", "licence", "authors", "scope", "url")
        }


class MaterialContributeForm(MaterialMetadataForm):
    kind = forms.ChoiceField(label=_("What are you sharing?"), choices=CONTRIBUTE_KINDS, initial="file", widget=forms.RadioSelect)
    upload = forms.FileField(label=_("File"), required=False)
    institution: forms.ModelChoiceField = forms.ModelChoiceField(label=_("On behalf of"), queryset=None, empty_label=None)

    field_order = ["kind", "upload", "title", "description", "institution"]

    def __init__(self, *args, schools=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = schools  # type: ignore[attr-defined]  # a ModelChoiceField
        self.fields["upload"].help_text = _("The type is read from the file itself. Largest sizes: %(limits)s.") % {
            "limits": limits_help()
        }


class MaterialEditForm(MaterialMetadataForm):
    upload = forms.FileField(label=_("Replace the file"), required=False, help_text=_("Leave empty to keep the current file."))
    change_note = forms.CharField(label=_("What changed"), max_length=300, required=False)

    field_order = ["change_note", "title", "description", "upload"]
