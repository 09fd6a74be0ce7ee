from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from . import curations, errors, map, views

router = SimpleRouter(trailing_slash=True)
router.register("companies", views.CompanyViewSet, basename="company")
router.register("curations", curations.CurationViewSet, basename="curation")

urlpatterns = [
    path("", views.ApiRootView.as_view(), name="api-root"),
    path("search/", views.SearchView.as_view(), name="api-search"),
    path("suggest/", views.SuggestView.as_view(), name="api-suggest"),
    path("map/", map.MapView.as_view(), name="api-map"),
    path("schema/", views.SchemaView.as_view(), name="api-schema"),
    path("docs/", views.DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
    # Last: any other path under /api/ is a JSON 404. Only paths ending in a slash, so that
    # CommonMiddleware still redirects /api/search to /api/search/. (Not ".": paths may hold
    # newlines.)
    re_path(r"^[\s\S]*/$", errors.not_found),
]
