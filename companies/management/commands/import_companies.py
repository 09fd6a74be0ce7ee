import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from companies.importing import ImportFileError, import_companies
from companies.progress import progress_bar
from companies.search.conf import search_setting
from companies.search.indexing import index_companies, optimize_index
from companies.search.landscape import build_landscape


class Command(BaseCommand):
    help = (
        "Import companies from a startups data file (JSON lines or a JSON array of objects with "
        "name, images, alt, description, link, city, and optionally searchable: true or false) "
        "and index them. Re-running updates in place."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="Companies embedded and written to the index per batch.",
        )
        parser.add_argument(
            "--no-index",
            action="store_true",
            help="Only write the database; leave indexing to search_index --repair.",
        )

    def handle(self, *args, file, batch_size, no_index, **options):
        started = time.monotonic()
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        try:
            result = import_companies(data)
        except ImportFileError as exc:
            raise CommandError(f"{file}: {exc} Nothing was imported.") from None
        except DatabaseError as exc:
            raise CommandError(
                f"The database refused the import: {exc}. Nothing was imported."
            ) from None
        for row in result.rejected:
            self.stderr.write(f"{file}: rejected {row}")
        self.stdout.write(f"Database: {result.summary}.")

        if not no_index and result.company_ids:
            self._index(result.company_ids, batch_size or search_setting("BATCH_SIZE"))
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"Imported {file.name} in {elapsed:.1f}s: {result.summary}.")
        )

    def _index(self, pks, batch_size):
        with progress_bar(total=len(pks), desc="Indexing", unit="company") as bar:
            try:
                report = index_companies(pks, batch_size=batch_size, progress=bar.update)
            except Exception as exc:
                raise CommandError(
                    f"The companies were saved in the database, but indexing failed: {exc}\n"
                    "They are marked failed; once the index is available, run: "
                    "python manage.py search_index --repair"
                ) from None
        started = time.monotonic()
        optimize_index()
        self.stdout.write(
            f"Index: {report.indexed} embedded, {report.unchanged} already up to date; "
            f"optimized in {time.monotonic() - started:.1f}s."
        )
        self.stdout.write(f"Map: {build_landscape().summary()}.")
