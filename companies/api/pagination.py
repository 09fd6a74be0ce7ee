from rest_framework import pagination, serializers

MAX_PAGE_SIZE = 100


class PageParamsSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False)
    offset = serializers.IntegerField(min_value=0, default=0)


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's limit/offset pages, with bad ``limit`` or ``offset`` answered 400.

    DRF falls back to the defaults silently, so a client asking for ``limit=500`` would get 20
    rows and never learn why. Here it gets a message per parameter instead.
    """

    max_limit = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        # A plain dict: from a QueryDict, DRF would take an empty value (?limit=) as no value.
        params = PageParamsSerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        self._page = params.validated_data
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request):
        return self._page.get("limit", self.default_limit)

    def get_offset(self, request):
        return self._page["offset"]

    def get_paginated_response_schema(self, schema):
        """All four keys are always sent (``next`` and ``previous`` as null at the ends)."""
        page = super().get_paginated_response_schema(schema)
        page["required"] = list(page["properties"])
        return page

    def get_schema_operation_parameters(self, view):
        limit, offset = super().get_schema_operation_parameters(view)
        limit["schema"].update(minimum=1, maximum=self.max_limit, default=self.default_limit)
        offset["schema"].update(minimum=0, default=0)
        return [limit, offset]
