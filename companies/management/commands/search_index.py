import time

from django.core.management.base import BaseCommand, CommandError

from companies.models import Company
from companies.progress import progress_bar
from companies.search import autorepair, indexing, landscape
from companies.search.store import StoreIncompatible, StoreUnavailable


class Command(BaseCommand):
    requires_system_checks = []  # it is the fix for what the index checks report
    help = (
        "Keep the search index in step with the database: --check reports drift (exit status 1 "
        "when there is any), --repair fixes it, --rebuild builds a new index and switches to it "
        "without downtime, --clear deletes it. All are safe to interrupt and run again."
    )

    def add_arguments(self, parser):
        actions = parser.add_mutually_exclusive_group(required=True)
        actions.add_argument(
            "--check",
            action="store_true",
            help="Count missing, orphaned and stale points; exit 1 on drift.",
        )
        actions.add_argument(
            "--repair", action="store_true", help="Fix exactly the drift --check finds, in batches."
        )
        actions.add_argument(
            "--rebuild",
            action="store_true",
            help="Build a new index from the database, then switch to it.",
        )
        actions.add_argument(
            "--clear", action="store_true", help="Delete the index; every company becomes pending."
        )
        parser.add_argument(
            "--batch-size", type=int, default=None, help="Companies embedded and written per batch."
        )
        parser.add_argument(
            "--keep-old",
            action="store_true",
            help="With --rebuild: keep the previous index after the switch.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="With --clear: do not ask for confirmation.",
        )

    def handle(
        self, *args, check, repair, rebuild, clear, batch_size, keep_old, interactive, **options
    ):
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        started = time.monotonic()
        autorepair.disable()  # this command is the check or repair; no second one beside it
        try:
            if check:
                self._check()
            elif repair:
                self._repair(batch_size)
            elif rebuild:
                self._rebuild(batch_size, keep_old)
            else:
                self._clear(interactive)
        except (StoreUnavailable, StoreIncompatible, indexing.RebuildBehind) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Done in {time.monotonic() - started:.1f}s.")

    def _check(self):
        drift = indexing.check_index()
        self.stdout.write(drift.summary())
        if not drift.clean:
            raise CommandError(
                "The index has drifted from the database. Fix it with: "
                + (
                    "python manage.py search_index --rebuild"
                    if drift.incompatible
                    else "python manage.py search_index --repair"
                )
            )
        self.stdout.write(self.style.SUCCESS("The index matches the database."))

    def _repair(self, batch_size):
        drift = indexing.check_index()
        self.stdout.write(f"Before: {drift.summary()}")
        if drift.incompatible:
            raise CommandError("A repair cannot fix this; rebuild the index.")
        with progress_bar(total=drift.total, desc="Repairing", unit="company") as bar:
            report = indexing.repair_index(drift, batch_size=batch_size, progress=bar.update)
        indexing.optimize_index()
        after = indexing.check_index()
        self.stdout.write(
            f"Repaired: {report.indexed} embedded, {report.removed} orphaned points removed, "
            f"{len(drift.wrong_state)} index states corrected, "
            f"{landscape.repair_landscape()} companies placed on the map.\n"
            f"After: {after.summary()}"
        )
        if not after.clean:  # writes made during the repair; a second run settles them
            raise CommandError("Drift remains (the database changed meanwhile); run it again.")
        self.stdout.write(self.style.SUCCESS("The index matches the database."))

    def _rebuild(self, batch_size, keep_old):
        with progress_bar(total=Company.objects.count(), desc="Rebuilding", unit="company") as bar:
            old = indexing.rebuild_index(
                batch_size=batch_size, keep_old=keep_old, progress=bar.update
            )
        drift = indexing.check_index()
        kept = f" The previous index {old} was kept." if keep_old and old else ""
        self.stdout.write(
            self.style.SUCCESS(f"Switched to the new index: {drift.summary()}.{kept}")
        )
        self.stdout.write(f"Map: {landscape.build_landscape().summary()}.")

    def _clear(self, interactive):
        if interactive:
            answer = input(
                "This deletes the search index; searches find nothing until it is "
                "rebuilt. Type 'yes' to continue: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("Cancelled.")
        indexing.clear_index()
        self.stdout.write(
            self.style.SUCCESS(
                "The index is deleted; every company is pending. Rebuild it with: "
                "python manage.py search_index --rebuild"
            )
        )
