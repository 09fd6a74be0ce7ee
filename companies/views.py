import logging
import time

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from . import searchlog
from .feeds import search_url
from .models import Company, text_key
from .search.fallback import search_database
from .search.params import DEFAULT_MODE, MAX_MATCHES, InvalidSearch
from .search.ranking import search_companies, similar_companies
from .search.store import PointNotIndexed, StoreIncompatible, StoreUnavailable
from .search.suggest import suggest_companies

logger = logging.getLogger(__name__)

PAGE_SIZE = 10
SIMILAR_COUNT = 6
FACETS_SHOWN = 12
# (value, label, what it does): the mode switch on the search form.
MODE_CHOICES = [
    ("hybrid", "Best match", "meaning and words"),
    ("semantic", "Meaning", "what the company does, in any words"),
    ("keyword", "Exact words", "the words you typed"),
]
EXAMPLE_QUERIES = [
    "reserve parking from my phone",
    "crowdfunding for medical bills",
    "software for restaurants",
    "learn to code",
    "personal styling service",
]
UNAVAILABLE = "Search is unavailable at the moment. Please try again shortly."
DATABASE_FALLBACK = (
    "Search by meaning is unavailable at the moment, so these results only match the words "
    "you typed."
)


@require_safe
def search(request):
    """The home page and the result pages: every state is in the query string."""
    query = request.GET.get("q", "")
    mode = request.GET.get("mode") or DEFAULT_MODE
    cities = [city for city in request.GET.getlist("city") if city.strip()]
    # ?understand=0: the query as typed (the "search all cities instead" link).
    understand = request.GET.get("understand", "").lower() not in ("0", "false", "off")
    context = {
        "query": query,
        "mode": mode,
        "mode_choices": MODE_CHOICES,
        "cities": cities,
        "examples": EXAMPLE_QUERIES,
        "results": None,
        "autofocus": not query.strip(),
    }
    status = 200
    if not query.strip():
        context["company_count"] = Company.objects.count()
    else:
        try:
            page_number = _page_number(request.GET.get("page"))
            page_slice = {
                "cities": cities,
                "limit": PAGE_SIZE,
                "offset": (page_number - 1) * PAGE_SIZE,
            }
            started = time.perf_counter()
            try:
                results = search_companies(query, mode=mode, understand=understand, **page_slice)
            except (StoreUnavailable, StoreIncompatible) as exc:
                logger.error(
                    "Search failed, answering from the database: %s",
                    exc,
                    extra={
                        "event": "search_failed",
                        "mode": mode,
                        "fallback": "database",
                        "error": str(exc),
                    },
                )
                results = search_database(query, **page_slice)
                context["notice"] = DATABASE_FALLBACK
            latency_ms = (time.perf_counter() - started) * 1000
            context["search_id"] = searchlog.record_search(
                results, surface="page", latency_ms=latency_ms
            )
            context.update(_results_context(request, results, page_number))
            context["feed_url"] = search_url("companies:search-feed", query, cities)
            context["map_url"] = search_url("companies:explore", query, cities)
            if results.count and not results.hits:
                status = 404  # a page past the last one (an old or edited link)
        except InvalidSearch as exc:
            context["error"] = str(exc)
            status = 400
    return render(request, "companies/search.html", context, status=status)


def _results_context(request, results, page_number):
    paginator = Paginator(range(min(results.count, MAX_MATCHES)), PAGE_SIZE)
    page = paginator.get_page(page_number)
    understood = getattr(results, "understood", None)
    context = {
        "results": results,
        "understood": understood,
        "understood_cities": ", ".join(understood.city_names) if understood else "",
        "facets": _facet_links(request, results.facets, bool(understood and understood.cities)),
        "page": page,
        "page_range": paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        "first_shown": results.offset + 1,
        "last_shown": results.offset + len(results.hits),
    }
    if not results.hits:
        context["name_matches"] = suggest_companies(results.query[:100], limit=3)
    return context


def _facet_links(request, facets, understood_cities=False):
    """The cities with most matches, and any selected, each with the URL that toggles it (the
    page resets to 1). The API lists them all. Cities read from the query are unselected by
    searching all cities instead (the query as typed)."""
    links = []
    shown = facets[:FACETS_SHOWN] + [f for f in facets[FACETS_SHOWN:] if f.selected]
    for facet in shown:
        params = request.GET.copy()
        params.pop("page", None)
        if understood_cities:
            params["understand"] = "0"
            links.append((facet, f"?{params.urlencode()}"))
            continue
        cities = [c for c in params.getlist("city") if text_key(c) != text_key(facet.value)]
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


@require_safe
def company_detail(request, slug):
    company = get_object_or_404(Company.objects.searchable(), slug=slug)
    try:
        similar, similar_error = similar_companies(company, limit=SIMILAR_COUNT), None
    except PointNotIndexed:
        similar, similar_error = [], "Similar companies appear once this company is indexed."
    except (StoreUnavailable, StoreIncompatible) as exc:
        logger.error(
            "Similar companies failed: %s",
            exc,
            extra={"event": "similar_failed", "company_ids": [company.pk], "error": str(exc)},
        )
        similar, similar_error = [], UNAVAILABLE
    return render(
        request,
        "companies/detail.html",
        {"company": company, "similar": similar, "similar_error": similar_error},
    )
