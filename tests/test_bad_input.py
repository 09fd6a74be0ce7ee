"""The bad-input battery (tests/bad_input.py) on SQLite."""

import pytest

from tests.bad_input import BadInputBattery

pytestmark = pytest.mark.django_db


class TestBadInputOnSQLite(BadInputBattery):
    pass
