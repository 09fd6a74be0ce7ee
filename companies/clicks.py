"""The endpoint the results page tells which result was opened, with ``navigator.sendBeacon``.

It only adds a row to the search log, so it needs no CSRF token (a beacon cannot send one) and
answers nothing but a status: 204 logged, 400 unusable, 405 not a POST, 413 too large, 429 too
many from one address in a minute (the address is a throttle key only, never stored).
"""

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import searchlog
from .models import MAX_ID, ClickTarget, Company
from .search.params import MAX_MATCHES, MAX_QUERY_LENGTH

MAX_BODY_BYTES = 2048
THROTTLE_WINDOW = 60


class ClickForm(forms.Form):
    search = forms.UUIDField()
    q = forms.CharField(max_length=MAX_QUERY_LENGTH)
    company = forms.IntegerField(min_value=1, max_value=MAX_ID)
    position = forms.IntegerField(min_value=1, max_value=MAX_MATCHES)
    target = forms.ChoiceField(choices=ClickTarget.choices)


def throttled(request):
    """Whether this address has sent more clicks than ``SEARCH_CLICK_RATE`` this minute."""
    key = f"search-click:{request.META.get('REMOTE_ADDR', '')}"
    if cache.add(key, 1, THROTTLE_WINDOW):
        return False
    try:
        return cache.incr(key) > settings.SEARCH_CLICK_RATE
    except ValueError:  # expired between add and incr
        return False


@csrf_exempt
@require_POST
def record_click(request):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return HttpResponse(status=400)
    if length > MAX_BODY_BYTES:
        return HttpResponse(status=413)
    if throttled(request):
        return HttpResponse(status=429)
    form = ClickForm(request.POST)
    if not form.is_valid():
        return HttpResponse(status=400)
    click = form.cleaned_data
    if not Company.objects.filter(pk=click["company"]).exists():
        return HttpResponse(status=400)
    searchlog.record_click(
        search_id=click["search"],
        query=click["q"],
        company_id=click["company"],
        position=click["position"],
        target=click["target"],
    )
    return HttpResponse(status=204)
