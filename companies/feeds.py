"""Follow a search: an Atom feed of the newest companies matching a query (and city).

The feed is the search page's first results re-ordered by when each company was added, so a
reader shows what is new among the best matches. Bad parameters are a 400, as on the page; with
the index down it answers from the database, as the page does.
"""

import logging
import re

from django.contrib.syndication.views import Feed
from django.http import HttpResponseBadRequest
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.http import urlencode

from .search.fallback import search_database
from .search.params import InvalidSearch
from .search.ranking import search_companies
from .search.store import StoreIncompatible, StoreUnavailable

logger = logging.getLogger(__name__)

# What XML 1.0 cannot hold (control characters, surrogates, U+FFFE/U+FFFF): a search or a
# description may contain them, a feed may not.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text):
    return NOT_XML.sub("", text or "")


# The best matches considered, and how many of them (the newest) the feed lists.
MATCHES_CONSIDERED = 50
ENTRIES = 20


def search_args(request):
    """``(query, cities)`` of a search or feed URL, as the search page reads them."""
    return request.GET.get("q", ""), [c for c in request.GET.getlist("city") if c.strip()]


def search_url(name, query, cities):
    """The URL of page ``name`` (the search, its feed, the map) for ``query`` in ``cities``."""
    return f"{reverse(name)}?{urlencode({'q': query, 'city': cities}, doseq=True)}"


class SearchFeed(Feed):
    feed_type = Atom1Feed

    def __call__(self, request, *args, **kwargs):
        try:
            return super().__call__(request, *args, **kwargs)
        except InvalidSearch as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")

    def get_object(self, request):
        query, cities = search_args(request)
        try:
            results = search_companies(
                query, cities=cities, limit=MATCHES_CONSIDERED, related=False
            )
        except (StoreUnavailable, StoreIncompatible) as exc:
            logger.error(
                "Feed search failed, answering from the database: %s",
                exc,
                extra={"event": "search_failed", "fallback": "database", "error": str(exc)},
            )
            results = search_database(query, cities=cities, limit=MATCHES_CONSIDERED, related=False)
        newest = sorted(
            (hit.company for hit in results.hits), key=lambda c: (c.created_at, c.pk), reverse=True
        )
        return {"query": results.query, "cities": cities, "companies": newest[:ENTRIES]}

    def title(self, obj):
        where = f" in {', '.join(obj['cities'])}" if obj["cities"] else ""
        return xml_text(f"Startups matching “{obj['query']}”{where} – Startup Search")

    def subtitle(self, obj):
        return "The newest companies among the best matches of this search."

    def link(self, obj):
        return search_url("companies:search", obj["query"], obj["cities"])

    def feed_url(self, obj):
        return search_url("companies:search-feed", obj["query"], obj["cities"])

    def items(self, obj):
        return obj["companies"]

    def item_title(self, company):
        return xml_text(f"{company.name} ({company.city})" if company.city else company.name)

    def item_description(self, company):
        return xml_text(company.description or company.tags)

    def item_link(self, company):
        return company.get_absolute_url()

    def item_pubdate(self, company):
        return company.created_at

    def item_updateddate(self, company):
        return company.updated_at

    def item_categories(self, company):
        return [xml_text(company.city)] if company.city else []
