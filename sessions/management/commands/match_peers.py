"""`python manage.py match_peers`: the periodic run of peer matching.

It expires requests whose last free time has passed, then forms every group that can
form now (see sessions/peer/matching.py; a smaller group forms at the "last call", 48 h
before its slot, which only this periodic run can notice). Run it every few minutes
(cron, a scheduler, or a Procfile loop). Matching also runs whenever a request is made.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Form the peer-exchange groups that can form now, and expire requests whose last free time has passed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url", default=settings.SITE_URL,
            help="Scheme and host for links in the e-mails, e.g. https://openrounds.example (default: $SITE_URL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from sessions.peer.services import peer_match_all

        sessions = peer_match_all(base_url=options["base_url"].rstrip("/"))
        self.stdout.write(f"Peer matching: {len(sessions)} group(s) formed.")
