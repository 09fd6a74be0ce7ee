"""The JSON API: thin views over the search service (``companies.search.query``) and the model.

Reads are public. Writes need a user with the model's permission (DjangoModelPermissions); they
go through ``Company.save``/``delete``, so the signals keep the search index in step. Company
reads and writes carry the version as ``ETag``; writes honour ``If-Match`` (``preconditions``).
"""

import functools
import logging
import time

from django.db import transaction
from django.db.models import F
from django.http import HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import exceptions, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from companies import searchlog
from companies.models import Company, text_key
from companies.search.query import (
    MAX_MATCHES,
    InvalidSearch,
    search_companies,
    similar_companies,
    suggest_companies,
)
from companies.search.store import PointNotIndexed, StoreIncompatible, StoreUnavailable

from .errors import NOT_FOUND, PreconditionFailed
from .preconditions import etag, expected_version
from .schema import (
    COMPANY_ID,
    ETAG,
    IF_MATCH,
    LOCATION,
    RETRY_AFTER,
    ErrorSerializer,
    errors,
)
from .serializers import (
    CompanyListParamsSerializer,
    CompanySerializer,
    LimitSerializer,
    SearchParamsSerializer,
    SearchResultsSerializer,
    SimilarResultsSerializer,
    SuggestionsSerializer,
    SuggestParamsSerializer,
)
from .throttling import AnonSearchThrottle, AnonSuggestThrottle

logger = logging.getLogger(__name__)

UNAVAILABLE = {
    "detail": "Search is unavailable at the moment. Please try again shortly.",
    "code": "search_unavailable",
}


def _query_params(request):
    """Query parameters as a dict, with ``city`` a list (it may be repeated).

    A plain dict, not the QueryDict: from that, DRF would take an empty value (``?limit=``) as
    no value, which the schema does not allow.
    """
    params = request.query_params.dict()
    if "city" in request.query_params:
        params["city"] = request.query_params.getlist("city")
    return params


def _validated(serializer_class, request):
    params = serializer_class(data=_query_params(request))
    params.is_valid(raise_exception=True)
    return params.validated_data


def _search_errors(view):
    """The search core's failures as JSON answers: 400 for bad input, 503 for a down index."""

    @functools.wraps(view)
    def wrapper(self, request, *args, **kwargs):
        try:
            return view(self, request, *args, **kwargs)
        except InvalidSearch as exc:
            return Response(
                {"detail": str(exc), "code": "invalid_search"}, status=status.HTTP_400_BAD_REQUEST
            )
        except (StoreUnavailable, StoreIncompatible) as exc:
            logger.error(
                "Search failed: %s",
                exc,
                extra={"event": "search_failed", "view": type(self).__name__, "error": str(exc)},
            )
            return Response(UNAVAILABLE, status=status.HTTP_503_SERVICE_UNAVAILABLE)

    return wrapper


class SearchView(APIView):
    permission_classes = [permissions.AllowAny]  # read-only: other methods are 405
    throttle_classes = [AnonSearchThrottle]

    @extend_schema(
        operation_id="search",
        summary="Search companies",
        description=(
            "Companies matching `q`, best first, with city facets. `count`, the facets and how "
            "far `offset` reaches cover every match, not just this page."
        ),
        tags=["search"],
        parameters=[SearchParamsSerializer, RETRY_AFTER],
        responses={200: SearchResultsSerializer, **errors(400, 401, 429, 503)},
    )
    @_search_errors
    def get(self, request):
        args = _validated(SearchParamsSerializer, request)
        started = time.perf_counter()
        results = search_companies(
            args["q"],
            mode=args["mode"],
            cities=args["city"],
            limit=args["limit"],
            offset=args["offset"],
            understand=args["understand"],
        )
        latency_ms = (time.perf_counter() - started) * 1000
        searchlog.record_search(results, surface="api", latency_ms=latency_ms)
        understood = results.understood
        return Response(
            SearchResultsSerializer(
                {
                    "count": results.count,
                    **page_links(request, results),
                    "mode": results.mode,
                    "results": results.hits,
                    "related": results.related,
                    "understood": understood
                    and {"query": understood.query, "cities": list(understood.city_names)},
                    "suggestion": understood.suggestion if understood else None,
                    "facets": {"city": results.facets},
                }
            ).data
        )


