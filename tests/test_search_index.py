"""search_index --check / --repair / --rebuild / --clear, and the drift they exist for."""

import json
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Concat

from companies.models import Company, IndexStatus
from companies.search import indexing
from companies.search.engines import get_store
from companies.search.query import search_companies
from companies.search.store import StoreIncompatible
from tests.factories import make_company
from tests.helpers import search_settings

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out = StringIO()
    call_command("search_index", *args, "--noinput", stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def indexed(search_store):
    """Ten companies saved the normal way, so indexed."""
    return [
        make_company(f"Company {i}", description=f"Company {i} sells widget model {i}.")
        for i in range(10)
    ]


def test_check_passes_when_index_and_database_agree(indexed):
    assert "10 companies, 10 points: 0 missing, 0 orphaned, 0 stale" in run("--check")


def test_writes_that_bypass_signals_are_found_and_repaired(indexed):
    # QuerySet.update and bulk_update send no signals: the points go stale.
    Company.objects.filter(pk__in=[c.pk for c in indexed[:3]]).update(description="Bakery.")
    # bulk_create sends none either: the new rows have no points.
    Company.objects.bulk_create(
        [
            Company(name=f"Bulk {i}", slug=f"bulk-{i}", link=f"https://bulk{i}.example")
            for i in range(4)
        ]
    )
    # Raw SQL: a row deleted behind Django's back leaves an orphaned point.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM companies_company WHERE id = %s", [indexed[9].pk])

    drift = indexing.check_index()
    assert sorted(drift.stale) == sorted(c.pk for c in indexed[:3])
    assert len(drift.missing) == 4 and drift.orphaned == [indexed[9].pk]
    with pytest.raises(CommandError, match="search_index --repair"):
        run("--check")

    output = run("--repair")
    assert "3 stale" in output and "4 missing" in output and "1 orphaned" in output
    assert "After: 13 companies, 13 points: 0 missing, 0 orphaned, 0 stale" in output
    assert indexing.check_index().clean
    assert search_companies("bakery", mode="keyword").count == 3
    assert set(Company.objects.values_list("index_status", flat=True)) == {IndexStatus.INDEXED}


def test_loaddata_fixtures_are_indexed_by_the_signals(search_store, tmp_path):
    fixture = tmp_path / "companies.json"
    fixture.write_text(
        json.dumps(
            [
                {
                    "model": "companies.company",
                    "pk": 500,
                    "fields": {
                        "name": "Fixture Labs",
                        "slug": "fixture-labs",
                        "city": "Chicago",
                        "description": "Quantum sensors for farms.",
                        "link": "https://fixture.example",
                        "website_key": "fixture.example",
                        "created_at": "2026-01-01T00:00:00Z",
                        "updated_at": "2026-01-01T00:00:00Z",
                    },
                }
            ]
        )
    )
    call_command("loaddata", str(fixture), stdout=StringIO())
    assert indexing.check_index().clean
    assert search_companies("quantum farm sensors").hits[0].company.pk == 500


def test_rebuild_switches_to_a_new_index_and_drops_the_old(indexed):
    store = get_store()
    old = store.live_target()
    output = run("--rebuild")
    assert "Switched to the new index: 10 companies, 10 points" in output
    new = store.live_target()
    assert new != old and not (store.path / old).exists()
    assert search_companies("widget model 3", mode="keyword").hits[0].company.name == "Company 3"


def test_rebuild_can_keep_the_old_index(indexed):
    store = get_store()
    old = store.live_target()
    run("--rebuild", "--keep-old")
    assert (store.path / old).exists() and store.live_target() != old


def test_clear_empties_the_index_and_marks_every_company_pending(indexed):
    run("--clear")
    assert set(Company.objects.values_list("index_status", flat=True)) == {IndexStatus.PENDING}
    drift = indexing.check_index()
    assert len(drift.missing) == 10 and drift.points == 0
    run("--repair")
    assert indexing.check_index().clean


def test_a_changed_recipe_is_named_at_start_up_at_query_time_and_by_check(indexed, settings):
    settings.COMPANY_SEARCH = search_settings(BM25_AVG_LEN=55)
    warnings = [m for m in run_checks() if m.id == "companies.W002"]
    assert warnings and "search_index --rebuild" in warnings[0].msg
    with pytest.raises(StoreIncompatible, match="avg_len=40.*avg_len=55.*search_index --rebuild"):
        search_companies("widget")
    with pytest.raises(CommandError, match="--rebuild"):
        run("--check")
    run("--rebuild")
    assert not [m for m in run_checks() if m.id == "companies.W002"]
    assert search_companies("widget model 4", mode="keyword").hits[0].company.name == "Company 4"


def test_bad_arguments_are_refused():
    with pytest.raises(CommandError, match="one of the arguments"):
        call_command("search_index", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="batch-size"):
        call_command("search_index", "--repair", "--batch-size", "0", stdout=StringIO())


# Out of search (searchable=False) ---------------------------------------------------------------


def hide(company):
    company.searchable = False
    company.save()


def test_a_company_taken_out_of_search_leaves_the_index_and_comes_back(indexed):
    company = indexed[3]
    hide(company)
    assert company.pk not in get_store().point_hashes()
    company.refresh_from_db()
    assert company.index_status == IndexStatus.INDEXED and company.indexed_hash == ""
    assert indexing.check_index().clean  # no point is what it should have

    company.searchable = True
    company.save()  # the same text as before: embedded again all the same
    assert get_store().point_hashes()[company.pk] == indexing.point_hash(company)
    assert indexing.check_index().clean


def test_check_repair_rebuild_and_the_pick_up_respect_searchable(indexed):
    # Taken out of search behind the signals' back: its point is orphaned, not "fine".
    Company.objects.filter(pk=indexed[0].pk).update(searchable=False)
    # Out of search and still pending, as after a save whose task never ran.
    Company.objects.filter(pk=indexed[1].pk).update(searchable=False, index_status="pending")
    drift = indexing.check_index()
    assert drift.orphaned == [indexed[0].pk, indexed[1].pk] and not drift.missing
    assert "8 companies, 10 points" in drift.summary()

    indexing.repair_index(drift)
    assert indexing.check_index().clean
    assert set(get_store().point_hashes()) == {c.pk for c in indexed[2:]}

    # The index task's pick-up of pending companies does not put them back.
    Company.objects.filter(pk__in=[indexed[0].pk, indexed[1].pk]).update(
        index_status=IndexStatus.PENDING
    )
    indexing.index_companies([indexed[0].pk, indexed[1].pk, indexed[2].pk])
    assert indexed[0].pk not in get_store().point_hashes()
    assert indexing.check_index().clean

    run("--rebuild")
    assert set(get_store().point_hashes()) == {c.pk for c in indexed[2:]}
    assert indexing.check_index().clean


# A rebuild that cannot catch up ------------------------------------------------------------------


def test_a_rebuild_outpaced_by_writes_says_so_and_keeps_the_live_index(indexed, monkeypatch):
    store = get_store()
    live = store.live_target()
    fill = indexing._fill_next
    rounds = []

    def fill_while_written(pks, **kwargs):
        # Each time the rebuild catches up, a bulk write (no signals) changes every text again.
        fill(pks, **kwargs)
        rounds.append(len(pks))
        Company.objects.update(description=Concat(F("description"), Value(" More.")))

    monkeypatch.setattr(indexing, "_fill_next", fill_while_written)
    with pytest.raises(CommandError, match="writes are outpacing the rebuild.*run search_index"):
        run("--rebuild")
    assert store.live_target() == live  # not switched with drift left
    assert len(rounds) == 1 + indexing.CATCH_UP_ROUNDS

    monkeypatch.setattr(indexing, "_fill_next", fill)  # the writes stop: it resumes and switches
    assert "Switched to the new index: 10 companies, 10 points" in run("--rebuild")
    assert indexing.check_index().clean
