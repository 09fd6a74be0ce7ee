"""The site's URLs plus views that fail unexpectedly, to see how failures are answered."""

from django.urls import path
from rest_framework.views import APIView

# Django looks the error handlers up in the root URLconf, which this module stands in for.
from searchsite.urls import handler400, handler500  # noqa: F401
from searchsite.urls import urlpatterns as site_urlpatterns


class BrokenAPIView(APIView):
    def get(self, request):
        raise RuntimeError("secret internals: connection string postgres://user:pw@db")


def broken_view(request):
    raise RuntimeError("secret internals: connection string postgres://user:pw@db")


urlpatterns = [
    path("api/broken/", BrokenAPIView.as_view()),
    path("api/broken-plain/", broken_view),
    path("broken-page/", broken_view),
    *site_urlpatterns,
]
