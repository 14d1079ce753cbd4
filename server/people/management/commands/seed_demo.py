"""Seed the demo data of every app, idempotently. Refuses to run with DEBUG off."""

from __future__ import annotations

import importlib

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# Each app's demo module has `seed(stdout)`; people come first, the rest build on them.
DEMO_MODULES = [
    "server.people.demo_seed",
    "courses.library.demo",
    "courses.curriculum.demo",
    "courses.assessment.demo",
    "sessions.scheduling.demo",
    "sessions.room.demo",
    "sessions.consults.demo",
    "sessions.peer.demo",
    "sessions.record.demo",
]


class Command(BaseCommand):
    help = "Create the demo schools, people, sessions and library (password: rounds-demo)."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo seed only runs with DEBUG on: it creates users with a published password.")
        for name in DEMO_MODULES:
            module = importlib.import_module(name)
            module.seed(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in as amina / rounds-demo."))
