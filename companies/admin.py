from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from . import jobs
from .cities import merge_cities
from .forms import STALE_MESSAGE, CompanyAdminForm, ImportFileForm, UploadLimitHandler
from .insights_admin import CurationAdmin, SearchInsightAdmin, SynonymGroupAdmin
from .models import (
    Company,
    CompanyGone,
    Curation,
    IndexStatus,
    Job,
    SearchInsight,
    StaleVersion,
    SynonymGroup,
)
from .search import indexing

STALE = "stale"
INDEX_STATES = {
    IndexStatus.INDEXED: ("Indexed", "The index has the current text."),
    IndexStatus.PENDING: ("Pending", "Not in the index yet, or an older version is."),
    IndexStatus.FAILED: ("Failed", "The last indexing failed; the error says why."),
    STALE: ("Stale", "Changed without the index hearing of it: re-index it."),
}
# Seconds between reloads of a running job's page.
JOB_REFRESH = 2
# A running job without progress for this long has most likely lost its process.
JOB_STALLED = timedelta(minutes=10)


def index_state(company):
    """indexed / pending / failed, or stale: marked indexed, but its text has changed since."""
    if company.index_status == IndexStatus.INDEXED and company.indexed_hash != indexing.point_hash(
        company
    ):
        return STALE
    return company.index_status


class IndexStateFilter(admin.SimpleListFilter):
    title = "index state"
    parameter_name = "index_state"

    def lookups(self, request, model_admin):
        return [(state, label) for state, (label, _) in INDEX_STATES.items()]

    def queryset(self, request, queryset):
        state = self.value()
        if state == STALE:
            return queryset.filter(pk__in=indexing.stale_ids(queryset))
        if state == IndexStatus.INDEXED:
            return queryset.filter(index_status=state).exclude(pk__in=indexing.stale_ids(queryset))
        if state in (IndexStatus.PENDING, IndexStatus.FAILED):
            return queryset.filter(index_status=state)
        return queryset


# Longest admin search accepted: SQLite refuses LIKE patterns past 50,000 characters.
MAX_ADMIN_SEARCH = 1000


class ForgedInputMixin:
    """Refuses, as a person's mistake and not a server error, what Django's admin passes to the
    database unchecked: a forged action selection (not an id of this model, out of the key's
    range, or holding NUL) and an overlong search."""

    def response_action(self, request, queryset):
        key = self.model._meta.pk
        try:
            for value in request.POST.getlist(ACTION_CHECKBOX_NAME):
                if "\x00" in value:
                    raise ValidationError("NUL character")
                key.clean(value, None)
        except ValidationError:
            self.message_user(
                request, "The selection is not valid: nothing was done.", messages.WARNING
            )
            return None  # like an empty selection: back to the list
        return super().response_action(request, queryset)

    def get_search_results(self, request, queryset, search_term):
        if len(search_term) > MAX_ADMIN_SEARCH:
            raise BadRequest(f"Search for at most {MAX_ADMIN_SEARCH} characters.")
        return super().get_search_results(request, queryset, search_term)


