from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path(settings.ADMIN_URL, admin.site.urls),
    path("api/", include("companies.api.urls")),
    path("", include("companies.urls")),
]

# JSON under /api/, the usual pages elsewhere.
handler400 = "companies.api.errors.bad_request"
handler500 = "companies.api.errors.server_error"