def page_links(request, results):
    """``next`` and ``previous`` page URLs, as the company list gives them."""
    url = request.build_absolute_uri()
    end = results.offset + results.limit
    following = end < min(results.count, MAX_MATCHES)
    previous = None
    if results.offset > 0:
        before = max(0, min(results.offset, results.count) - results.limit)
        previous = (
            replace_query_param(url, "offset", before)
            if before
            else remove_query_param(url, "offset")
        )
    return {
        "next": replace_query_param(url, "offset", end) if following else None,
        "previous": previous,
    }


class SuggestView(APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AnonSuggestThrottle]

    @extend_schema(
        operation_id="suggest",
        summary="Complete a company name",
        description="Companies whose name, or a word of it, starts with `q`: for autocomplete.",
        tags=["search"],
        parameters=[SuggestParamsSerializer, RETRY_AFTER],
        responses={200: SuggestionsSerializer, **errors(400, 401, 429)},
    )
    @_search_errors
    def get(self, request):
        args = _validated(SuggestParamsSerializer, request)
        companies = suggest_companies(args["q"], limit=args["limit"])
        return Response(SuggestionsSerializer({"results": companies}).data)


WRITE_ERRORS = (400, 401, 403, 409, 413, 415)
CONDITIONAL = (
    "Send the `ETag` of your last read as `If-Match` to make the change only if nobody changed "
    "the company since (412 otherwise, and nothing is written); `If-Match: *` matches any "
    "version. A malformed If-Match is a 412 too, with a message saying so."
)


