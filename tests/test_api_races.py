"""The API race battery (tests/api_races.py) on SQLite."""

import pytest

from tests.api_races import ApiRaceBattery

pytestmark = pytest.mark.django_db(transaction=True)


class TestApiRacesOnSQLite(ApiRaceBattery):
    pass
