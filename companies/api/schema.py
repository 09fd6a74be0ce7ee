"""What drf-spectacular cannot find out from the views by itself, so that ``/api/schema/`` says
exactly what the API does: error bodies (with the 405 and 406 every operation can answer), the
429 ``Retry-After`` header, ``ETag``/``If-Match``/``Location``, anonymous reads of companies,
non-blank text, the URL check (in requests only), bodies without unknown keys, and response
fields marked required, as every one of them is always sent.
"""

import functools
import sys

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import permissions, serializers

from companies.models import is_visible, validate_visible

from .serializers import (
    HTTP_URL_PATTERN,
    NON_BLANK_PATTERN,
    HttpURLField,
    NonBlankCharField,
    StrictBodyMixin,
    VisibleCharField,
)

ALWAYS_POSSIBLE = (405, 406)


class AutoSchema(openapi.AutoSchema):
    def _map_basic_serializer(self, serializer, direction):
        """In responses every field is sent, so every field is required (drf-spectacular only
        marks the required and the read-only ones)."""
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response" and schema.get("properties"):
            schema["required"] = list(schema["properties"])
        return schema

    def _insert_field_validators(self, field, schema):
        """Patterns for two of the model's validators.

        - ``validate_visible``: a pattern matching a visible character (``visible_pattern``).
        - Links: no ``format: uri``, as the model's URLValidator takes IRIs (non-ASCII paths),
          which that format refuses; ``HttpURLFieldExtension`` documents them instead (in
          requests, where a blank link is the other ``oneOf`` case; in responses any string).
        """
        super()._insert_field_validators(field, schema)
        if validate_visible in field.validators and "pattern" in schema:
            schema["pattern"] = visible_pattern()
        if isinstance(field, HttpURLField):
            for variant in [schema, *schema.get("oneOf", [])]:
                variant.pop("format", None)
            if "oneOf" in schema and "pattern" not in schema["oneOf"][0]:
                schema.update(schema.pop("oneOf")[0])

    def _get_response_bodies(self, direction="response"):
        """Every operation's responses, plus the 405 and 406 any of them can answer."""
        responses = super()._get_response_bodies(direction)
        for code in ALWAYS_POSSIBLE:
            responses.setdefault(
                str(code), self._get_response_for_code(_ERRORS[code], str(code), None, direction)
            )
        return responses

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


@functools.cache
def visible_pattern():
    """A pattern that text matches when it holds a character ``models.is_visible`` takes:
    the model's rule, spelt out as the ranges of such characters (built once, on first use)."""
    ranges, start = [], None
    for code in range(sys.maxunicode + 2):
        visible = code <= sys.maxunicode and is_visible(chr(code))
        if visible and start is None:
            start = code
        elif not visible and start is not None:
            ranges.append((start, code - 1))
            start = None

    def char(code):
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)

    return "[" + "".join(f"{char(a)}-{char(b)}" if a < b else char(a) for a, b in ranges) + "]"


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
            "example": {"link": ["Enter a valid URL."]},
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


class VisibleCharFieldExtension(OpenApiSerializerFieldExtension):
    target_class = VisibleCharField
    priority = 1  # before NonBlankCharFieldExtension, which matches it too

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "pattern": visible_pattern()}


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
ETAG = OpenApiParameter(
    "ETag",
    {"type": "string", "pattern": r'^"[0-9]+"$'},
    OpenApiParameter.HEADER,
    response=[200, 201],
    required=True,
    description='The company\'s version as a strong entity tag (`"7"`); send it back as '
    "If-Match to change or delete only that version.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description='Write only if the company is still at this version: its ETag (`"7"`), '
    "several comma-separated, or `*` for any version. Compared strongly: a weak tag "
    '(`W/"7"`) never matches. 412 when no tag matches, and when the header is not `*` or a '
    "list of entity tags (a condition that names no version is false; the message says so).",
)
LOCATION = OpenApiParameter(
    "Location",
    {"type": "string", "format": "uri"},
    OpenApiParameter.HEADER,
    response=[201],
    required=True,
    description="The new company's URL in this API.",
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
    405: OpenApiResponse(ErrorSerializer, "This path does not take this method (see Allow)."),
    406: OpenApiResponse(
        ErrorSerializer,
        "The Accept header asks for a media type other than JSON (application/json).",
    ),
    412: OpenApiResponse(
        ErrorSerializer,
        "If-Match names no current version: the company changed since it was read (or the "
        "header is not `*` or a list of entity tags, which the message says). Nothing was "
        "written; read the company again (its ETag), then retry.",
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
