from django.urls import path

from . import views

app_name = "companies"

urlpatterns = [
    path("", views.search, name="home"),
    path("search/", views.search, name="search"),
    path("companies/<slug:slug>/", views.company_detail, name="detail"),
]
