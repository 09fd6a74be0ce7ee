"""The API race battery (tests/api_races.py) on PostgreSQL, where writers run truly in
parallel (row locks, READ COMMITTED) rather than one at a time."""

import pytest

from tests.api_races import ApiRaceBattery

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


class TestApiRacesOnPostgreSQL(ApiRaceBattery):
    pass
