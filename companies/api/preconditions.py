"""Optimistic concurrency for company writes: ``ETag`` out, ``If-Match`` in.

A company's entity tag is its ``version`` (``"7"``), which the database raises by one with every
change of the record. A client that sends it back in ``If-Match`` changes or deletes the company
only if nobody changed it since: otherwise 412, and nothing is written. The tag covers the
record's content; the index state (``index_status``, ``indexed_at``) may change under it.

If-Match follows RFC 9110: ``*`` or a comma-separated list of entity tags, compared strongly (a
weak tag, ``W/"7"``, never matches). A header that is neither names no version either, so it is
answered 412 as well, with a message saying what is wrong with it: the condition it states is
false, and a client retrying its write only after a fresh read is what both cases need.
"""

import re

from .errors import PreconditionFailed

_TAG_TEXT = r'(?:W/)?"[\x21\x23-\x7e]*"'  # printable ASCII but the quote (RFC 9110's etagc)
_TAG = re.compile(_TAG_TEXT)
_SEPARATORS = re.compile(r"[ \t,]*")  # RFC 9110's list rule allows empty elements: "1", , "2"
_END_OF_ELEMENT = re.compile(r"[ \t]*(?:,|$)")
MALFORMED = 'Malformed If-Match header: send * or entity tags in double quotes, e.g. "3".'


def etag(company):
    """The strong entity tag of a company's current version."""
    return f'"{company.version}"'


def expected_version(request, company):
    """The version a conditional write of ``company`` must still find, or None to write
    unconditionally (no If-Match, or ``*``, which any existing company matches).

    Raises PreconditionFailed (412) when no tag is ``company``'s current one, or the header is
    malformed (with a message saying so). The version returned is the one just read: the write
    itself checks it again, so a change in between is a 412 too.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    if header.strip(" \t") == "*":
        return None
    if etag(company) not in entity_tags(header):  # a weak W/"7" is never equal
        raise PreconditionFailed()
    return company.version


def entity_tags(header):
    """The entity tags of an If-Match list, in one left-to-right pass (headers can be long).

    Raises PreconditionFailed (412) unless the header is one or more tags separated by commas.
    """
    tags, position = [], 0
    while True:
        position = _SEPARATORS.match(header, position).end()
        if position == len(header):
            break
        tag = _TAG.match(header, position)
        end = tag and _END_OF_ELEMENT.match(header, tag.end())
        if not end:
            raise PreconditionFailed(MALFORMED)
        tags.append(tag.group())
        position = end.end()
    if not tags:
        raise PreconditionFailed(MALFORMED)
    return tags
