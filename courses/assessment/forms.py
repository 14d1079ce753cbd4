"""Forms of the assessment pages. They only parse input; the rules live in `services.py`."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from courses.models import Material, Module, Question, QuestionKind
from server.form_focus import FocusFirstError

from .services import MAX_OPTIONS, OptionDraft

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


class QuestionForm(FocusFirstError, forms.Form):
    """A question with `option_rows` options (text, correct, feedback): OPTION_ROWS when
    adding; when editing, the question's options and two empty rows (up to MAX_OPTIONS)."""

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

    def __init__(
        self, *args: object, materials: list[Material] | None = None, option_rows: int = OPTION_ROWS, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.option_rows = max(1, min(MAX_OPTIONS, option_rows))
        self.materials = list(materials or [])
        self.fields["image"].choices = [("", _("No image"))] + [(m.pk, m.title) for m in materials or []]  # type: ignore[attr-defined]
        for n in range(1, self.option_rows + 1):
            self.fields[f"option_{n}"] = forms.CharField(label=_("Option %(n)d") % {"n": n}, max_length=500, required=False)
            self.fields[f"correct_{n}"] = forms.BooleanField(label=_("Option %(n)d is correct") % {"n": n}, required=False)
            self.fields[f"feedback_{n}"] = forms.CharField(
                label=_("Feedback for option %(n)d") % {"n": n}, max_length=1000, required=False
            )

    def chosen_image(self) -> Material | None:
        """The material picked among those offered (None: no image). Which images may be
        used is `services._clean_question`'s rule, not the form's."""
        picked = self.cleaned_data.get("image")
        return next((m for m in self.materials if m.pk == picked), None)

    def option_drafts(self) -> list[OptionDraft]:
        data = self.cleaned_data
        return [
            OptionDraft(data[f"option_{n}"], bool(data.get(f"correct_{n}")), data.get(f"feedback_{n}") or "")
            for n in range(1, self.option_rows + 1)
            if (data.get(f"option_{n}") or "").strip()
        ]

    @classmethod
    def for_question(cls, question: Question, data: object = None, *, materials: list[Material]) -> QuestionForm:
        """The form filled in with `question` as it is (or bound to `data` posted from it)."""
        options = list(question.options.order_by("position", "pk"))
        initial: dict[str, object] = {
            "kind": question.kind, "prompt": question.prompt, "points": question.points,
            "image": question.image_id, "model_answer": question.model_answer,
        }
        for n, option in enumerate(options, start=1):
            initial |= {f"option_{n}": option.text, f"correct_{n}": option.is_correct, f"feedback_{n}": option.feedback}
        rows = len(options) + 2 if options else OPTION_ROWS
        if question.image is not None and all(m.pk != question.image_id for m in materials):
            materials = [*materials, question.image]  # its image stays choosable while it is kept
        return cls(data, initial=initial, materials=materials, option_rows=rows)


class MarkForm(forms.Form):
    points = forms.FloatField(label=_("Points"), min_value=0)
    feedback = forms.CharField(label=_("Feedback"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
