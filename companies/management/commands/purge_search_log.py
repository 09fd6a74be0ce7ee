from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from companies import searchlog


class Command(BaseCommand):
    help = (
        "Delete searches and clicks older than SEARCH_LOG_DAYS (or --days) from the search log. "
        "Celery beat runs this daily; without a broker, run it from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=None, help="Keep this many days (default SEARCH_LOG_DAYS)."
        )

    def handle(self, *args, days=None, **options):
        days = settings.SEARCH_LOG_DAYS if days is None else days
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        deleted = searchlog.purge(days)
        self.stdout.write(
            f"Search log: {deleted['searches']} searches and {deleted['clicks']} clicks older "
            f"than {days} days deleted."
        )
