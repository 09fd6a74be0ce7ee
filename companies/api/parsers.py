"""The API's JSON parser: DRF's, refusing two kinds of body it would let through to a 500.

- Nesting deeper than Python's recursion limit (``[[[[…]]]]``) makes the decoder raise
  RecursionError, which DRF does not catch.
- Escaped lone surrogates (``"\\ud800"``) are valid JSON but not text: no response, log line or
  database can encode them. DRF's fields refuse them in values, but an error message naming an
  unknown key that holds one cannot be rendered.
Both are answered 400 like any other malformed body.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        if _holds_lone_surrogate(data):
            raise ParseError(
                "JSON parse error - the body holds a lone surrogate (\\ud800-\\udfff), "
                "which is not a character."
            )
        return data


def _holds_lone_surrogate(data):
    """Whether any string in ``data``, key or value, at any depth, has a lone surrogate.

    Iterative, so the depth the decoder accepted cannot exhaust the stack here.
    """
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False
