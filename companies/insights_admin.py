"""The admin of the search loop: the "Search insights" report, curations and synonyms.

Registered by ``companies.admin`` (with its protections against forged input).
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from . import insights
from .forms import CompanyIdsField, typed_id
from .models import CurationPin


class PinFormSet(BaseInlineFormSet):
    """Each company pinned once, and not also hidden (``hidden_ids``: the ids the form sends)."""

    def __init__(self, *args, hidden_ids=(), **kwargs):
        self.hidden_ids = set(hidden_ids)
        super().__init__(*args, **kwargs)

    def clean(self):
        super().clean()
        pinned = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            company = data.get("company")
            if company is None or data.get("DELETE"):
                continue
            if company.pk in pinned:
                raise ValidationError(f"{company} is pinned twice: pin each company once.")
            if company.pk in self.hidden_ids:
                raise ValidationError(f"{company} is pinned and hidden: choose one.")
            pinned.add(company.pk)


class CurationPinInline(admin.TabularInline):
    model = CurationPin
    formset = PinFormSet
    extra = 1
    raw_id_fields = ["company"]
    fields = ["position", "company"]
    verbose_name = "pinned company"
    verbose_name_plural = "Pinned companies (lowest position first)"


class CurationAdmin(admin.ModelAdmin):
    list_display = ["query", "pinned_count", "hidden_count", "updated_at"]
    search_fields = ["query", "query_key"]
    readonly_fields = ["query_key", "live_results"]
    raw_id_fields = ["hidden"]
    fields = ["query", "query_key", "hidden", "live_results"]
    inlines = [CurationPinInline]

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, CurationPinInline) and request.method == "POST":
            raw = request.POST.get("hidden", "")
            kwargs["hidden_ids"] = {typed_id(pk) for pk in raw.split(",")} - {None}
        return kwargs

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "hidden":
            kwargs["form_class"] = CompanyIdsField
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(pins_n=Count("pins", distinct=True), hidden_n=Count("hidden", distinct=True))
        )

    @admin.display(description="pinned", ordering="pins_n")
    def pinned_count(self, curation):
        return curation.pins_n

    @admin.display(description="hidden", ordering="hidden_n")
    def hidden_count(self, curation):
        return curation.hidden_n

    @admin.display(description="results")
    def live_results(self, curation):
        if not curation.pk:
            return "-"
        return format_html('<a href="{}">See the results</a>', search_url(curation.query))


class SynonymGroupAdmin(admin.ModelAdmin):
    list_display = ["terms", "updated_at"]
    search_fields = ["terms"]


class SearchInsightAdmin(admin.ModelAdmin):
    """Not a list of log rows: its list page is the report, and the pages a model admin has
    besides (add, change, delete, history) lead back to it."""

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        report = self.admin_site.admin_view(self.changelist_view)
        back = self.admin_site.admin_view(self.back_to_report)
        return [
            path("", report, name=f"{info}_changelist"),
            path("add/", back, name=f"{info}_add"),
            path("<path:object_id>/history/", back, name=f"{info}_history"),
            path("<path:object_id>/delete/", back, name=f"{info}_delete"),
            path("<path:object_id>/change/", back, name=f"{info}_change"),
            path("<path:object_id>/", back),
        ]

    def back_to_report(self, request, *args, **kwargs):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = insights.clean_period(request.GET.get("days"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Search insights",
            "opts": self.model._meta,
            "report": insights.report(days),
            "periods": insights.PERIODS,
            "chart_width": insights.CHART_WIDTH,
            "chart_height": insights.CHART_HEIGHT,
            "add_curation_url": reverse("admin:companies_curation_add"),
            "search_url": reverse("companies:search"),
        }
        return TemplateResponse(request, "admin/companies/searchinsight/insights.html", context)


def search_url(query):
    return f"{reverse('companies:search')}?{urlencode({'q': query})}"
