"""Importing companies from a startups data file (JSON lines, or a JSON array of objects).

Rows carry ``name``, ``images``, ``alt``, ``description``, ``link`` and ``city``. A company is
identified by its website (``models.website_key``), so re-importing a file updates and never
duplicates. Bad rows are reported with their line number and skipped; all good rows are written
in one transaction, so a failure part-way leaves the database as it was.
"""

import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from .models import Company, free_slug, website_key

# Data set field -> model field.
FIELD_MAP = {
    "name": "name",
    "description": "description",
    "city": "city",
    "images": "image_url",
    "link": "link",
    "alt": "tags",
}
REQUIRED = ("name", "link")
MAX_DESCRIPTION = 10_000
UPDATABLE_FIELDS = ["name", "description", "city", "image_url", "link", "tags"]
# What Company.normalize() derives from them.
DERIVED_FIELDS = ["name_text", "city_key", "website_key"]
_url_validator = URLValidator(schemes=["http", "https"])
# Nesting past Python's recursion limit: no startups record looks like that.
TOO_DEEP = "nested too deeply"


class ImportFileError(ValueError):
    """The file as a whole cannot be read; nothing was imported."""


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str

    def __str__(self):
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list = field(default_factory=list)
    company_ids: list = field(default_factory=list)

    @property
    def summary(self):
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.rejected)} rejected"
        )


def decode(data):
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"The file is not UTF-8 text (byte {exc.start}).") from None


def parse_rows(text):
    """``(line, value)`` for each record; ``value`` is a RejectedRow where it is not valid JSON."""
    stripped = text.lstrip()
    if not stripped:
        raise ImportFileError("The file is empty.")
    if stripped.startswith("["):
        return list(_parse_array(text))
    return list(_parse_lines(text))


def _parse_lines(text):
    decoder = json.JSONDecoder()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value, end = decoder.raw_decode(line.strip())
            if line.strip()[end:].strip():
                raise ValueError("extra data after the record")
        except ValueError as exc:
            yield number, RejectedRow(number, f"not valid JSON ({_json_reason(exc)})")
            continue
        except RecursionError:
            yield number, RejectedRow(number, f"not valid JSON ({TOO_DEEP})")
            continue
        yield number, value


def _parse_array(text):
    """Elements of a top-level JSON array with the line each starts on; malformed = file error."""
    decoder = json.JSONDecoder()
    position = text.index("[") + 1
    expect_value = True
    while True:
        position = _skip_space(text, position)
        if position >= len(text):
            raise ImportFileError("The JSON array is not closed with ].")
        char = text[position]
        if char == "]":
            if _skip_space(text, position + 1) < len(text):
                raise ImportFileError(
                    f"Unexpected data after the array (line {_line(text, position + 1)})."
                )
            return
        if char == "," and expect_value is False:
            position, expect_value = position + 1, True
            continue
        if not expect_value:
            raise ImportFileError(f"Expected , or ] on line {_line(text, position)}.")
        try:
            value, position_after = decoder.raw_decode(text, position)
        except ValueError as exc:
            raise ImportFileError(
                f"The file is not valid JSON: {_json_reason(exc)} (line {_line(text, position)})."
            ) from None
        except RecursionError:
            raise ImportFileError(
                f"The file is not valid JSON: {TOO_DEEP} (line {_line(text, position)})."
            ) from None
        yield _line(text, position), value
        position, expect_value = position_after, False


def _skip_space(text, position):
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line(text, position):
    return text.count("\n", 0, position) + 1


def _json_reason(exc):
    return getattr(exc, "msg", None) or str(exc)


