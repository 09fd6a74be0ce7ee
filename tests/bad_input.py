"""The bad-input battery: every page and endpoint fed what broken clients and attackers send.

Each case is one request, which must be answered with a status its endpoint allows for bad input
(a 4xx, or a 200 or redirect where that is the correct answer, e.g. a search for an odd but
harmless string, or the admin refusing a forged selection with a message), never a 5xx. And
nothing may change: the companies table and the search store hold the same rows and points, with
the same contents, after every request as before. Index work a request queues runs at once, so a
write that slipped through would show in the store as well as in the table.

``BadInputBattery`` is collected twice: on SQLite (tests/test_bad_input.py) and on PostgreSQL
(tests/integration/test_bad_input.py), whose text columns refuse characters SQLite stores.
"""

import hashlib
import json
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from companies.jobs import run_job
from companies.models import Company, Curation, CurationPin, Job
from companies.search.engines import get_store

# Text every parameter is fed (sent URL-encoded as UTF-8).
ODD_TEXT = {
    "empty": "",
    "spaces": "   ",
    "long_2k": "startup " * 250,
    "long_100k": "x" * 100_000,
    "rtl_override": "مرحبا بالعالم \u202eevil\u202c",
    "combining_marks": "Z\u0351\u0352\u0357a\u0300\u0301\u0302l\u0334\u0335go" * 40,
    "emoji_zwj": "🚀🦄 👩‍👩‍👧‍👦 🏳️‍🌈",
    "zero_width": "\u200b\u200c\u200d\ufeff",
    "nul": "park\x00ing",
    "control": "\x1b[31mred\x07\x08",
    "crlf_header": "a\r\nSet-Cookie: x=y\r\n",
    "sql_quote": "' OR '1'='1' --",
    "sql_drop": "'; DROP TABLE companies_company; --",
    "sql_union": '" UNION SELECT password FROM auth_user --',
    "sql_like": "%_%\\",
    "html_script": "<script>alert(1)</script>",
    "html_attribute": '"><img src=x onerror=alert(1)>',
    "javascript_url": "javascript:alert(document.cookie)",
    "template": "{{ settings.SECRET_KEY }}{% debug %}",
    "format_string": "%s%n%x{0}{}",
    "path_traversal": "../../../../etc/passwd",
    "case_folding": "İſ ﬃ ß ǅ",
    "fullwidth_digits": "１２３",
    "private_use": "\ue000\U000f0000",
    "noncharacters": "\ufffe\uffff",
    "huge_number": "9" * 400,
}
# Bytes that are not UTF-8 text (sent percent-encoded as they are).
RAW_TEXT = {
    "invalid_utf8": "%FF%FE%FD",
    "lone_surrogate": "%ED%A0%80",
    "overlong_slash": "%C0%AF",
    "truncated_utf8": "%E2%82",
    "nul_byte": "%00",
    "bad_escape": "%ZZ%",
}
# What the database search, the fallback while the index is down, is fed.
INDEX_DOWN_VALUES = [
    "long_2k",
    "long_100k",
    "sql_quote",
    "sql_like",
    "case_folding",
    "combining_marks",
    "emoji_zwj",
    "nul",
    "invalid_utf8",
    "lone_surrogate",
]
# What numeric parameters (page, limit, offset) are fed.
ODD_NUMBERS = [
    "",
    "-1",
    "0",
    "1e3",
    "0x10",
    "NaN",
    "inf",
    "1.5",
    " 2 ",
    "٣",
    "１",
    "99999999999999999999999",
    "-99999999999999999999999",
    "abc",
    "%00",
]
# Whole query strings: unknown, repeated, array-style, valueless and too many parameters.
ODD_QUERY_STRINGS = {
    "unknown": "q=parking&foo=bar&__proto__=x&constructor=1",
    "repeated": "q=a&q=b&mode=hybrid&mode=keyword&limit=1&limit=2&page=1&page=2&city=x&city=x",
    "array_style": "q[]=a&q[0]=b&city[]=x&limit[]=1",
    "valueless": "q&mode&page&limit&offset&city",
    "only_separators": "=&&&==&",
    "too_many": "&".join(f"p{n}=1" for n in range(1100)),
}

