import logging

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from .models import Company, normalize_city
from .search.query import (
    DEFAULT_MODE, MAX_MATCHES, MODES, InvalidSearch, search_companies, similar_companies,
)
from .search.store import PointNotIndexed, StoreIncompatible, StoreUnavailable

logger = logging.getLogger(__name__)

PAGE_SIZE = 10
EXAMPLE_QUERIES = [
    "reserve parking from my phone",
    "crowdfunding for medical bills",
    "software for restaurants",
    "learn to code",
    "personal styling service",
]
UNAVAILABLE = "Search is unavailable at the moment. Please try again shortly."


def search(request):
    """The home page and the result pages: every state is in the query string."""
    query = request.GET.get("q", "")
    mode = request.GET.get("mode") or DEFAULT_MODE
    cities = [city for city in request.GET.getlist("city") if city.strip()]
    context = {"query": query, "mode": mode, "modes": MODES, "cities": cities,
               "examples": EXAMPLE_QUERIES, "results": None}
    status = 200
    if query.strip():
        try:
            page_number = _page_number(request.GET.get("page"))
            results = search_companies(
                query, mode=mode, cities=cities, limit=PAGE_SIZE,
                offset=(page_number - 1) * PAGE_SIZE,
            )
            context["results"] = results
            context["facets"] = _facet_links(request, results.facets)
            context["page"] = Paginator(range(min(results.count, MAX_MATCHES)),
                                        PAGE_SIZE).get_page(page_number)
        except InvalidSearch as exc:
            context["error"] = str(exc)
            status = 400
        except (StoreUnavailable, StoreIncompatible) as exc:
            logger.error("Search failed: %s", exc)
            context["error"] = UNAVAILABLE
            status = 503
    return render(request, "companies/search.html", context, status=status)


def _facet_links(request, facets):
    """Each city facet with the URL that toggles it (the page resets to 1)."""
    links = []
    for facet in facets:
        params = request.GET.copy()
        params.pop("page", None)
        cities = [c for c in params.getlist("city") if normalize_city(c) != normalize_city(facet.value)]
        params.setlist("city", cities if facet.selected else cities + [facet.value])
        links.append((facet, f"?{params.urlencode()}"))
    return links


def _page_number(value):
    try:
        number = int(value or 1)
    except ValueError:
        raise InvalidSearch("The page must be a number.") from None
    last = MAX_MATCHES // PAGE_SIZE
    if not 1 <= number <= last:
        raise InvalidSearch(f"The page must be between 1 and {last}.")
    return number


def company_detail(request, slug):
    company = get_object_or_404(Company, slug=slug)
    try:
        similar, similar_error = similar_companies(company, limit=6), None
    except PointNotIndexed:
        similar, similar_error = [], "Similar companies appear once this company is indexed."
    except (StoreUnavailable, StoreIncompatible) as exc:
        logger.error("Similar companies failed: %s", exc)
        similar, similar_error = [], UNAVAILABLE
    return render(request, "companies/detail.html",
                  {"company": company, "similar": similar, "similar_error": similar_error})
