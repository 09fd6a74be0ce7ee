"""Search insights: what the search log says about a period, for the admin's report page.

A *search* here is a first page asked for (offset 0): the later pages of one search are not new
searches. Clicks come from the pages only (the API has no results page), so click-through rate,
mean click position and "no clicks" consider searches made on the pages.
"""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Avg, Count, Exists, Max, OuterRef, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import Curation, SearchClick, SearchLog, SearchSurface

PERIODS = (1, 7, 30, 90)
DEFAULT_PERIOD = 30
TOP = 20
CHART_WIDTH, CHART_HEIGHT = 720, 160


@dataclass(frozen=True)
class QueryRow:
    query: str
    searches: int
    results: int  # the most results any of its searches had
    curation_id: int = None


@dataclass(frozen=True)
class Bar:
    day: object
    searches: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Report:
    days: int
    since: object
    searches: int
    zero_result_searches: int
    page_searches_with_results: int
    clicked_searches: int
    clicks: int
    mean_click_position: float
    latency_p50: float
    latency_p95: float
    per_day: list
    chart_max: int
    top_queries: list
    zero_result_queries: list
    unclicked_queries: list

    @property
    def click_through_rate(self):
        if not self.page_searches_with_results:
            return None
        return self.clicked_searches / self.page_searches_with_results

    @property
    def click_through_percent(self):
        rate = self.click_through_rate
        return None if rate is None else round(rate * 100, 1)


def clean_period(value):
    """The period in days asked for, one of ``PERIODS`` (the default otherwise)."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD


def report(days=DEFAULT_PERIOD, now=None):
    now = now or timezone.now()
    since = now - timedelta(days=days)
    searches = SearchLog.objects.filter(created_at__gte=since, offset=0)
    clicked = Exists(SearchClick.objects.filter(search_id=OuterRef("search_id")))
    on_pages = searches.filter(surface=SearchSurface.PAGE, count__gt=0).annotate(clicked=clicked)
    clicks = SearchClick.objects.filter(created_at__gte=since)
    click_stats = clicks.aggregate(n=Count("id"), mean_position=Avg("position"))
    per_day, chart_max = _per_day(searches, since, now)
    return Report(
        days=days,
        since=since,
        searches=searches.count(),
        zero_result_searches=searches.filter(count=0).count(),
        page_searches_with_results=on_pages.count(),
        clicked_searches=on_pages.filter(clicked=True).count(),
        clicks=click_stats["n"],
        mean_click_position=click_stats["mean_position"],
        latency_p50=_percentile(searches, 0.50),
        latency_p95=_percentile(searches, 0.95),
        per_day=per_day,
        chart_max=chart_max,
        top_queries=_queries(searches),
        zero_result_queries=_queries(searches.filter(count=0)),
        unclicked_queries=_unclicked(on_pages),
    )


def _queries(searches):
    rows = list(
        searches.values("query")
        .annotate(searches=Count("id"), results=Max("count"))
        .order_by("-searches", "query")[:TOP]
    )
    return _with_curations(rows)


def _unclicked(on_pages):
    """Queries whose page searches had results, none of which was opened."""
    rows = list(
        on_pages.values("query")
        .annotate(
            searches=Count("id"),
            results=Max("count"),
            clicked_searches=Count("id", filter=Q(clicked=True)),
        )
        .filter(clicked_searches=0)
        .order_by("-searches", "query")[:TOP]
    )
    return _with_curations(rows)


def _with_curations(rows):
    curations = dict(
        Curation.objects.filter(query_key__in=[row["query"] for row in rows]).values_list(
            "query_key", "pk"
        )
    )
    return [
        QueryRow(row["query"], row["searches"], row["results"], curations.get(row["query"]))
        for row in rows
    ]


def _percentile(searches, fraction):
    """The latency (ms) below which ``fraction`` of the searches were answered (nearest rank)."""
    total = searches.count()
    if not total:
        return None
    rank = max(0, min(total - 1, math.ceil(fraction * total) - 1))
    return searches.order_by("latency_ms").values_list("latency_ms", flat=True)[rank]


def _per_day(searches, since, now):
    """One bar per day of the period (days without searches included), scaled to the chart."""
    counts = dict(
        searches.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    first, last = timezone.localdate(since), timezone.localdate(now)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    peak = max(counts.values(), default=0)
    slot = CHART_WIDTH / len(days)
    bars = []
    for i, day in enumerate(days):
        n = counts.get(day, 0)
        height = CHART_HEIGHT * n / peak if peak else 0
        bars.append(
            Bar(
                day,
                n,
                round(i * slot + slot * 0.1, 2),
                round(CHART_HEIGHT - height, 2),
                round(slot * 0.8, 2),
                round(height, 2),
            )
        )
    return bars, peak