# A company of the demo data the paths point at, and another whose website and slug are taken.
SAMPLE = "SpotHero"
OTHER_LINK, OTHER_SLUG = "https://safer.codes", "safercodes"


@dataclass(frozen=True)
class Endpoint:
    path: str  # "{pk}" and "{slug}" are the sample company's
    text_params: tuple = ()
    number_params: tuple = ()
    base: dict = field(default_factory=dict)  # parameters sent with each odd one
    allowed: frozenset = frozenset({200, 400})
    who: str = "anonymous"  # or "admin": a superuser's session


ENDPOINTS = {
    "home": Endpoint("/", ("q",)),
    "search_page": Endpoint(
        "/search/", ("q", "mode", "city"), ("page",), {"q": "parking"}, frozenset({200, 400, 404})
    ),
    "company_page": Endpoint("/companies/{slug}/", ("x",)),
    "api_search": Endpoint(
        "/api/search/", ("q", "mode", "city"), ("limit", "offset"), {"q": "parking"}
    ),
    "api_suggest": Endpoint("/api/suggest/", ("q",), ("limit",), {"q": "spot"}),
    "api_map": Endpoint("/api/map/", ("city",)),
    "explore_page": Endpoint("/explore/", ("q", "city")),
    "explore_image": Endpoint("/explore/map.png", ("q", "city")),
    "search_feed": Endpoint("/search/feed/", ("q", "city"), base={"q": "parking"}),
    "api_companies": Endpoint(
        "/api/companies/", ("city", "ordering", "searchable"), ("limit", "offset")
    ),
    "api_company": Endpoint("/api/companies/{pk}/", ("x",)),
    "api_similar": Endpoint("/api/companies/{pk}/similar/", (), ("limit",)),
    "api_schema": Endpoint("/api/schema/", ("format", "lang"), allowed=frozenset({200, 400, 404})),
    "api_docs": Endpoint("/api/docs/", ("x",)),
    # Probes ignore parameters.
    "healthz": Endpoint("/healthz", ("x",), allowed=frozenset({200})),
    "readyz": Endpoint("/readyz", ("x",), allowed=frozenset({200})),
    "admin_login": Endpoint("/admin/login/", ("next", "username")),
    # Django's admin answers a list filter or page it cannot use with a redirect to ?e=1.
    "admin_companies": Endpoint(
        "/admin/companies/company/",
        ("q", "o", "city", "index_state"),
        ("p",),
        allowed=frozenset({200, 302, 400}),
        who="admin",
    ),
    "admin_users": Endpoint(
        "/admin/auth/user/",
        ("q", "o", "is_staff"),
        ("p",),
        allowed=frozenset({200, 302, 400}),
        who="admin",
    ),
    "admin_change": Endpoint(
        "/admin/companies/company/{pk}/change/", ("_changelist_filters",), who="admin"
    ),
    "admin_import": Endpoint("/admin/companies/company/import/", ("x",), who="admin"),
    "admin_insights": Endpoint("/admin/companies/searchinsight/", ("days",), who="admin"),
    "admin_curations": Endpoint(
        "/admin/companies/curation/",
        ("q", "o"),
        ("p",),
        allowed=frozenset({200, 302, 400}),
        who="admin",
    ),
    # Curations are not public: anonymous reads are 401 (400 if the request is unreadable).
    "api_curations": Endpoint(
        "/api/curations/", ("x",), ("limit", "offset"), allowed=frozenset({400, 401})
    ),
}

