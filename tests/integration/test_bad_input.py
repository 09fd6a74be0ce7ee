"""The bad-input battery (tests/bad_input.py) on PostgreSQL, whose text refuses NUL."""

import pytest

from tests.bad_input import BadInputBattery

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


class TestBadInputOnPostgreSQL(BadInputBattery):
    pass
