"""Forms of the assessment pages. They only parse input; the rules live in `services.py`."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import Material, Module, QuestionKind

from .services import OptionDraft

#: Option rows on the "add a question" form; empty rows are ignored.
OPTION_ROWS = 5


class QuestionSetForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    instructions = forms.CharField(
        label=_("Instructions"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    pass_mark = forms.IntegerField(label=_("Pass mark (%)"), min_value=0, max_value=100, initial=60)
    max_attempts = forms.IntegerField(label=_("Attempts allowed"), min_value=1, max_value=50, initial=3)

    def __init__(self, *args: object, modules: list[Module] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if modules is not None:
            self.fields = {
                "module": forms.TypedChoiceField(
                    label=_("Module"), coerce=int,
                    choices=[(m.pk, f"{index}. {m.title}") for index, m in enumerate(modules, start=1)],
                ),
                **self.fields,
            }


class QuestionForm(forms.Form):
    """A question with up to OPTION_ROWS options (text, correct, feedback)."""

    kind = forms.ChoiceField(label=_("Kind"), choices=QuestionKind.choices)
    prompt = forms.CharField(label=_("Question"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    points = forms.IntegerField(label=_("Points"), min_value=1, max_value=100, initial=1)
    image = forms.TypedChoiceField(
        label=_("Image from the course's library material (ECG, radiograph, photo)"), coerce=int, required=False,
        empty_value=None,
    )
    model_answer = forms.CharField(
        label=_("Model answer (short answers; only markers see it)"), max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: object, materials: list[Material] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["image"].choices = [("", _("No image"))] + [(m.pk, m.title) for m in materials or []]  # type: ignore[attr-defined]
        for n in range(1, OPTION_ROWS + 1):
            self.fields[f"option_{n}"] = forms.CharField(label=_("Option %(n)d") % {"n": n}, max_length=500, required=False)
            self.fields[f"correct_{n}"] = forms.BooleanField(label=_("Option %(n)d is correct") % {"n": n}, required=False)
            self.fields[f"feedback_{n}"] = forms.CharField(
                label=_("Feedback for option %(n)d") % {"n": n}, max_length=1000, required=False
            )

    def option_drafts(self) -> list[OptionDraft]:
        data = self.cleaned_data
        return [
            OptionDraft(data[f"option_{n}"], bool(data.get(f"correct_{n}")), data.get(f"feedback_{n}") or "")
            for n in range(1, OPTION_ROWS + 1)
            if (data.get(f"option_{n}") or "").strip()
        ]


class MarkForm(forms.Form):
    points = forms.FloatField(label=_("Points"), min_value=0)
    feedback = forms.CharField(label=_("Feedback"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
