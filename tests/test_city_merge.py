"""Editors merge city spellings in the admin: the records, the index, the facets and the places
search reads from queries all follow."""

import pytest

from companies.models import Company
from companies.search.query import search_companies
from companies.search.understanding import understand
from tests.factories import make_company

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/companies/company/"


def test_merging_a_misspelt_city_moves_it_everywhere(admin_client, search_store):
    make_company("Thames Solar", city="London", description="Solar panels for rooftops.")
    make_company("Camden Bikes", city="London", description="Bike repairs at your door.")
    typo = make_company("Soho Solar Co", city="Londo", description="Solar panels for shops.")
    assert set(understand("solar in London", mode="hybrid").cities) == {"london", "londo"}

    response = admin_client.post(
        CHANGELIST,
        {"action": "merge_city_spellings", "_selected_action": [typo.pk]},
        follow=True,
    )
    assert "Select companies in at least two spellings" in response.content.decode()

    london = Company.objects.get(name="Thames Solar")
    response = admin_client.post(
        CHANGELIST,
        {"action": "merge_city_spellings", "_selected_action": [typo.pk, london.pk]},
        follow=True,
    )
    assert "Merged Londo into London: 1 company changed" in response.content.decode()
    typo.refresh_from_db()
    assert (typo.city, typo.city_key, typo.version) == ("London", "london", 2)
    assert search_store.payloads([typo.pk])[typo.pk]["city"] == "london"
    assert understand("solar in London", mode="hybrid").cities == ("london",)
    results = search_companies("solar panels", limit=100)
    assert [(facet.value, facet.count) for facet in results.facets] == [("London", 2)]
