"""``/api/map/``: every searchable company as a point of the map, and the clusters' labels.

The positions are computed ahead (``companies/search/landscape.py``) and read from the database.
The answer is JSON encoded in one step (no serializer per point: 50,000 of them) and
gzip-compressed for clients that accept it; the serializers below only document it. The whole
map is encoded ahead and kept (``companies/search/map_snapshot.py``), and its ETag answers a
client that has it already with a 304.
"""

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.views import APIView

from companies.search.map_snapshot import Encoded, map_data, whole_map
from companies.search.params import clean_cities

from .schema import errors
from .serializers import CityListField
from .views import _search_errors


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
    @_search_errors
    def get(self, request):
        params = MapParamsSerializer(data={"city": request.query_params.getlist("city")})
        params.is_valid(raise_exception=True)
        keys = clean_cities(params.validated_data["city"])
        encoded = Encoded.of(map_data(keys)) if keys else whole_map()
        if encoded.etag in request.headers.get("If-None-Match", ""):
            response = HttpResponseNotModified()
        elif "gzip" in request.headers.get("Accept-Encoding", ""):
            response = HttpResponse(encoded.gzipped, content_type="application/json")
            response["Content-Encoding"] = "gzip"
        else:
            response = HttpResponse(encoded.plain, content_type="application/json")
        response["ETag"] = encoded.etag
        patch_vary_headers(response, ["Accept-Encoding"])
        return response