@extend_schema_view(
    list=extend_schema(
        summary="List companies",
        description=(
            "All companies, a page at a time, optionally only those in some cities. Companies "
            "with `searchable: false` are listed only to users with the "
            "`companies.change_company` permission."
        ),
        parameters=[CompanyListParamsSerializer],
        responses={200: CompanySerializer(many=True), **errors(400, 401)},
    ),
    retrieve=extend_schema(
        summary="Read a company",
        description=(
            "The `ETag` header carries the company's `version`, for `If-Match` in a later "
            "write. A company with `searchable: false` is 404 to users without the "
            "`companies.change_company` permission."
        ),
        parameters=[COMPANY_ID, ETAG],
        responses={200: CompanySerializer, **errors(401, 404)},
    ),
    create=extend_schema(
        summary="Create a company",
        description=(
            "Needs the `companies.add_company` permission. The slug is derived from the name "
            "when not given. The company is indexed once the write is committed "
            "(`index_status` says when). `Location` is the new company's URL; `ETag` its "
            "version."
        ),
        parameters=[ETAG, LOCATION],
        responses={201: CompanySerializer, **errors(*WRITE_ERRORS)},
    ),
    update=extend_schema(
        summary="Replace a company",
        description=(
            "Needs the `companies.change_company` permission. The index follows. " + CONDITIONAL
        ),
        parameters=[COMPANY_ID, IF_MATCH, ETAG],
        responses={200: CompanySerializer, **errors(*WRITE_ERRORS, 404, 412)},
    ),
    partial_update=extend_schema(
        summary="Change some fields of a company",
        description=(
            "Needs the `companies.change_company` permission. Only the fields sent are "
            "written, so concurrent changes of other fields are kept. The index follows. "
            + CONDITIONAL
        ),
        parameters=[COMPANY_ID, IF_MATCH, ETAG],
        responses={200: CompanySerializer, **errors(*WRITE_ERRORS, 404, 412)},
    ),
    destroy=extend_schema(
        summary="Delete a company",
        description="Needs the `companies.delete_company` permission. " + CONDITIONAL,
        parameters=[COMPANY_ID, IF_MATCH],
        responses={
            204: OpenApiResponse(description="Deleted; it leaves the search index too."),
            **errors(401, 403, 404, 412),
        },
    ),
)
@extend_schema(tags=["companies"])
class CompanyViewSet(viewsets.ModelViewSet):
    queryset = Company.objects.all()
    serializer_class = CompanySerializer
    permission_classes = [permissions.DjangoModelPermissionsOrAnonReadOnly]
    lookup_value_regex = r"[0-9]{1,18}"
    expected_version = None  # of the write under way, from If-Match

    def get_queryset(self):
        """Unsearchable companies exist only for those who may change them."""
        user = getattr(self.request, "user", None)
        if user is not None and user.has_perm("companies.change_company"):
            return Company.objects.all()
        return Company.objects.searchable()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "expected_version": self.expected_version}

    def list(self, request):
        args = _validated(CompanyListParamsSerializer, request)
        companies = self.get_queryset()
        cities = {text_key(city) for city in args["city"]} - {""}
        if cities:
            companies = companies.filter(city_key__in=cities)
        if "searchable" in args:
            companies = companies.filter(searchable=args["searchable"] == "true")
        page = self.paginate_queryset(companies.order_by(args["ordering"], "id"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        company = self.get_object()
        return _company_response(company, self.get_serializer(company).data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        company = serializer.save()
        location = request.build_absolute_uri(reverse("company-detail", args=[company.pk]))
        return _company_response(
            company, serializer.data, status=status.HTTP_201_CREATED, Location=location
        )

    def update(self, request, *args, partial=False, **kwargs):
        company = self.get_object()
        self.expected_version = expected_version(request, company)
        serializer = self.get_serializer(company, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        company = serializer.save()
        return _company_response(company, serializer.data)

    def destroy(self, request, *args, **kwargs):
        """Delete, with If-Match only the version it names.

        The row is first claimed by an UPDATE that changes nothing, conditional on the version:
        it locks the row (or, on SQLite, the database) until the delete commits, so no change
        can slip in between the check and the delete.
        """
        company = self.get_object()
        version = expected_version(request, company)
        with transaction.atomic():
            claimed = Company.objects.filter(pk=company.pk)
            if version is not None:
                claimed = claimed.filter(version=version)
            if not claimed.update(version=F("version")):
                if version is not None and Company.objects.filter(pk=company.pk).exists():
                    raise PreconditionFailed()
                raise exceptions.NotFound(NOT_FOUND)
            company.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="companies_similar",
        summary="Companies like this one",
        description="The companies nearest to this one in the search index, itself excluded.",
        parameters=[COMPANY_ID, LimitSerializer, RETRY_AFTER],
        responses={
            200: SimilarResultsSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                "This company is not in the search index yet; try again shortly.",
            ),
            **errors(400, 401, 404, 429, 503),
        },
    )
    @action(detail=True, throttle_classes=[AnonSearchThrottle])
    @_search_errors
    def similar(self, request, pk=None):
        company = self.get_object()
        args = _validated(LimitSerializer, request)
        try:
            hits = similar_companies(company, limit=args["limit"])
        except PointNotIndexed:
            return Response(
                {
                    "detail": "This company is not in the search index yet; try again shortly.",
                    "code": "not_indexed",
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(SimilarResultsSerializer({"results": hits}).data)


def _company_response(company, data, status=status.HTTP_200_OK, **headers):
    """A company's representation with its version as the ETag."""
    return Response(data, status=status, headers={"ETag": etag(company), **headers})


class JSONErrorsMixin:
    """Errors as JSON from views whose success is not (the schema, its documentation page):
    DRF would render a 405 or a 406 with the view's own renderer, as YAML or as a page."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class ApiRootView(JSONErrorsMixin, APIView):
    """/api/ leads to the documentation; other methods than GET are a JSON 405."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(exclude=True)
    def get(self, request):
        return HttpResponseRedirect(reverse("api-docs"))


class SchemaView(JSONErrorsMixin, SpectacularAPIView):
    pass


class DocsView(JSONErrorsMixin, SpectacularSwaggerView):
    """Swagger UI, keeping the site's opener policy (same-origin): drf-spectacular relaxes it for
    the pop-ups of OAuth2 sign-in, which this API does not have."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        del response.headers["Cross-Origin-Opener-Policy"]
        return response
