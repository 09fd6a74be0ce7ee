"""The search settings (``settings.COMPANY_SEARCH``), read in one place.

Their values, defaults included, live in the project's settings (read from the environment
there); the search core only reads them and names none of the web layer's classes.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def search_setting(name):
    try:
        return settings.COMPANY_SEARCH[name]
    except (AttributeError, KeyError):
        raise ImproperlyConfigured(f"settings.COMPANY_SEARCH has no {name!r}.") from None
