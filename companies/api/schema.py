"""What drf-spectacular cannot find out from the views by itself, so that ``/api/schema/`` says
exactly what the API does: error bodies, the 429 ``Retry-After`` header, anonymous reads of
companies, non-blank text, the URL check (in requests only) and bodies without unknown keys.
"""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import permissions, serializers

from .serializers import (
    HTTP_URL_PATTERN,
    NON_BLANK_PATTERN,
    HttpURLField,
    NonBlankCharField,
    StrictBodyMixin,
)


class AutoSchema(openapi.AutoSchema):
    def get_auth(self):
        """Mark reads open to anonymous clients also under DjangoModelPermissionsOrAnonReadOnly
        (drf-spectacular knows AllowAny and IsAuthenticatedOrReadOnly only)."""
        auths = super().get_auth()
        anonymous_reads = any(
            isinstance(permission, permissions.DjangoModelPermissionsOrAnonReadOnly)
            for permission in self.view.get_permissions()
        )
        if anonymous_reads and self.method in permissions.SAFE_METHODS and {} not in auths:
            auths.append({})
        return auths


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for people to read.")
    code = serializers.CharField(
        help_text="What went wrong, for programs: not_found, throttled, invalid_search, "
        "search_unavailable, not_indexed, … (stable; the detail may change)."
    )


class FieldErrorsSerializer(serializers.Serializer):
    """Documents DRF's validation errors: each invalid field or parameter with its messages."""


class FieldErrorsExtension(OpenApiSerializerExtension):
    target_class = FieldErrorsSerializer

    def map_serializer(self, auto_schema, direction):
        messages = {"type": "array", "items": {"type": "string"}}
        return {
            "type": "object",
            "description": (
                "Messages per field (body) or parameter (query). A repeated parameter's "
                "messages are keyed by the position of the bad value; `non_field_errors` "
                "concerns the body as a whole."
            ),
            "additionalProperties": {
                "oneOf": [messages, {"type": "object", "additionalProperties": messages}],
            },
            "example": {"link": ["Enter a valid URL starting with http:// or https://."]},
        }


ERROR_OR_FIELD_ERRORS = PolymorphicProxySerializer(
    component_name="ErrorOrFieldErrors",
    serializers=[ErrorSerializer, FieldErrorsSerializer],
    resource_type_field_name=None,
    many=False,
)


class NonBlankCharFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NonBlankCharField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "pattern": NON_BLANK_PATTERN}


class HttpURLFieldExtension(OpenApiSerializerFieldExtension):
    target_class = HttpURLField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["pattern"] = HTTP_URL_PATTERN
        return schema


class StrictBodyExtension(OpenApiSerializerExtension):
    target_class = StrictBodyMixin
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


COMPANY_ID = OpenApiParameter(
    "id",
    {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
    OpenApiParameter.PATH,
    description="The company's id.",
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429],
    required=True,
    description="Seconds to wait before the next request.",
)

_ERRORS = {
    400: OpenApiResponse(ERROR_OR_FIELD_ERRORS, "Invalid parameters or body."),
    401: OpenApiResponse(
        ErrorSerializer,
        "Invalid credentials were sent, or none with a write.",
    ),
    403: OpenApiResponse(
        ErrorSerializer,
        "The user lacks the permission for this action, or a session-authenticated request "
        "lacks its CSRF token.",
    ),
    404: OpenApiResponse(ErrorSerializer, "No company with this id."),
    409: OpenApiResponse(
        ERROR_OR_FIELD_ERRORS,
        "Another company already has this website or slug (messages per field).",
    ),
    413: OpenApiResponse(ErrorSerializer, "The request body is too large."),
    415: OpenApiResponse(ErrorSerializer, "The body is not JSON (Content-Type application/json)."),
    429: OpenApiResponse(
        ErrorSerializer,
        "Too many requests from this anonymous client; see Retry-After.",
    ),
    503: OpenApiResponse(ErrorSerializer, "The search index is unavailable; try again shortly."),
}


def errors(*codes):
    """The documented error responses ``codes``, to merge into ``extend_schema(responses=…)``."""
    return {code: _ERRORS[code] for code in codes}