# Paths with odd segments: unknown ids and slugs are 404s, never errors.
ODD_PATHS = {
    path.format(segment=segment): allowed
    for path, allowed in {
        "/companies/{segment}/": {400, 404},
        "/api/companies/{segment}/": {400, 404},
        "/api/companies/{segment}/similar/": {400, 404},
        "/admin/companies/company/{segment}/change/": {302, 400, 404},
        "/admin/companies/company/{segment}/delete/": {302, 400, 404},
        "/admin/authtoken/tokenproxy/{segment}/change/": {302, 400, 404},
        "/admin/companies/curation/{segment}/change/": {302, 400, 404},
        "/admin/companies/searchinsight/{segment}/change/": {302, 400, 404},
        "/api/curations/{segment}/": {400, 401, 404},
    }.items()
    for segment in (
        "0",
        "-1",
        "99999999999999999999",
        "1e3",
        "%00",
        "%FF%FE",
        "%ED%A0%80",
        "..%2F..%2Fetc",
        "a" * 3000,
        quote("🚀"),
        "%3Cscript%3E",
    )
}


def _get_cases():
    for name, endpoint in ENDPOINTS.items():
        for param in endpoint.text_params:
            for label, value in ODD_TEXT.items():
                yield f"{name}-{param}-{label}", endpoint, {**endpoint.base, param: value}
            for label, raw in RAW_TEXT.items():
                yield f"{name}-{param}-{label}", endpoint, _raw_query(endpoint.base, param, raw)
        for param in endpoint.number_params:
            for value in ODD_NUMBERS:
                yield (
                    f"{name}-{param}-{value[:12]!r}",
                    endpoint,
                    _raw_query(endpoint.base, param, value if value == "%00" else quote(value)),
                )
        for label, query_string in ODD_QUERY_STRINGS.items():
            yield f"{name}-query-{label}", endpoint, query_string


def _raw_query(base, param, raw_value):
    """A query string with ``raw_value`` inserted as it is (already percent-encoded)."""
    parts = [f"{key}={quote(value)}" for key, value in base.items() if key != param]
    return "&".join(parts + [f"{param}={raw_value}"])


GET_CASES = {case_id: (endpoint, query) for case_id, endpoint, query in _get_cases()}

# Bodies that must not create or change a company, by JSON and by content.
NEW = {"name": "Battery Test Co", "link": "https://battery-test.example"}
# A valid 500-character link whose website key is longer than its column: lower-casing turns
# each "İ" of the host into two characters.
LOWER_CASED_HOST = ".".join(["\u0130" * 40] * 3) + ".com"
LONG_KEY_LINK = f"https://{LOWER_CASED_HOST}/" + "p" * (500 - 9 - len(LOWER_CASED_HOST))
# Text that normalising lengthens: "ß" case-folds to "ss", "\ufdfa" NFKC-expands to 18 characters.
SHARP_S = "ß" * 1000
EXPANDING = "\ufdfa" * 60


def _json(**changes):
    return json.dumps({**NEW, **changes}).encode()


