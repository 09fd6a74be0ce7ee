import logging

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from .models import Company
from .search.query import MAX_MATCHES, InvalidSearch, search_companies
from .search.store import StoreIncompatible, StoreUnavailable

logger = logging.getLogger(__name__)

PAGE_SIZE = 10
EXAMPLE_QUERIES = [
    "reserve parking from my phone",
    "crowdfunding for medical bills",
    "software for restaurants",
    "learn to code",
    "personal styling service",
]


def search(request):
    """The home page and the result pages: everything is in the query string."""
    query = request.GET.get("q", "")
    city = request.GET.get("city", "").strip()
    context = {"query": query, "city": city, "examples": EXAMPLE_QUERIES, "results": None}
    status = 200
    if query.strip():
        try:
            page_number = _page_number(request.GET.get("page"))
            results = search_companies(
                query, cities=[city] if city else [], limit=PAGE_SIZE,
                offset=(page_number - 1) * PAGE_SIZE,
            )
            context["results"] = results
            context["page"] = Paginator(range(results.count), PAGE_SIZE).get_page(page_number)
        except InvalidSearch as exc:
            context["error"] = str(exc)
            status = 400
        except (StoreUnavailable, StoreIncompatible) as exc:
            logger.error("Search failed: %s", exc)
            context["error"] = "Search is unavailable at the moment. Please try again shortly."
            status = 503
    return render(request, "companies/search.html", context, status=status)


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
    return render(request, "companies/detail.html", {"company": company})
