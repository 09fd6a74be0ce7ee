from django.urls import path

from . import clicks, explore, feeds, views

app_name = "companies"

urlpatterns = [
    path("", views.search, name="home"),
    path("search/", views.search, name="search"),
    path("search/click/", clicks.record_click, name="click"),
    path("search/feed/", feeds.SearchFeed(), name="search-feed"),
    path("explore/", explore.explore, name="explore"),
    path("explore/map.png", explore.explore_image, name="explore-image"),
    path("companies/<slug:slug>/", views.company_detail, name="detail"),
]
