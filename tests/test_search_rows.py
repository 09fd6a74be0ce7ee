"""The search's reads of result rows: by compiled SQL, in chunks, the same as the ORM's."""

import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from companies.models import NOT_ALNUM, Company, name_key
from companies.search.results import ROW_FIELDS, searchable_rows


def test_name_keys_keep_exactly_the_alphanumeric_characters():
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert NOT_ALNUM.sub("", every) == "".join(ch for ch in every if ch.isalnum())
    assert name_key("Trunk-Club") == name_key("trunk club") == name_key("TRUNK_CLUB") == "trunkclub"


@pytest.mark.django_db
def test_rows_beyond_one_statements_parameters_are_all_read_as_the_orm_reads_them():
    Company.objects.bulk_create(
        Company(
            name=f"Company {n}",
            slug=f"company-{n}",
            link=f"https://c{n}.example",
            image_url=f"https://img.example/{n}.png",
            city="Évora",
            city_key="évora",
            searchable=n % 7 != 0,
        )
        for n in range(1500)
    )
    ids = list(Company.objects.values_list("pk", flat=True)) + [10**9]
    with CaptureQueriesContext(connection) as queries:
        rows = searchable_rows(ids)
    expected = Company.objects.searchable().only(*ROW_FIELDS).in_bulk(ids)
    assert set(rows) == set(expected) and len(rows) == 1500 - 215
    limit = connection.features.max_query_params
    assert len(queries) == (2 if limit else 1)  # SQLite: 999 parameters per statement
    for pk, row in rows.items():
        company = row.as_company()
        assert {f: getattr(company, f) for f in ROW_FIELDS} == {
            f: getattr(expected[pk], f) for f in ROW_FIELDS
        }
