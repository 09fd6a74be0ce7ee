import logging

from rest_framework import status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.models import Company
from companies.search.query import InvalidSearch, search_companies
from companies.search.store import StoreIncompatible, StoreUnavailable

from .serializers import CompanySerializer, SearchHitSerializer, SearchParamsSerializer

logger = logging.getLogger(__name__)


class SearchView(APIView):
    """Search companies: ``?q=&mode=&city=&limit=&offset=``."""

    def get(self, request):
        params = SearchParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        args = params.validated_data
        try:
            results = search_companies(
                args["q"], mode=args["mode"], cities=[args["city"]] if args["city"] else [],
                limit=args["limit"], offset=args["offset"],
            )
        except InvalidSearch as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except (StoreUnavailable, StoreIncompatible) as exc:
            logger.error("Search failed: %s", exc)
            return Response(
                {"detail": "Search is unavailable at the moment. Please try again shortly."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({
            "count": results.count,
            "results": SearchHitSerializer(results.hits, many=True).data,
        })


class CompanyViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Company.objects.all()
    serializer_class = CompanySerializer
