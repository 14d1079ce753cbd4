"""Forms of the course pages. They only parse input; the rules live in `services.py`."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import CourseAudience, Level, ProgressStatus
from server.people.models import Institution


class CourseForm(forms.Form):
    """Create or edit a course's description (not its outline)."""

    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    language = forms.CharField(
        label=_("Language"), max_length=8, initial="en", help_text=_("A language code such as en, fr, pt, sw.")
    )
    level = forms.ChoiceField(label=_("Level"), choices=Level.choices, initial=Level.CLINICAL)
    audience = forms.ChoiceField(
        label=_("Who can take it"),
        choices=CourseAudience.choices,
        initial=CourseAudience.PARTNERS,
        help_text=_("Learners only ever see the items that are shared with their own school."),
    )

    def __init__(self, *args: object, institutions: list[Institution] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if institutions is not None:
            self.fields = {
                "institution": forms.ModelChoiceField(
                    label=_("School"), queryset=Institution.objects.filter(pk__in=[i.pk for i in institutions]),
                    initial=institutions[0].pk if institutions else None, empty_label=None,
                ),
                **self.fields,
            }


class ModuleForm(forms.Form):
    title = forms.CharField(label=_("Module title"), max_length=200)
    summary = forms.CharField(label=_("Summary"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ItemAddForm(forms.Form):
    material = forms.IntegerField(label=_("Material"), min_value=1)
    module = forms.IntegerField(label=_("Module"), min_value=1)
    version = forms.IntegerField(
        label=_("Pin version"), min_value=1, required=False,
        help_text=_("Leave empty to always give learners the newest version."),
    )
    note = forms.CharField(label=_("Note for learners"), max_length=500, required=False)


class MoveForm(forms.Form):
    """Move up/down by one (the plain buttons) or to an exact position (0-based)."""

    direction = forms.ChoiceField(choices=[("up", "up"), ("down", "down")], required=False)
    position = forms.IntegerField(min_value=0, required=False)
    module = forms.IntegerField(min_value=1, required=False)


class ProgressForm(forms.Form):
    status = forms.ChoiceField(choices=ProgressStatus.choices)


class MaterialSearchForm(forms.Form):
    q = forms.CharField(label=_("Find material"), max_length=100, required=False)
