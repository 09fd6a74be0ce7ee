"""``/api/map/``: every searchable company as a point of the map, and the clusters' labels.

The positions are computed ahead (``companies/search/landscape.py``) and read from the database.
The answer is JSON encoded in one step (no serializer per point: 50,000 of them) and
gzip-compressed for clients that accept it; the serializers below only document it.
"""

import json

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.gzip import gzip_page
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.views import APIView

from companies.search.landscape import map_data
from companies.search.params import clean_cities

from .schema import errors
from .serializers import CityListField


class MapParamsSerializer(serializers.Serializer):
    city = CityListField(
        help_text="Only the companies in these cities (case-insensitive); repeat for several. "
        "The map page dims the others."
    )


class MapPointSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The company's id (/api/companies/{id}/).")
    x = serializers.FloatField(help_text="0 to 1000, left to right.")
    y = serializers.FloatField(help_text="0 to 1000, top to bottom.")
    cluster = serializers.IntegerField(help_text="The id of its cluster in `clusters`.")


class MapClusterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField(help_text="Its most distinctive market words.")
    size = serializers.IntegerField(help_text="Points of it in `points`.")
    x = serializers.FloatField(help_text="Where its label goes.")
    y = serializers.FloatField()


class MapSerializer(serializers.Serializer):
    points = MapPointSerializer(many=True)
    clusters = MapClusterSerializer(many=True)


@method_decorator(gzip_page, name="dispatch")
class MapView(APIView):
    permission_classes = [permissions.AllowAny]  # read-only: other methods are 405

    @extend_schema(
        operation_id="map",
        summary="The map of every company",
        description=(
            "Every searchable company as a point laid out from its embedding (similar companies "
            "lie close together), in clusters labelled by their distinctive market words. "
            "Computed ahead of time (the import, `manage.py landscape`); companies saved since "
            "are placed by their nearest neighbours. Gzip-compressed when the client accepts it."
        ),
        tags=["search"],
        parameters=[MapParamsSerializer],
        responses={200: MapSerializer, **errors(400, 429)},
    )
    def get(self, request):
        params = MapParamsSerializer(data={"city": request.query_params.getlist("city")})
        params.is_valid(raise_exception=True)
        data = map_data(clean_cities(params.validated_data["city"]))
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        return HttpResponse(body, content_type="application/json")