BAD_BODIES = {
    "empty": b"",
    "truncated": b'{"name": "Acme", "link": ',
    "array": b"[]",
    "null": b"null",
    "string": b'"Acme"',
    "number": b"42",
    "trailing_garbage": _json() + b" xyz",
    "single_quotes": b"{'name': 'Acme', 'link': 'https://acme.example'}",
    "nan": b'{"name": NaN, "link": "https://acme.example"}',
    "deep_array": b"[" * 100_000 + b"]" * 100_000,
    "deep_object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "huge_integer": b'{"name": ' + b"9" * 5000 + b', "link": "https://acme.example"}',
    "lone_surrogate_value": b'{"name": "\\ud800", "link": "https://acme.example"}',
    "lone_surrogate_key": b'{"name\\udfff": "Acme", "link": "https://acme.example"}',
    "invalid_utf8": b'{"name": "\xff\xfe", "link": "https://acme.example"}',
    "utf16": json.dumps(NEW).encode("utf-16"),
    "nul_in_name": _json(name="Ac\x00me"),
    "nul_in_link": _json(link="https://acme.example/\x00"),
    "name_list": _json(name=["Acme"]),
    "name_object": _json(name={"$ne": None}),
    "name_null": _json(name=None),
    "name_number": _json(name=12),
    "name_true": _json(name=True),
    "name_blank": _json(name="   "),
    "name_too_long": _json(name="n" * 201),
    "description_too_long": _json(description="d" * 10_001),
    "city_too_long": _json(city="c" * 101),
    "city_key_too_long": _json(city=EXPANDING[:23]),
    "name_key_too_long": _json(name=EXPANDING[:45]),
    "tags_too_long": _json(tags="t" * 501),
    "link_null": _json(link=None),
    "link_javascript": _json(link="javascript:alert(1)"),
    "link_data": _json(link="data:text/html,<script>alert(1)</script>"),
    "link_ftp": _json(link="ftp://acme.example"),
    "link_no_host": _json(link="http://"),
    "link_spaces": _json(link="https://acme .example"),
    "link_unparsable": _json(link="http://[::1"),
    "link_key_too_long": _json(link=LONG_KEY_LINK),
    "image_javascript": _json(image_url="javascript:alert(1)"),
    "slug_path": _json(slug="../../admin"),
    "slug_spaces": _json(slug="a b"),
    "slug_too_long": _json(slug="s" * 221),
    "read_only_fields": _json(id=1, index_status="indexed", indexed_at="2020-01-01T00:00:00Z"),
    "unknown_field": _json(nmae="typo"),
    "duplicate_keys": b'{"name": "Acme", "name": ["B"], "link": "https://acme.example"}',
    "taken_link": _json(link=OTHER_LINK),
    "taken_slug": _json(slug=OTHER_SLUG),
    "too_large": _json(description="d" * 3_000_000),
}
# A valid body, sent as what it is not: each must be refused, never parsed as JSON.
WRONG_CONTENT_TYPES = {
    "text_plain": "text/plain",
    "form": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data; boundary=xyz",
    "xml": "application/xml",
    "none": "",
    "json_patch": "application/json-patch+json",
    "charset_utf16": "application/json; charset=utf-16",
    "charset_rot13": "application/json; charset=rot13",
    "charset_hex": "application/json; charset=hex",
}

WRITE_STATUSES = frozenset({400, 409, 413, 415})
# PATCH with an empty body changes nothing, correctly: 200, and nothing is written.
NO_OP_WRITES = {"patch-empty"}


def _write_cases():
    for label, body in BAD_BODIES.items():
        yield f"post-{label}", "POST", "/api/companies/", body, "application/json"
        yield f"put-{label}", "PUT", "/api/companies/{pk}/", body, "application/json"
        yield f"patch-{label}", "PATCH", "/api/companies/{pk}/", body, "application/json"
    for label, content_type in WRONG_CONTENT_TYPES.items():
        yield f"post-as-{label}", "POST", "/api/companies/", _json(), content_type
        yield f"patch-as-{label}", "PATCH", "/api/companies/{pk}/", _json(name="X"), content_type


WRITE_CASES = {case_id: rest for case_id, *rest in _write_cases()}
# Writes with methods or targets that do not exist.
ODD_WRITES = {
    "delete-unknown": ("DELETE", "/api/companies/99999999999999999/", {404}),
    "delete-huge-id": ("DELETE", "/api/companies/99999999999999999999/", {404}),
    "delete-word": ("DELETE", "/api/companies/abc/", {404}),
    "delete-list": ("DELETE", "/api/companies/", {405}),
    "put-list": ("PUT", "/api/companies/", {405}),
    "post-detail": ("POST", "/api/companies/{pk}/", {405}),
    "post-search": ("POST", "/api/search/", {405}),
    "propfind": ("PROPFIND", "/api/companies/", {405}),
    "trace": ("TRACE", "/api/companies/{pk}/", {405}),
    "post-search-page": ("POST", "/search/", {405}),
    "post-company-page": ("POST", "/companies/{slug}/", {405}),
    "delete-home": ("DELETE", "/", {405}),
}

