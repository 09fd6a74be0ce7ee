"""The vocabulary stored with the companies' signature (companies/search/vocabulary.py): a
process that needs the vocabulary of a signature already stored loads it instead of building
it, and one of any other signature, or unreadable, is built anew (and replaces it)."""

import gzip
import json
from io import StringIO

import pytest
from django.core.management import call_command

from companies.models import VocabularySnapshot
from companies.search import vocabulary
from tests.factories import make_company

pytestmark = pytest.mark.django_db


@pytest.fixture
def new_process(monkeypatch):
    """A process that has no vocabulary yet."""

    def start():
        fresh = {"vocabulary": None, "signature": None, "checked": 0.0, "stale": True}
        monkeypatch.setattr(vocabulary, "_state", fresh)

    start()
    return start


@pytest.fixture
def companies():
    return [
        make_company("Évora Parking", description="Reserve a parking spot.", city="Évora"),
        make_company("Payroll Pal", description="Run payroll worldwide.", city="New York"),
    ]


def stored_words():
    return vocabulary.decode(bytes(VocabularySnapshot.objects.get().gzipped)).words


def test_a_build_is_stored_with_the_signature_it_was_built_at(companies, new_process):
    built = vocabulary.current()
    stored = VocabularySnapshot.objects.get()
    assert stored.fingerprint == vocabulary._fingerprint(vocabulary._signature())
    assert vocabulary.decode(bytes(stored.gzipped)) == built
    assert {"évora", "parking", "payroll", "york"} <= set(built.words)


def test_a_new_process_loads_the_stored_vocabulary_without_building(companies, new_process):
    built = vocabulary.current()
    # Stored words no build of these companies would give: finding them proves none was made.
    marked = vocabulary.Vocabulary(**{**built.__dict__, "words": {"zyzzyva": 1}})
    VocabularySnapshot.objects.update(gzipped=vocabulary.encode(marked))
    new_process()
    assert vocabulary.current().words == {"zyzzyva": 1}


def test_a_change_is_built_anew_and_replaces_the_stored_one(companies, new_process):
    vocabulary.current()
    make_company("Kelp Farms", description="Seaweed grown offshore.", city="Oslo")
    assert "seaweed" in vocabulary.current().words  # checked at every search in tests
    assert "seaweed" in stored_words()
    new_process()
    assert "seaweed" in vocabulary.current().words


@pytest.mark.parametrize(
    "stored",
    [
        b"not gzip",
        gzip.compress(b"not json"),
        gzip.compress(b'{"format": 0}'),
        gzip.compress(b'{"format": 1, "words": "a\\nb", "uses": "1"}'),
    ],
)
def test_an_unreadable_stored_vocabulary_is_built_anew(companies, new_process, stored):
    built = vocabulary.current()
    VocabularySnapshot.objects.update(gzipped=stored)
    new_process()
    assert vocabulary.current() == built
    assert stored_words() == built.words  # and replaced by one that reads


def test_encoding_keeps_every_part(new_process):
    rows = [
        (1, "Évora  Parking", "parking, mobility", "Reserve a spot.\nNear the stadium.", "Évora"),
        (2, "Chicago Public Schools", "", "", "Chicago"),
        (3, "São Paulo Eats", "food", "Lunch delivered.", "São Paulo"),
    ]
    built = vocabulary.Vocabulary.build(rows)
    assert built.city_names and built.names and built.stems
    assert vocabulary.decode(vocabulary.encode(built)) == built
    empty = vocabulary.Vocabulary.build([])
    assert vocabulary.decode(vocabulary.encode(empty)) == empty


def test_an_import_stores_the_vocabulary_for_the_sites_processes(tmp_path, new_process):
    path = tmp_path / "companies.jsonl"
    row = {"name": "Kelp Farms", "description": "Seaweed grown offshore.", "city": "Oslo"}
    path.write_text(json.dumps({**row, "link": "https://kelp.example"}) + "\n")
    out = StringIO()
    call_command("import_companies", str(path), "--no-index", stdout=out)
    assert "Query vocabulary:" in out.getvalue()
    stored = VocabularySnapshot.objects.get()
    assert stored.fingerprint == vocabulary._fingerprint(vocabulary._signature())
    assert {"seaweed", "oslo"} <= set(stored_words())
