from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.register("companies", views.CompanyViewSet, basename="company")

urlpatterns = [
    path("search/", views.SearchView.as_view(), name="api-search"),
    path("suggest/", views.SuggestView.as_view(), name="api-suggest"),
    path("", include(router.urls)),
]