# If-Match values no write may pass with (the sample company is at version 1): stale, weak,
# malformed, huge. Each is sent with a valid change; every one must be refused, 412.
ODD_IF_MATCH = {
    "empty": "",
    "spaces": "   ",
    "stale": '"2"',
    "weak": 'W/"1"',
    "unquoted": "1",
    "leading_zero": '"01"',
    "unclosed": '"1',
    "no_separator": '"1""1"',
    "star_in_list": '*, "1"',
    "stars": "**",
    "garbage": "not an etag",
    "crlf": '"2"\r\nX-Injected: 1',
    "latin1": '"\xff"',
    "nul": '"1\x00"',
    "sql": '"\' OR 1=1 --"',
    "huge_etag": '"' + "9" * 100_000 + '"',
    "huge_list": ", ".join(['"2"'] * 10_000),
    "huge_separators": '"2"' + " ," * 50_000,
}
IF_MATCH_WRITES = {
    "put": ("PUT", {"name": "X", "link": "https://battery-test.example"}),
    "patch": ("PATCH", {"name": "X"}),
    "delete": ("DELETE", None),
}

# Admin forms (a superuser's session) sent values their fields refuse: redisplayed with errors.
ADMIN_COMPANY_FORM = {
    "name": "Battery Test Co",
    "slug": "battery-test-co",
    "city": "",
    "description": "",
    "tags": "",
    "link": "https://battery-test.example",
    "image_url": "",
}
BAD_ADMIN_FORMS = {
    "name_nul": {"name": "Ac\x00me"},
    "name_blank": {"name": ""},
    "name_too_long": {"name": "n" * 201},
    "link_javascript": {"link": "javascript:alert(1)"},
    "link_nul": {"link": "https://acme.example/\x00"},
    "link_taken": {"link": OTHER_LINK},
    "link_unparsable": {"link": "http://[::1"},
    "link_key_too_long": {"link": LONG_KEY_LINK},
    "slug_path": {"slug": "../../x"},
    "slug_taken": {"slug": OTHER_SLUG},
    "city_too_long": {"city": "c" * 101},
    "city_key_too_long": {"city": EXPANDING[:23]},
    "tags_too_long": {"tags": "t" * 501},
    "image_javascript": {"image_url": "javascript:alert(1)"},
}
BAD_IMPORT_FILES = {
    "binary": bytes(range(256)) * 8,
    "invalid_utf8": b'{"name": "\xff", "link": "https://acme.example"}\n',
    "empty": b"",
    "unclosed_array": b'[{"name": "Acme", "link": "https://acme.example"}',
    "deep_array": b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]",
    "deep_line": b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"\n",
    "lone_surrogate": b'{"name": "\\ud800", "link": "https://acme.example"}\n',
    "nul": b'{"name": "Ac\\u0000me", "link": "https://acme.example"}\n',
    "javascript_link": b'{"name": "Acme", "link": "javascript:alert(1)"}\n',
    "unparsable_link": b'{"name": "Acme", "link": "http://[::1"}\n',
    "link_key_too_long": json.dumps({"name": "Acme", "link": LONG_KEY_LINK}).encode() + b"\n",
    "not_objects": b"[1, 2, 3]",
    "too_large": b'{"name": "Acme", "link": "https://acme.example", "description": "'
    + b"d" * 6_000_000
    + b'"}\n',
}
# Curation bodies the API must refuse (sent by a user with every curation permission).
BAD_CURATION_BODIES = {
    "empty": b"",
    "not_json": b"{query: x}",
    "array": b"[]",
    "null": b"null",
    "query_nul": json.dumps({"query": "park\x00ing"}).encode(),
    "query_blank": json.dumps({"query": " \u200b "}).encode(),
    "query_only_punctuation": json.dumps({"query": "?!…"}).encode(),
    "query_number": json.dumps({"query": 7}).encode(),
    "query_too_long": json.dumps({"query": "q" * 5000}).encode(),
    "query_key_too_long": json.dumps({"query": SHARP_S}).encode(),
    "query_key_expanded": json.dumps({"query": EXPANDING}).encode(),
    "pinned_unknown": json.dumps({"query": "x", "pinned": [99999999]}).encode(),
    "pinned_huge": json.dumps({"query": "x", "pinned": [10**30]}).encode(),
    "pinned_negative": json.dumps({"query": "x", "pinned": [-1]}).encode(),
    "pinned_strings": json.dumps({"query": "x", "pinned": ["1; DROP TABLE x"]}).encode(),
    "pinned_nested": json.dumps({"query": "x", "pinned": [[1]]}).encode(),
    "pinned_object": json.dumps({"query": "x", "pinned": {"1": 1}}).encode(),
    "hidden_float": json.dumps({"query": "x", "hidden": [1.5]}).encode(),
    "too_many_pinned": json.dumps({"query": "x", "pinned": list(range(1, 10_000))}).encode(),
    "unknown_field": json.dumps({"query": "x", "pins": []}).encode(),
    "read_only": json.dumps({"query": "x", "id": 3}).encode(),
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "too_large": json.dumps({"query": "x", "hidden": [1] * 1_000_000}).encode(),
}
# Beacons the click endpoint must refuse: each field of a valid one replaced by odd text.
CLICK = {
    "search": "0b5e7d1c-7f39-4f43-9a55-2f2d8c6f0c11",
    "q": "parking",
    "company": "{pk}",
    "position": "1",
    "target": "page",
}
BAD_CLICKS = {
    f"{field}-{label}": {**CLICK, field: value}
    for field in CLICK
    for label, value in ODD_TEXT.items()
}
FORGED_SELECTIONS = {
    "word": ["abc"],
    "nul": ["1\x00"],
    "huge": ["99999999999999999999999"],
    "negative": ["-1"],
    "float": ["1.5"],
    "empty": [""],
}