@admin.register(Company)
class CompanyAdmin(ForgedInputMixin, admin.ModelAdmin):
    form = CompanyAdminForm
    list_display = ("name", "city", "searchable", "index_state_badge", "last_indexed")
    list_filter = ("searchable", IndexStateFilter, "city")
    search_fields = ("name", "description", "tags", "city", "link")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = (
        "website_key",
        "index_state_badge",
        "indexed_at",
        "index_error",
        "indexed_hash",
        "version",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "slug",
                    "city",
                    "description",
                    "tags",
                    "searchable",
                    "opened_version",
                )
            },
        ),
        ("Links", {"fields": ("link", "image_url", "website_key")}),
        (
            "Search index",
            {"fields": ("index_state_badge", "indexed_at", "index_error", "indexed_hash")},
        ),
        ("History", {"fields": ("version", "created_at", "updated_at")}),
    )
    actions = ["reindex", "hide_from_search", "show_in_search", "merge_city_spellings"]
    list_per_page = 50
    change_list_template = "admin/companies/company/change_list.html"

    class Media:
        css = {"all": ["companies/admin.css"]}

    @admin.display(description="index state", ordering="index_status")
    def index_state_badge(self, company):
        state = index_state(company)
        label, meaning = INDEX_STATES[state]
        return format_html(
            '<span class="index-state index-state-{}" title="{}">{}</span>{}',
            state,
            meaning,
            label,
            format_html('<br><span class="index-note">{}</span>', company.index_error[:140])
            if company.index_error
            else "",
        )

    @admin.display(description="last indexed", ordering="indexed_at", empty_value="never")
    def last_indexed(self, company):
        if company.indexed_at:
            return timezone.localtime(company.indexed_at).strftime("%Y-%m-%d %H:%M")
        return None

    # Actions ----------------------------------------------------------------------------------

    # Saving ------------------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        """Save only over the version the form was opened at (see CompanyAdminForm)."""
        if change:
            obj.save(expected_version=form.cleaned_data.get("opened_version"))
        else:
            obj.save()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A save that lost a race says so (nothing was written) instead of failing."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaleVersion:
            self.message_user(request, STALE_MESSAGE, messages.ERROR)
            return HttpResponseRedirect(request.path)
        except CompanyGone:
            self.message_user(
                request,
                "This company was deleted by someone else while you edited it, so your changes "
                "were not saved.",
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:companies_company_changelist"))

    # Actions ----------------------------------------------------------------------------------

    @admin.action(description="Re-index selected companies", permissions=["change"])
    def reindex(self, request, queryset):
        """Embedding takes a while: a job does it, and its page shows how far it got."""
        pks = list(queryset.values_list("pk", flat=True))
        if not pks:  # selected ids that no longer exist
            self.message_user(request, "None of the selected companies exists.", messages.WARNING)
            return None
        job = jobs.start_reindex(pks, request.user)
        return HttpResponseRedirect(job_url(job))

    @admin.action(description="Hide selected companies from search", permissions=["change"])
    def hide_from_search(self, request, queryset):
        self._set_searchable(request, queryset, False)

    @admin.action(description="Show selected companies in search", permissions=["change"])
    def show_in_search(self, request, queryset):
        self._set_searchable(request, queryset, True)

    def _set_searchable(self, request, queryset, searchable):
        """Through each record's save, so its signals fire and the index follows."""
        changed = 0
        for company in queryset.exclude(searchable=searchable):
            company.searchable = searchable
            try:
                company.save(update_fields=["searchable"])
            except CompanyGone:
                continue  # deleted meanwhile: nothing left to hide or show
            changed += 1
        if searchable:
            text = f"{_companies(changed)} shown in search again."
        else:
            text = (
                f"{_companies(changed)} hidden from search; the records are kept here "
                "and stay hidden until shown again."
            )
        self.message_user(request, text, messages.SUCCESS)

    @admin.action(
        description="Merge the selected companies' cities into one spelling", permissions=["change"]
    )
    def merge_city_spellings(self, request, queryset):
        keys = sorted(set(queryset.exclude(city_key="").values_list("city_key", flat=True)))
        if len(keys) < 2:
            self.message_user(
                request,
                "Select companies in at least two spellings of a city (e.g. London and Londo).",
                messages.WARNING,
            )
            return
        kept, merged, changed = merge_cities(keys)
        self.message_user(
            request,
            f"Merged {', '.join(merged)} into {kept}: {_companies(changed)} changed, everywhere "
            "(records, search filters and facets).",
            messages.SUCCESS,
        )

    # Import -----------------------------------------------------------------------------------

    def get_urls(self):
        import_view = self.admin_site.admin_view(csrf_exempt(self.import_view))
        job_view = self.admin_site.admin_view(self.job_view)
        return [
            path("import/", import_view, name="companies_company_import"),
            path("jobs/<int:pk>/", job_view, name="companies_company_job"),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """Upload a startups data file; a job imports and indexes it (the command's path).

        CSRF is checked after the upload-size limit is in place (the check reads the body).
        """
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        upload_limit = UploadLimitHandler(request, settings.COMPANY_IMPORT_MAX_BYTES)
        request.upload_handlers.insert(0, upload_limit)
        return csrf_protect(self._import)(request, upload_limit)

    def _import(self, request, upload_limit):
        status = 200
        if request.method == "POST":
            form = ImportFileForm(request.POST, request.FILES, upload_limit=upload_limit)
            if form.is_valid():
                job = jobs.start_import(
                    form.files["file"].name, form.cleaned_data["file"], request.user
                )
                return HttpResponseRedirect(job_url(job))
            status = 413 if upload_limit.exceeded else 400
        else:
            form = ImportFileForm(upload_limit=upload_limit)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import companies",
            "form": form,
            "max_size": settings.COMPANY_IMPORT_MAX_BYTES,
            "recent_jobs": Job.objects.defer("payload")[:10],
            "changelist_url": reverse("admin:companies_company_changelist"),
        }
        return TemplateResponse(
            request, "admin/companies/company/import.html", context, status=status
        )

    def job_view(self, request, pk):
        """A job's progress: counts and state, reloading itself (meta refresh) until it ends."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(Job.objects.defer("payload"), pk=pk)
        index_states = [
            (state, INDEX_STATES[state][0], count)
            for state, count in job.result.get("index_states", {}).items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"{job.get_kind_display()}: {job.title}",
            "job": job,
            "refresh": None if job.finished else JOB_REFRESH,
            "stalled": not job.finished and timezone.now() - job.updated_at > JOB_STALLED,
            "index_states": index_states,
            "changelist_url": reverse("admin:companies_company_changelist"),
            "import_url": reverse("admin:companies_company_import"),
        }
        return TemplateResponse(request, "admin/companies/company/job.html", context)


def job_url(job):
    return reverse("admin:companies_company_job", args=[job.pk])


def _companies(count):
    return f"{count} compan{'y' if count == 1 else 'ies'}"


# The other admins of the site, registered by their apps, refuse forged input too.
for model, model_admin in ((User, UserAdmin), (Group, GroupAdmin), (TokenProxy, TokenAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, type(model_admin.__name__, (ForgedInputMixin, model_admin), {}))

# The search loop's admins (companies.insights_admin), with the same protection.
for model, model_admin in (
    (Curation, CurationAdmin),
    (SynonymGroup, SynonymGroupAdmin),
    (SearchInsight, SearchInsightAdmin),
):
    admin.site.register(model, type(model_admin.__name__, (ForgedInputMixin, model_admin), {}))
