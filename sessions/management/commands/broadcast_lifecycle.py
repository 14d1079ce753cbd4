"""Let the bucket expire broadcast segments (sessions/media/broadcast_lifecycle.py says why)."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sessions.media.broadcast_lifecycle import LifecycleUnsupported, broadcast_lifecycle_apply


class Command(BaseCommand):
    help = ("Put a lifecycle rule on the storage bucket that expires broadcast HLS segments "
            "(broadcasts/) after BROADCAST_HLS_KEEP_DAYS days. Safe to run again.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="days a broadcast's segments stay (default: the setting)")
        parser.add_argument("--dry-run", action="store_true", help="print the rule without applying it")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rule = broadcast_lifecycle_apply(days=options["days"], dry_run=options["dry_run"])
        except LifecycleUnsupported as unsupported:
            raise CommandError(str(unsupported)) from None
        self.stdout.write(("Would apply: " if options["dry_run"] else "Applied: ") + json.dumps(rule))
