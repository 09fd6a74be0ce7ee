from rest_framework import serializers

from companies.models import Company
from companies.search.query import MAX_LIMIT, MAX_MATCHES, MAX_QUERY_LENGTH, MODES, PLANNED_MODES


class SearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(max_length=MAX_QUERY_LENGTH, trim_whitespace=True)
    mode = serializers.CharField(required=False, default=MODES[0])
    city = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=MAX_LIMIT)
    offset = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=MAX_MATCHES - 1
    )

    def validate_mode(self, value):
        if value in PLANNED_MODES:
            raise serializers.ValidationError(
                f"Mode {value!r} is not available yet; use one of: {', '.join(MODES)}."
            )
        if value not in MODES:
            raise serializers.ValidationError(
                f"Unknown mode {value!r}; use one of: {', '.join(MODES)}."
            )
        return value


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
