"""Limits on what anonymous clients may ask of the search index.

Rates are ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (from ``API_ANON_SEARCH_RATE`` and
``API_ANON_SUGGEST_RATE``); signed-in clients are not throttled. A throttled request is answered
429 with ``Retry-After``.
"""

import logging

from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle

logger = logging.getLogger(__name__)


class AnonThrottle(AnonRateThrottle):
    def get_rate(self):
        # DRF reads the rates once, at import; reading them per request lets settings change
        # them (tests, override_settings).
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def allow_request(self, request, view):
        # Counters live in the cache; if it is down, serving beats refusing everyone.
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            logger.warning(
                "Throttle cache unavailable, request let through: %s",
                exc,
                extra={"event": "throttle_cache_unavailable", "error": str(exc)},
            )
            return True


class AnonSearchThrottle(AnonThrottle):
    """Searches and similar-company look-ups: each embeds a query or asks the index."""

    scope = "anon_search"


class AnonSuggestThrottle(AnonThrottle):
    """Name completion, called per keystroke: a cheap database query, so a higher rate."""

    scope = "anon_suggest"
