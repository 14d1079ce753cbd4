"""Issue every certificate already earned (after adding a rule, or if a listener missed one)."""

from django.core.management.base import BaseCommand

from sessions.record.services import certificates_backfill


class Command(BaseCommand):
    help = "Issue the certificates earned by ended sessions and completed courses that have rules. Safe to run again."

    def handle(self, *args, **options) -> None:
        count = certificates_backfill()
        self.stdout.write(f"{count} certificate(s) issued.")
