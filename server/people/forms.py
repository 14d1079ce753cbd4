"""Forms for signing up, the profile and coordinators' work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from .models import TIME_ZONE_CHOICES, Institution, Role, User


class SignUpForm(UserCreationForm):
    email = forms.EmailField(label=_("E-mail"), required=True)
    display_name = forms.CharField(label=_("Name shown to others"), max_length=120, required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONE_CHOICES, initial="UTC")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "display_name", "time_zone")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this e-mail already exists. Log in or reset your password."))
        return email


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=TIME_ZONE_CHOICES)
    languages = forms.CharField(
        label=_("Languages you speak"), required=False,
        help_text=_("Language codes separated by commas, e.g. en, fr, sw."),
    )

    class Meta:
        model = User
        fields = ("display_name", "first_name", "last_name", "time_zone", "languages", "preferred_language", "data_saver", "bio")
        widgets = {"preferred_language": forms.Select(choices=[("", _("Browser default")), ("en", "English"), ("fr", "Français"), ("pt", "Português"), ("ar", "العربية")])}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance and isinstance(self.instance.languages, list):
            self.initial["languages"] = ", ".join(self.instance.languages)

    def clean_languages(self) -> list[str]:
        raw = self.cleaned_data.get("languages") or ""
        codes = [c.strip().lower() for c in raw.split(",") if c.strip()]
        for code in codes:
            if not (2 <= len(code) <= 8) or not code.replace("-", "").isalpha():
                raise forms.ValidationError(_("“%(code)s” is not a language code."), params={"code": code})
        return codes


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class PartnershipProposalForm(forms.Form):
    partner = forms.ModelChoiceField(label=_("Partner school"), queryset=Institution.objects.all())
    note = forms.CharField(label=_("Note"), max_length=300, required=False)
