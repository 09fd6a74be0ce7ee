"""Every API error answers JSON: ``{"detail": "...", "code": "..."}`` or DRF's map of field →
messages. ``code`` is for programs (``not_found``, ``throttled``, ``invalid_search`` …), ``detail``
for people.

DRF renders the errors it knows. ``exception_handler`` adds the rest: an unexpected exception is
logged with its traceback and answered 500 with a plain message (no trace, whatever ``DEBUG``
says). ``not_found`` answers unknown paths under ``/api/``, and the Django handlers
(``handler400``, ``handler500``) errors raised outside views, by middleware.
"""

import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from companies.models import CompanyGone, StaleVersion

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
SERVER_ERROR = "Internal server error. It has been logged; please try again later."
BAD_REQUEST = "Bad request."
NOT_FOUND = "Not found."


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The company changed since you read it: read it again, then retry."
    default_code = "precondition_failed"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = PayloadTooLarge(
            f"The request body is too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    elif isinstance(exc, CompanyGone):  # deleted while this request was under way
        exc = exceptions.NotFound(NOT_FOUND)
    elif isinstance(exc, StaleVersion):
        exc = PreconditionFailed()
    elif isinstance(exc, SuspiciousOperation):  # e.g. too many query parameters
        exc = exceptions.ParseError(BAD_REQUEST)
    elif isinstance(exc, Http404):  # as DRF does, here so that the answer has its code
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.error(
            "Unexpected error in %s",
            type(view).__name__,
            exc_info=exc,
            extra={"event": "unexpected_error", "view": type(view).__name__, "error": str(exc)},
        )
        set_rollback()
        return Response(
            {"detail": SERVER_ERROR, "code": "server_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(response.data, dict) and set(response.data) == {"detail"}:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
        response.data["code"] = codes if isinstance(codes, str) else "error"
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        # DRF truncates the wait; a client retrying on the truncated second is throttled again.
        response["Retry-After"] = str(max(1, math.ceil(exc.wait)))
    return response


@csrf_exempt  # any method gets the 404, not a CSRF page
def not_found(request, *args, **kwargs):
    """Unknown paths under /api/ (the last API URL pattern)."""
    return JsonResponse(
        {"detail": NOT_FOUND, "code": "not_found"}, status=status.HTTP_404_NOT_FOUND
    )


def _api_or_page(api_detail, api_code, api_status, page_handler):
    """A Django error handler answering JSON under /api/, and the usual page elsewhere."""

    def handler(request, *args, **kwargs):
        if request.path.startswith(API_PREFIX):
            return JsonResponse({"detail": api_detail, "code": api_code}, status=api_status)
        return page_handler(request, *args, **kwargs)

    return handler


bad_request = _api_or_page(
    BAD_REQUEST, "bad_request", status.HTTP_400_BAD_REQUEST, defaults.bad_request
)
server_error = _api_or_page(
    SERVER_ERROR, "server_error", status.HTTP_500_INTERNAL_SERVER_ERROR, defaults.server_error
)
