from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.db import DatabaseError, models
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from .cities import merge_cities
from .forms import ImportFileForm, UploadLimitHandler
from .importing import ImportFileError, import_companies
from .models import Company, IndexStatus
from .search import indexing
from .signals import signal_processor

STALE = "stale"
INDEX_STATES = {
    IndexStatus.INDEXED: ("Indexed", "The index has the current text."),
    IndexStatus.PENDING: ("Pending", "Not in the index yet, or an older version is."),
    IndexStatus.FAILED: ("Failed", "The last indexing failed; the error says why."),
    STALE: ("Stale", "Changed without the index hearing of it: re-index it."),
}
# Rejected rows listed on the import result page; the rest are counted.
MAX_REJECTED_SHOWN = 200


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
    list_display = ("name", "city", "index_state_badge", "last_indexed")
    list_filter = (IndexStateFilter, "city")
    search_fields = ("name", "description", "tags", "city", "link")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = (
        "website_key",
        "index_state_badge",
        "indexed_at",
        "index_error",
        "indexed_hash",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "slug", "city", "description", "tags")}),
        ("Links", {"fields": ("link", "image_url", "website_key")}),
        (
            "Search index",
            {"fields": ("index_state_badge", "indexed_at", "index_error", "indexed_hash")},
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )
    actions = ["reindex", "remove_from_index", "merge_city_spellings"]
    list_per_page = 50
    change_list_template = "admin/companies/company/change_list.html"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

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

    @admin.action(description="Re-index selected companies", permissions=["change"])
    def reindex(self, request, queryset):
        pks = list(queryset.values_list("pk", flat=True))
        indexing.mark_for_reindex(pks)
        signal_processor().index(pks)
        self._report_index_states(request, pks, f"Sent {_companies(len(pks))} to the index")

    @admin.action(description="Remove selected companies from the index", permissions=["change"])
    def remove_from_index(self, request, queryset):
        pks = list(queryset.values_list("pk", flat=True))
        when = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        indexing.mark_removed(
            pks,
            f"Removed from the search index by {request.user.get_username()} on {when}. "
            "Re-index to bring it back.",
        )
        signal_processor().remove(pks)
        self.message_user(
            request,
            f"Removed {_companies(len(pks))} from the search index; the records are kept, "
            "marked pending, until they are re-indexed.",
            messages.SUCCESS,
        )

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

    def _report_index_states(self, request, pks, prefix):
        states = dict(
            Company.objects.filter(pk__in=pks)
            .values_list("index_status")
            .order_by()
            .annotate(n=Count("pk"))
        )
        parts = [
            f"{states[state]} {label.lower()}"
            for state, (label, _) in INDEX_STATES.items()
            if states.get(state)
        ]
        level = messages.WARNING if states.get(IndexStatus.FAILED) else messages.SUCCESS
        note = " (each failed record shows its error)" if states.get(IndexStatus.FAILED) else ""
        self.message_user(request, f"{prefix}: {', '.join(parts)}{note}.", level)

    # Import -----------------------------------------------------------------------------------

    def get_urls(self):
        import_view = self.admin_site.admin_view(csrf_exempt(self.import_view))
        return [path("import/", import_view, name="companies_company_import"), *super().get_urls()]

    def import_view(self, request):
        """Upload a startups data file: the import_companies command's path, then indexing.

        CSRF is checked after the upload-size limit is in place (the check reads the body).
        """
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        upload_limit = UploadLimitHandler(request, settings.COMPANY_IMPORT_MAX_BYTES)
        request.upload_handlers.insert(0, upload_limit)
        return csrf_protect(self._import)(request, upload_limit)

    def _import(self, request, upload_limit):
        status, result, index_states = 200, None, None
        if request.method == "POST":
            form = ImportFileForm(request.POST, request.FILES, upload_limit=upload_limit)
            if form.is_valid():
                try:
                    result = import_companies(form.cleaned_data["file"].read())
                except ImportFileError as exc:
                    form.add_error("file", f"{exc} Nothing was imported.")
                except DatabaseError as exc:
                    form.add_error(
                        None, f"The database refused the import ({exc}). Nothing was imported."
                    )
                else:
                    index_states = self._index_imported(result.company_ids)
            if form.errors:
                status = 413 if upload_limit.exceeded else 400
        else:
            form = ImportFileForm(upload_limit=upload_limit)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import companies",
            "form": form,
            "max_size": settings.COMPANY_IMPORT_MAX_BYTES,
            "result": result,
            "rejected_shown": result.rejected[:MAX_REJECTED_SHOWN] if result else [],
            "rejected_more": max(0, len(result.rejected) - MAX_REJECTED_SHOWN) if result else 0,
            "index_states": index_states,
            "changelist_url": reverse("admin:companies_company_changelist"),
        }
        return TemplateResponse(
            request, "admin/companies/company/import.html", context, status=status
        )

    def _index_imported(self, pks):
        """Index the imported rows as saves are indexed; their index states afterwards."""
        if not pks:
            return []
        indexing.mark_pending(pks)
        signal_processor().index(pks)
        counts = dict(
            Company.objects.filter(pk__in=pks)
            .values_list("index_status")
            .order_by()
            .annotate(n=Count("pk"))
        )
        return [
            (state, INDEX_STATES[state][0], counts[state])
            for state in IndexStatus.values
            if counts.get(state)
        ]


def _companies(count):
    return f"{count} compan{'y' if count == 1 else 'ies'}"


# The other admins of the site, registered by their apps, refuse forged input too.
for model, model_admin in ((User, UserAdmin), (Group, GroupAdmin), (TokenProxy, TokenAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, type(model_admin.__name__, (ForgedInputMixin, model_admin), {}))
