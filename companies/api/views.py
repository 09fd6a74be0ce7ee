import logging

from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.models import Company
from companies.search.query import (
    InvalidSearch, search_companies, similar_companies, suggest_companies,
)
from companies.search.store import PointNotIndexed, StoreIncompatible, StoreUnavailable

from .serializers import (
    CityFacetSerializer, CompanySerializer, LimitSerializer, SearchHitSerializer,
    SearchParamsSerializer, SuggestionSerializer, SuggestParamsSerializer,
)

logger = logging.getLogger(__name__)

UNAVAILABLE = {"detail": "Search is unavailable at the moment. Please try again shortly."}


def _query_params(request):
    """Query parameters as a dict, with ``city`` a list (it may be repeated)."""
    params = request.query_params.dict()
    if "city" in request.query_params:
        params["city"] = request.query_params.getlist("city")
    return params


def _search_errors(view):
    """The search core's failures as JSON answers: 400 for bad input, 503 for a down index."""

    def wrapper(self, request, *args, **kwargs):
        try:
            return view(self, request, *args, **kwargs)
        except InvalidSearch as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except (StoreUnavailable, StoreIncompatible) as exc:
            logger.error("Search failed: %s", exc)
            return Response(UNAVAILABLE, status=status.HTTP_503_SERVICE_UNAVAILABLE)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


class SearchView(APIView):
    """Search companies: ``?q=&mode=hybrid|semantic|keyword&city=&limit=&offset=``."""

    @_search_errors
    def get(self, request):
        params = SearchParamsSerializer(data=_query_params(request))
        params.is_valid(raise_exception=True)
        args = params.validated_data
        results = search_companies(
            args["q"], mode=args["mode"], cities=args["city"], limit=args["limit"],
            offset=args["offset"],
        )
        return Response({
            "count": results.count,
            "mode": results.mode,
            "results": SearchHitSerializer(results.hits, many=True).data,
            "facets": {"city": CityFacetSerializer(results.facets, many=True).data},
        })


class SuggestView(APIView):
    """Company names starting with ``?q=`` (or with a word starting with it), for autocomplete."""

    @_search_errors
    def get(self, request):
        params = SuggestParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        companies = suggest_companies(params.validated_data["q"],
                                      limit=params.validated_data["limit"])
        return Response({"results": SuggestionSerializer(companies, many=True).data})


class CompanyViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Company.objects.all()
    serializer_class = CompanySerializer
    lookup_value_regex = r"[0-9]{1,18}"

    @action(detail=True)
    @_search_errors
    def similar(self, request, pk=None):
        """The companies most like this one (itself excluded): ``?limit=``."""
        company = self.get_object()
        params = LimitSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        try:
            hits = similar_companies(company, limit=params.validated_data["limit"])
        except PointNotIndexed:
            return Response(
                {"detail": "This company is not in the search index yet; try again shortly."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response({"results": SearchHitSerializer(hits, many=True).data})
