from django.urls import path

from . import clicks, views

app_name = "companies"

urlpatterns = [
    path("", views.search, name="home"),
    path("search/", views.search, name="search"),
    path("search/click/", clicks.record_click, name="click"),
    path("companies/<slug:slug>/", views.company_detail, name="detail"),
]
