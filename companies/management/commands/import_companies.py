import itertools
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from companies.import_stream import Checkpoint, count_records, read_records
from companies.importing import ImportFileError, RowWriter
from companies.progress import progress_bar
from companies.search import vocabulary
from companies.search.conf import search_setting
from companies.search.indexing import index_companies, optimize_index
from companies.search.landscape import build_landscape

# Rows per transaction and checkpoint: each commit waits for the disk, which a busy machine
# made the import's largest cost at 256 rows per commit (bench/import_memory.py).
CHUNK_ROWS = 2000


class Command(BaseCommand):
    help = (
        "Import companies from a startups data file (JSON lines or a JSON array of objects with "
        "name, images, alt, description, link, city, and optionally searchable: true or false) "
        "and index them. Re-running updates in place; an interrupted import, run again on the "
        "same file, goes on where it stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="Companies written, embedded and indexed per batch.",
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=CHUNK_ROWS,
            help="Rows written per transaction and checkpoint (how far a resumed import may "
            "redo work); each chunk is indexed in batches of --batch-size.",
        )
        parser.add_argument(
            "--no-index",
            action="store_true",
            help="Only write the database; leave indexing to search_index --repair.",
        )
        parser.add_argument(
            "--restart",
            action="store_true",
            help="Start from the top even if an earlier import of this file was interrupted.",
        )

    def handle(self, *args, file, batch_size, chunk_size, no_index, restart, **options):
        started = time.monotonic()
        batch_size = batch_size or search_setting("BATCH_SIZE")
        if chunk_size < 1 or batch_size < 1:
            raise CommandError("--chunk-size and --batch-size must be at least 1.")
        try:
            checkpoint = Checkpoint.for_file(file)
            if restart:
                checkpoint.remove()
                checkpoint = Checkpoint.for_file(file)
            total = count_records(file)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        except ImportFileError as exc:
            raise CommandError(f"{file}: {exc} Nothing was imported.") from None
        if checkpoint.resumed:
            self.stdout.write(
                f"Resuming at line {checkpoint.line}: {checkpoint.records} of {total} rows "
                "were done by an earlier run (--restart starts again)."
            )
        writer = RowWriter(seen=checkpoint.seen)
        records = read_records(file, checkpoint.position, checkpoint.line)
        indexed = unchanged = 0
        done = checkpoint.records
        with progress_bar(total=total, desc="Importing", unit="row", initial=done) as bar:
            while chunk := list(itertools.islice(records, chunk_size)):
                rejected_before = len(writer.result.rejected)
                try:
                    ids = writer.write([(line, record) for line, record, _ in chunk])
                except DatabaseError as exc:
                    raise CommandError(self._refused(exc, chunk, done)) from None
                for row in writer.result.rejected[rejected_before:]:
                    self.stderr.write(f"{file}: rejected {row}")
                if ids and not no_index:
                    report = self._index(ids, batch_size)
                    indexed, unchanged = indexed + report.indexed, unchanged + report.unchanged
                done += len(chunk)
                line, position = chunk[-1][0] + 1, chunk[-1][2]
                totals = checkpoint.totals(writer.result)
                checkpoint.advance(position, line, done, totals, writer.written)
                bar.update(len(chunk))
        totals = checkpoint.totals(writer.result)
        summary = (
            f"{totals['created']} created, {totals['updated']} updated, "
            f"{totals['unchanged']} unchanged, {totals['rejected']} rejected"
        )
        self.stdout.write(f"Database: {summary}.")
        building = time.monotonic()
        words = vocabulary.refresh()
        self.stdout.write(
            f"Query vocabulary: {len(words.words)} words, {len(words.cities)} cities, stored "
            f"for the site's processes in {time.monotonic() - building:.1f}s."
        )
        if not no_index:
            optimizing = time.monotonic()
            optimize_index()
            self.stdout.write(
                f"Index: {indexed} embedded, {unchanged} already up to date; "
                f"optimized in {time.monotonic() - optimizing:.1f}s."
            )
            self.stdout.write(f"Map: {build_landscape().summary()}.")
        checkpoint.remove()
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {file.name} in {elapsed:.1f}s ({done / max(elapsed, 1e-9):.0f} rows/s): "
                f"{summary}."
            )
        )

    def _refused(self, exc, chunk, done):
        where = f"The database refused the rows from line {chunk[0][0]} on: {exc}."
        if not done:
            return f"{where} Nothing was imported."
        return f"{where} The {done} rows before were imported; run the command again to go on."

    def _index(self, pks, batch_size):
        try:
            return index_companies(pks, batch_size=batch_size)
        except Exception as exc:
            raise CommandError(
                f"The companies were saved in the database, but indexing failed: {exc}\n"
                "They are marked failed; once the index is available, run: "
                "python manage.py search_index --repair"
            ) from None
