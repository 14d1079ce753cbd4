"""The home page of a signed-in person: one section per part, each read by that part.

Why a registry: the home page belongs to the core (people), which imports no app; the
parts (scheduling, library, courses, consults) each register their section in their
`AppConfig.dashboard_sections`, as they register `profile_sections`. Each section's
reader goes through its part's permission-checked selectors, so the home page never
shows what the person may not see. The project shell composes them: nothing here knows
which parts exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.utils.module_loading import import_string

if TYPE_CHECKING:  # AppConfigs import this module before the models are ready
    from server.people.models import User


@dataclass(frozen=True)
class DashboardSection:
    """One part's section: its template, and `reader(user=, limit=)` -> context (None: not shown)."""

    template: str
    reader: str
    order: int = 50

    def read(self, *, user: User, limit: int) -> dict[str, Any] | None:
        function: Callable[..., dict[str, Any] | None] = import_string(self.reader)
        return function(user=user, limit=limit)


def dashboard_sections() -> list[DashboardSection]:
    found = [section for config in apps.get_app_configs() for section in getattr(config, "dashboard_sections", [])]
    return sorted(found, key=lambda section: (section.order, section.template))


def dashboard_for(*, user: User, limit: int = 5) -> list[tuple[str, dict[str, Any]]]:
    """(template, context) of each section this person sees, in order."""
    shown = []
    for section in dashboard_sections():
        context = section.read(user=user, limit=limit)
        if context is not None:
            shown.append((section.template, context))
    return shown
