"""Keyboard focus on a form that came back with errors.

A plain form posted with a mistake comes back as a new page, and a new page starts with
the focus at its top: a keyboard or screen-reader user then has to find the field that
was refused. `FocusFirstError` puts `autofocus` on the first field (in the form's order)
that has an error, through the widget's attributes, so every template that renders the
field gets it without a template of its own. Only one field of a page may have it, and
only a bound form has errors, so a page of several forms (one per rule) focuses the one
that was posted.
"""

from __future__ import annotations

from typing import Any

from django import forms


class FocusFirstError(forms.BaseForm):
    """Mixin for `forms.Form`: whenever an error is added (validation, or a service's
    refusal that the view adds), the first invalid field carries `autofocus`."""

    def add_error(self, field: str | None, error: Any) -> None:
        # Every error goes through here (field validation, `clean`, a view adding a
        # service's refusal), so the focus follows the latest state of the errors.
        super().add_error(field, error)
        self.focus_first_error()

    def focus_first_error(self) -> None:
        """Move `autofocus` to the first field with an error (none when only the form as a
        whole was refused: its message is announced as an alert above the fields)."""
        errors = self.errors  # already there: called once an error was added
        first = next((name for name in self.fields if name in errors), None)
        for name, field in self.fields.items():
            if name == first:
                field.widget.attrs["autofocus"] = True
            else:
                field.widget.attrs.pop("autofocus", None)
