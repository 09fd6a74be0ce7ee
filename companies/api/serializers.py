from rest_framework import serializers

from companies.models import Company
from companies.search.query import (
    DEFAULT_MODE, MAX_CITIES, MAX_LIMIT, MAX_MATCHES, MAX_QUERY_LENGTH, MODES,
)


class SearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH)
    mode = serializers.ChoiceField(choices=MODES, default=DEFAULT_MODE)
    city = serializers.ListField(
        child=serializers.CharField(max_length=100, allow_blank=True), required=False,
        default=list, max_length=MAX_CITIES,
    )
    limit = serializers.IntegerField(default=10, min_value=1, max_value=MAX_LIMIT)
    offset = serializers.IntegerField(default=0, min_value=0, max_value=MAX_MATCHES - 1)


class LimitSerializer(serializers.Serializer):
    limit = serializers.IntegerField(default=5, min_value=1, max_value=MAX_LIMIT)


class SuggestParamsSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=100)
    limit = serializers.IntegerField(default=8, min_value=1, max_value=20)


class CompanySerializer(serializers.ModelSerializer):
    class Meta:
        model = Company
        fields = [
            "id", "name", "slug", "description", "city", "link", "image_url", "tags",
            "created_at", "updated_at", "index_status", "indexed_at",
        ]
        read_only_fields = fields


class SearchHitSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="company.id")
    name = serializers.CharField(source="company.name")
    slug = serializers.CharField(source="company.slug")
    description = serializers.CharField(source="company.description")
    city = serializers.CharField(source="company.city")
    link = serializers.CharField(source="company.link")
    image_url = serializers.CharField(source="company.image_url")
    score = serializers.FloatField()
    highlight = serializers.CharField(
        help_text="HTML: the best-matching sentence, escaped, query terms in <mark>."
    )


class CityFacetSerializer(serializers.Serializer):
    value = serializers.CharField()
    count = serializers.IntegerField()


class SuggestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
