"""Refusing, at the door, what no page or parameter of the site can hold."""

from django.core.exceptions import BadRequest
from django.http import JsonResponse

from companies.api.errors import API_PREFIX

NUL_MESSAGE = "Null characters are not allowed."


class RejectNullCharactersMiddleware:
    """A path or query parameter holding a NUL character is answered 400 here.

    PostgreSQL text cannot hold NUL, so such a value would fail in whichever query first met it:
    an admin list filter or look-up, a fallback search. No URL of the site has one, so nothing
    legitimate is refused. Under /api/ the answer is JSON naming the parameters, like the API's
    other validation errors; elsewhere it is the usual 400 page. (Bodies are left to the forms
    and serializers, which refuse NUL in every text field, and must not be read here: the admin
    import sets an upload limit before reading its body.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            return self._refuse(request, {"detail": f"{NUL_MESSAGE[:-1]} in the path."})
        refused = sorted(
            {
                key
                for key, values in request.GET.lists()
                if "\x00" in key or any("\x00" in value for value in values)
            }
        )
        if refused:
            return self._refuse(request, {key: [NUL_MESSAGE] for key in refused})
        return self.get_response(request)

    def _refuse(self, request, errors):
        if request.path.startswith(API_PREFIX):
            return JsonResponse(errors, status=400)
        raise BadRequest(NUL_MESSAGE)