def table_checksum():
    """Rows and a hash of every column of every company."""
    columns = [f.attname for f in Company._meta.concrete_fields]
    rows = list(Company.objects.order_by("pk").values_list(*columns))
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def curation_checksum():
    """Curations, their pinned and their hidden companies."""
    rows = (
        list(Curation.objects.order_by("pk").values_list("pk", "query", "query_key")),
        list(CurationPin.objects.order_by("pk").values_list("curation", "company", "position")),
        list(Curation.hidden.through.objects.order_by("pk").values_list("curation", "company")),
    )
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def store_checksum():
    """Points and a hash of their ids and stored text hashes."""
    points = sorted(get_store().point_hashes().items())
    return len(points), hashlib.sha256(repr(points).encode()).hexdigest()


def assert_answered(response, allowed):
    assert response.status_code in allowed, (
        f"{response.status_code} not in {sorted(allowed)}: {response.content[:300]!r}"
    )


class BadInputBattery:
    """The cases, as tests; the module that collects them provides the database."""

    @pytest.fixture(autouse=True)
    def _data_unchanged(self, demo_companies, django_capture_on_commit_callbacks):
        """Every test: the same companies and points afterwards; index work runs at once."""
        before = table_checksum(), store_checksum()
        with django_capture_on_commit_callbacks(execute=True):
            yield
        assert (table_checksum(), store_checksum()) == before, "the data changed"

    @pytest.fixture
    def sample(self):
        return Company.objects.get(name=SAMPLE)

    @pytest.fixture
    def admin(self, admin_client):
        admin_client.raise_request_exception = False
        return admin_client

    def _client(self, who, request):
        if who == "admin":
            return request.getfixturevalue("admin")
        return Client(raise_request_exception=False)

    @pytest.mark.parametrize("case", GET_CASES)
    def test_get(self, case, sample, request):
        endpoint, query = GET_CASES[case]
        path = endpoint.path.format(pk=sample.pk, slug=sample.slug)
        client = self._client(endpoint.who, request)
        if isinstance(query, dict):
            response = client.get(path, query)
        else:
            response = client.get(f"{path}?{query}")
        assert_answered(response, endpoint.allowed)

    @pytest.mark.parametrize("param", ["q", "city"])
    @pytest.mark.parametrize("value", INDEX_DOWN_VALUES)
    def test_search_page_with_the_index_down(self, param, value, settings):
        """The page then answers from the database, by other queries: the same odd input."""
        settings.COMPANY_SEARCH = {**settings.COMPANY_SEARCH, "QDRANT_URL": "http://127.0.0.1:9"}
        base = {"q": "parking"}
        if value in RAW_TEXT:
            response = Client(raise_request_exception=False).get(
                f"/search/?{_raw_query(base, param, RAW_TEXT[value])}"
            )
        else:
            response = Client(raise_request_exception=False).get(
                "/search/", {**base, param: ODD_TEXT[value]}
            )
        assert_answered(response, {200, 400, 404})

    @pytest.mark.parametrize("path", ODD_PATHS)
    def test_odd_path(self, path, admin):
        client = admin if path.startswith("/admin/") else Client(raise_request_exception=False)
        assert_answered(client.get(path), ODD_PATHS[path])

    @pytest.mark.parametrize("case", WRITE_CASES)
    def test_write_anonymously_is_401(self, case, sample):
        method, path, body, content_type = WRITE_CASES[case]
        response = Client(raise_request_exception=False).generic(
            method, path.format(pk=sample.pk), body, content_type=content_type
        )
        assert_answered(response, {401})

    @pytest.mark.parametrize("case", WRITE_CASES)
    def test_write_as_editor(self, case, sample, editor_token):
        method, path, body, content_type = WRITE_CASES[case]
        response = Client(raise_request_exception=False).generic(
            method,
            path.format(pk=sample.pk),
            body,
            content_type=content_type,
            headers={"Authorization": f"Token {editor_token}"},
        )
        assert_answered(response, {200} if case in NO_OP_WRITES else WRITE_STATUSES)

    @pytest.mark.parametrize("case", ODD_WRITES)
    def test_odd_write_as_editor(self, case, sample, editor_token):
        method, path, allowed = ODD_WRITES[case]
        response = Client(raise_request_exception=False).generic(
            method,
            path.format(pk=sample.pk, slug=sample.slug),
            _json(name="X"),
            content_type="application/json",
            headers={"Authorization": f"Token {editor_token}"},
        )
        assert_answered(response, allowed)

    @pytest.mark.parametrize("method", IF_MATCH_WRITES)
    @pytest.mark.parametrize("if_match", ODD_IF_MATCH)
    def test_odd_if_match(self, method, if_match, sample, editor_token):
        http_method, body = IF_MATCH_WRITES[method]
        response = Client(raise_request_exception=False).generic(
            http_method,
            f"/api/companies/{sample.pk}/",
            json.dumps(body) if body else "",
            content_type="application/json",
            headers={"Authorization": f"Token {editor_token}", "If-Match": ODD_IF_MATCH[if_match]},
        )
        assert_answered(response, {412})

    @pytest.mark.parametrize("case", BAD_ADMIN_FORMS)
    def test_admin_add_form(self, case, admin):
        response = admin.post(
            "/admin/companies/company/add/", {**ADMIN_COMPANY_FORM, **BAD_ADMIN_FORMS[case]}
        )
        assert_answered(response, {200})
        assert response.context["adminform"].form.errors

    @pytest.mark.parametrize("case", BAD_ADMIN_FORMS)
    def test_admin_change_form(self, case, admin, sample):
        fields = {
            "name": sample.name,
            "slug": sample.slug,
            "city": sample.city,
            "description": sample.description,
            "tags": sample.tags,
            "link": sample.link,
            "image_url": sample.image_url,
            "searchable": "on",
            "opened_version": sample.version,
        }
        response = admin.post(
            f"/admin/companies/company/{sample.pk}/change/", {**fields, **BAD_ADMIN_FORMS[case]}
        )
        assert_answered(response, {200})
        assert response.context["adminform"].form.errors

    @pytest.mark.parametrize("case", BAD_IMPORT_FILES)
    def test_admin_import(self, case, admin):
        upload = SimpleUploadedFile("companies.jsonl", BAD_IMPORT_FILES[case])
        response = admin.post("/admin/companies/company/import/", {"file": upload})
        # A file that is too large (413), not UTF-8 or empty (400) is refused at once; any other
        # starts a job, which fails on a file unreadable as a whole or rejects every row.
        assert_answered(response, {302, 400, 413})
        if response.status_code == 302:
            job = Job.objects.get()
            # Run here: this test's transaction is not committed, so no worker could see the job.
            run_job(job.pk)
            job.refresh_from_db()
            if job.state == Job.State.DONE:
                assert job.result["rejected"] and job.total == 0
            else:
                assert job.state == Job.State.FAILED and "Nothing was imported." in job.message

    @pytest.mark.parametrize("case", FORGED_SELECTIONS)
    @pytest.mark.parametrize(
        "changelist",
        ["/admin/companies/company/", "/admin/auth/user/", "/admin/authtoken/tokenproxy/"],
    )
    def test_admin_action_with_a_forged_selection(self, case, changelist, admin):
        action = "reindex" if "companies" in changelist else "delete_selected"
        response = admin.post(
            changelist, {"action": action, "index": 0, "_selected_action": FORGED_SELECTIONS[case]}
        )
        assert_answered(response, {200, 302})

    @pytest.mark.parametrize("case", BAD_CURATION_BODIES)
    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
    def test_curation_write(self, case, method, admin_user):
        from rest_framework.authtoken.models import Token

        curation = Curation.objects.create(query="battery")
        before = curation_checksum()
        path = "/api/curations/" + ("" if method == "POST" else f"{curation.pk}/")
        response = Client(raise_request_exception=False).generic(
            method,
            path,
            BAD_CURATION_BODIES[case],
            content_type="application/json",
            headers={"Authorization": f"Token {Token.objects.create(user=admin_user).key}"},
        )
        # PATCH with an empty body changes nothing, correctly (as for companies).
        no_op = method == "PATCH" and case == "empty"
        assert_answered(response, {200, 400} if no_op else {400, 413})
        assert curation_checksum() == before

    @pytest.mark.parametrize("case", BAD_CLICKS)
    def test_click(self, case, sample, settings):
        """A refused beacon (or one throttled) logs nothing; an odd but valid one only logs."""
        settings.SEARCH_LOG_ENABLED = False
        body = {
            key: value.replace("{pk}", str(sample.pk)) for key, value in BAD_CLICKS[case].items()
        }
        response = Client(raise_request_exception=False).post("/search/click/", body)
        assert_answered(response, {204, 400, 413, 429})

    @pytest.mark.parametrize("case", ["unknown_user", "nul", "long", "sql"])
    def test_admin_login(self, case):
        credentials = {
            "unknown_user": ("nobody", "secret"),
            "nul": ("ad\x00min", "x\x00"),
            "long": ("u" * 5000, "p" * 100_000),
            "sql": ("' OR 1=1 --", "' OR '1'='1"),
        }[case]
        response = Client(raise_request_exception=False).post(
            "/admin/login/", {"username": credentials[0], "password": credentials[1]}
        )
        assert_answered(response, {200})
        assert "_auth_user_id" not in response.wsgi_request.session
