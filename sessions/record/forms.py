"""Forms of the certificate-rule pages. They only parse input; the rules live in `services.py`."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from server.form_focus import FocusFirstError

PERCENT_ERROR = _("Give a whole percentage from 1 to 100.")


class SessionRuleForm(FocusFirstError, forms.Form):
    """A school's rule for one session kind; one form per kind on the page (prefixed by the kind)."""

    min_presence_percent = forms.IntegerField(
        label=_("Minimum presence (%)"), min_value=1, max_value=100,
        error_messages={"required": PERCENT_ERROR, "invalid": PERCENT_ERROR, "min_value": PERCENT_ERROR, "max_value": PERCENT_ERROR},
        help_text=_("The share of the session a person must have been in the room for."),
    )
    active = forms.BooleanField(label=_("Issue certificates"), required=False)


class CourseRuleForm(FocusFirstError, forms.Form):
    active = forms.BooleanField(label=_("Issue a certificate to learners who pass this course"), required=False)