def clean_row(line, record):
    """The model field values of a data-set record, or a RejectedRow saying what is wrong."""
    if not isinstance(record, dict):
        return RejectedRow(line, "a record must be a JSON object")
    values = {}
    for source, target in FIELD_MAP.items():
        value = record.get(source)
        if isinstance(value, list) and source == "images":
            value = value[0] if value else None
        if value is None:
            value = ""
        if not isinstance(value, str):
            return RejectedRow(line, f"{source} must be text, not {type(value).__name__}")
        value = value.strip()
        if "\x00" in value:
            return RejectedRow(line, f"{source} contains a NUL character")
        if not _encodable(value):
            # An escaped lone surrogate ("\ud800"): valid JSON, but no database can store it.
            return RejectedRow(line, f"{source} contains a lone surrogate, which is not text")
        max_length = Company._meta.get_field(target).max_length or MAX_DESCRIPTION
        if len(value) > max_length:
            return RejectedRow(line, f"{source} is longer than {max_length} characters")
        values[target] = value
    for source in REQUIRED:
        if not values[FIELD_MAP[source]]:
            return RejectedRow(line, f"{source} is missing")
    # A remark after the address ("http://acme.com (since closed)") is dropped.
    values["link"] = values["link"].split()[0] if values["link"] else ""
    for source in ("link", "images"):
        url = values[FIELD_MAP[source]]
        if url:
            try:
                _url_validator(url)
            except ValidationError:
                return RejectedRow(line, f"{source} is not a valid http(s) URL: {url[:100]!r}")
    values["name"] = " ".join(values["name"].split())
    values["city"] = " ".join(values["city"].split())
    values["tags"] = tags_from_alt(values["tags"], values["name"])
    return values


def _encodable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def tags_from_alt(alt, name):
    """The markets in a logo's alt text: ``"Acme - fintech payments"`` has ``fintech payments``."""
    text = " ".join(alt.split())
    if text.casefold().startswith(name.casefold()):
        text = text[len(name) :]
    text = text.strip(" -–|:")
    if text.casefold().startswith("logo"):
        text = text[4:].strip(" -–|:")
    return text


def import_companies(data, *, progress=None):
    """Validate every row, then create or update the good ones in one transaction.

    ``progress`` (optional) is called with the number of rows handled so far. Signals are not
    sent (bulk writes): the caller indexes ``result.company_ids``.
    """
    text = decode(data)
    rows = parse_rows(text)
    result = ImportResult()
    cleaned = {}  # website key -> (line, values); a later duplicate is rejected
    for line, record in rows:
        values = record if isinstance(record, RejectedRow) else clean_row(line, record)
        if isinstance(values, RejectedRow):
            result.rejected.append(values)
            continue
        key = website_key(values["link"])
        if key in cleaned:
            result.rejected.append(
                RejectedRow(line, f"same website as line {cleaned[key][0]} ({values['link']})")
            )
            continue
        cleaned[key] = (line, values)

    with transaction.atomic():
        existing = _existing_by_key(list(cleaned))
        to_create, to_update = [], []
        taken_slugs = set(Company.objects.values_list("slug", flat=True))
        now = timezone.now()
        for handled, (key, (_line, values)) in enumerate(cleaned.items(), start=1):
            company = existing.get(key)
            if company is None:
                slug = free_slug(values["name"], taken_slugs)
                taken_slugs.add(slug)
                to_create.append(Company(**values, slug=slug, website_key=key))
            elif any(getattr(company, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(company, name, value)
                company.updated_at = now
                to_update.append(company)
            else:
                result.unchanged += 1
            result.company_ids.append(company.pk if company else None)
            if progress and handled % 500 == 0:
                progress(handled)
        for company in to_create + to_update:
            company.normalize()  # the stored keys (bulk writes skip save())
        created = Company.objects.bulk_create(to_create, batch_size=500)
        Company.objects.bulk_update(
            to_update, UPDATABLE_FIELDS + DERIVED_FIELDS + ["updated_at"], batch_size=500
        )
        if progress:
            progress(len(cleaned))
    result.created, result.updated = len(created), len(to_update)
    result.company_ids = [pk for pk in result.company_ids if pk] + [c.pk for c in created]
    result.rejected.sort(key=lambda row: row.line)
    return result


def _existing_by_key(keys, chunk=500):
    found = {}
    for start in range(0, len(keys), chunk):
        for company in Company.objects.filter(website_key__in=keys[start : start + chunk]):
            found[company.website_key] = company
    return found
