"""The map page (/explore/) and its picture (/explore/map.png).

The page is whole without JavaScript: the map as a server-drawn picture (with a search's results
ringed and other cities greyed), the clusters as a list, the results as links. With JavaScript,
static/companies/explore.js replaces the picture with a canvas fed by /api/map/ (pan, zoom,
hover cards, search and city filter in place).
"""

import hashlib

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from .feeds import search_url
from .map_image import CLUSTER_COLOURS, hex_colour
from .map_image import render as render_image
from .models import Company
from .search import map_snapshot
from .search.params import InvalidSearch, clean_cities, clean_query
from .search.ranking import search_companies
from .search.store import StoreIncompatible, StoreUnavailable

# Results of a search ringed on the map, and cities offered by the filter.
HIGHLIGHTED = 20
CITIES_OFFERED = 60


def _map_request(request):
    """``(query or "", city keys, raw cities)`` of a map URL; InvalidSearch if unusable."""
    query = request.GET.get("q", "")
    cities = [city for city in request.GET.getlist("city") if city.strip()]
    keys = clean_cities(cities)
    return (clean_query(query) if query.strip() else ""), keys, cities


def _results(query, cities):
    """The search's best companies, or ``None`` with the index down (the map still shows)."""
    if not query:
        return []
    try:
        return search_companies(query, cities=cities, limit=HIGHLIGHTED, related=False).hits
    except (StoreUnavailable, StoreIncompatible):
        return None


@require_safe
def explore(request):
    context = {"colours": CLUSTER_COLOURS}
    try:
        query, keys, cities = _map_request(request)
    except InvalidSearch as exc:
        return render(request, "companies/explore.html", {**context, "error": str(exc)}, status=400)
    clusters = map_snapshot.clusters()
    hits = _results(query, cities)
    context.update(
        query=query,
        city=cities[0] if cities else "",
        clusters=[
            {**cluster, "colour": hex_colour(cluster["id"])}
            for cluster in sorted(clusters, key=lambda c: -c["size"])
        ],
        company_count=sum(cluster["size"] for cluster in clusters),
        hits=hits,
        cities=_cities(),
        image_url=search_url("companies:explore-image", query, cities),
        feed_url=query and search_url("companies:search-feed", query, cities),
        search_page=query and search_url("companies:search", query, cities),
        map_api=reverse("api-map"),
    )
    return render(request, "companies/explore.html", context)


def _cities():
    """The cities with most companies, for the filter."""
    rows = (
        Company.objects.searchable()
        .exclude(city_key="")
        .values("city_key")
        .annotate(n=Count("pk"))
        .order_by("-n", "city_key")[:CITIES_OFFERED]
    )
    names = dict(
        Company.objects.searchable()
        .filter(city_key__in=[row["city_key"] for row in rows])
        .values_list("city_key", "city")
    )
    return sorted(names.values(), key=str.casefold)


@require_safe
def explore_image(request):
    try:
        query, keys, cities = _map_request(request)
    except InvalidSearch as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    data = map_snapshot.map_data()
    dimmed = set()
    if keys:
        inside = {point["id"] for point in map_snapshot.map_data(keys)["points"]}
        dimmed = {point["id"] for point in data["points"]} - inside
    hits = _results(query, cities) or []
    body = render_image(data, dimmed=dimmed, highlighted=[hit.company.pk for hit in hits])
    response = HttpResponse(body, content_type="image/png")
    response["ETag"] = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    response["Cache-Control"] = "max-age=60"
    return response
