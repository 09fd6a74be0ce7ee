import time

from django.core.management.base import BaseCommand, CommandError

from companies.search.landscape import build_landscape
from companies.search.store import StoreIncompatible, StoreUnavailable


class Command(BaseCommand):
    help = (
        "Lay out every searchable company on the map of /explore/ and /api/map/ from the index's "
        "vectors, and name its clusters. The import runs this; companies saved later are placed "
        "by their neighbours, so run it again when many have changed."
    )

    def handle(self, *args, **options):
        started = time.monotonic()

        def stage(text):
            self.stderr.write(f"Map: {text} ({time.monotonic() - started:.1f}s)")

        try:
            report = build_landscape(progress=stage)
        except (StoreUnavailable, StoreIncompatible) as exc:
            raise CommandError(f"{exc} The map is unchanged.") from None
        self.stdout.write(self.style.SUCCESS(f"Map: {report.summary()}."))
