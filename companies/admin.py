from django.contrib import admin
from django.db import models

from .models import Company


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "city", "index_status", "indexed_at", "updated_at")
    list_filter = ("index_status", "city")
    search_fields = ("name", "description", "tags", "city", "link")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("website_key", "index_status", "indexed_at", "indexed_hash", "index_error",
                       "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "city", "description", "tags")}),
        ("Links", {"fields": ("link", "image_url", "website_key")}),
        ("Search index", {"fields": ("index_status", "indexed_at", "index_error", "indexed_hash")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )
    list_per_page = 50
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
