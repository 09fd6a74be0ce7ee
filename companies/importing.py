"""Importing companies from a startups data file (JSON lines, or a JSON array of objects).

Rows carry ``name``, ``images``, ``alt``, ``description``, ``link`` and ``city``, and optionally
``searchable`` (true or false). A company is identified by its website (``models.website_key``),
so re-importing a file updates and never duplicates. Each row is checked by the model's own field
rules (``Company.clean_fields``), so a row the admin or the API would refuse is refused here too.
Bad rows are reported with their line number and skipped; all good rows are written in one
transaction, so a failure part-way leaves the database as it was.
"""

import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import DERIVED_FIELDS, Company, free_slug

# Data set field -> model field.
FIELD_MAP = {
    "name": "name",
    "description": "description",
    "city": "city",
    "images": "image_url",
    "link": "link",
    "alt": "tags",
}
SOURCE_OF = {target: source for source, target in FIELD_MAP.items()}
REQUIRED = ("name", "link")
# Optional boolean column: absent leaves a record's visibility as it is (new records: visible).
SEARCHABLE = "searchable"
# Written by an import; the keys are derived from them (Company.normalize).
UPDATABLE_FIELDS = [*FIELD_MAP.values(), SEARCHABLE, *DERIVED_FIELDS]
# Model fields an import never sets: not validated per row.
NOT_IMPORTED = [
    f.name for f in Company._meta.fields if f.name not in FIELD_MAP.values() and f.name != "name"
]
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
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, parse_line(number, line)


def parse_line(number, line):
    """The record on one line of a JSON lines file, or a RejectedRow saying why it is none."""
    try:
        value, end = _decoder.raw_decode(line.strip())
        if line.strip()[end:].strip():
            raise ValueError("extra data after the record")
    except ValueError as exc:
        return RejectedRow(number, f"not valid JSON ({_json_reason(exc)})")
    except RecursionError:
        return RejectedRow(number, f"not valid JSON ({TOO_DEEP})")
    return value


_decoder = json.JSONDecoder()


class LineCounter:
    """Line numbers of increasing positions in ``text``, counting each character once.

    Counting from the start for every element made a big array quadratic; positions only move
    forward, so each call counts the newlines since the previous one.
    """

    def __init__(self, text):
        self.text = text
        self.position = 0
        self.line = 1

    def __call__(self, position):
        if position < self.position:  # never happens while parsing; stays correct if it does
            self.position, self.line = 0, 1
        self.line += self.text.count("\n", self.position, position)
        self.position = position
        return self.line


def _parse_array(text):
    """Elements of a top-level JSON array with the line each starts on; malformed = file error."""
    decoder = json.JSONDecoder()
    line_of = LineCounter(text)
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
                    f"Unexpected data after the array (line {line_of(position + 1)})."
                )
            return
        if char == "," and expect_value is False:
            position, expect_value = position + 1, True
            continue
        if not expect_value:
            raise ImportFileError(f"Expected , or ] on line {line_of(position)}.")
        try:
            value, position_after = decoder.raw_decode(text, position)
        except ValueError as exc:
            raise ImportFileError(
                f"The file is not valid JSON: {_json_reason(exc)} (line {line_of(position)})."
            ) from None
        except RecursionError:
            raise ImportFileError(
                f"The file is not valid JSON: {TOO_DEEP} (line {line_of(position)})."
            ) from None
        yield line_of(position), value
        position, expect_value = position_after, False


def _skip_space(text, position):
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _json_reason(exc):
    return getattr(exc, "msg", None) or str(exc)


def clean_row(line, record):
    """The model field values of a data-set record, or a RejectedRow saying what is wrong.

    The data set's shape (text fields, a list of images, the logo's alt text) is read here; what
    a value may be is the model's rule, checked by ``Company.clean_fields``.
    """
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
        values[target] = value
    for source in REQUIRED:
        if not values[FIELD_MAP[source]]:
            return RejectedRow(line, f"{source} is missing")
    if SEARCHABLE in record:
        if not isinstance(record[SEARCHABLE], bool):
            return RejectedRow(
                line, f"{SEARCHABLE} must be true or false, not {json.dumps(record[SEARCHABLE])}"
            )
        values[SEARCHABLE] = record[SEARCHABLE]
    # A remark after the address ("http://acme.com (since closed)") is dropped.
    values["link"] = values["link"].split()[0]
    company = Company(**values)
    company.normalize()
    company.tags = tags_from_alt(company.tags, company.name)
    try:
        company.clean_fields(exclude=NOT_IMPORTED)
    except ValidationError as exc:
        return RejectedRow(line, _field_errors(exc, company))
    return {name: getattr(company, name) for name in (*values, *DERIVED_FIELDS)}


def _field_errors(exc, company):
    """``link: Enter a valid URL. ('ftp://acme.example')``: each refused field, source-named."""
    reasons = []
    for target, messages in exc.message_dict.items():
        source = SOURCE_OF.get(target, target)
        shown = f" ({getattr(company, target)[:100]!r})" if target in ("link", "image_url") else ""
        reasons.append(f"{source}: {' '.join(dict.fromkeys(messages))}{shown}")
    return "; ".join(reasons)


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
    """Validate every row, then create or update the good ones, all in one transaction (the
    admin's import: a failure part-way leaves the database as it was).

    ``progress`` (optional) is called with the number of rows handled so far. Signals are not
    sent (bulk writes): the caller indexes ``result.company_ids``.
    """
    rows = parse_rows(decode(data))
    writer = RowWriter()
    with transaction.atomic():
        for start in range(0, len(rows), CHUNK_ROWS):
            writer.write(rows[start : start + CHUNK_ROWS])
            if progress:
                progress(min(start + CHUNK_ROWS, len(rows)))
    result = writer.result
    result.rejected.sort(key=lambda row: row.line)
    return result


# Rows checked and written per statement batch (and per transaction in a streaming import).
CHUNK_ROWS = 500
# Times a chunk is written before a slug or website taken meanwhile by another writer fails it.
WRITE_ATTEMPTS = 3


class RowWriter:
    """Creates or updates rows a chunk at a time, with the rules of a whole file: a company is
    matched by its website, a later row with a website seen before is rejected (``seen``
    carries the websites of the chunks written before, e.g. by an interrupted run), and new
    slugs are unique. ``write`` returns the chunk's company ids; ``result`` adds up."""

    def __init__(self, seen=None):
        self.seen = seen if seen is not None else {}  # website key -> line
        self.result = ImportResult()
        self.written = {}  # the last chunk's websites -> lines
        self._taken_slugs = None

    def write(self, rows):
        """Check ``rows`` (``(line, record)``) and write the good ones in one transaction."""
        result = self.result
        cleaned = {}  # website key -> (line, values)
        for line, record in rows:
            values = record if isinstance(record, RejectedRow) else clean_row(line, record)
            if isinstance(values, RejectedRow):
                result.rejected.append(values)
                continue
            key = values["website_key"]
            if key in self.seen or key in cleaned:
                first = self.seen.get(key) or cleaned[key][0]
                result.rejected.append(
                    RejectedRow(line, f"same website as line {first} ({values['link']})")
                )
                continue
            cleaned[key] = (line, values)
        self.written = {}
        if not cleaned:
            return []
        for attempt in range(WRITE_ATTEMPTS):
            try:
                created, updated, unchanged = self._write_cleaned(cleaned)
                break
            except IntegrityError:
                # Another writer took a slug or a website since they were read (the slugs are
                # read once per import): read them again, and write the chunk again.
                self._taken_slugs = None
                if attempt + 1 == WRITE_ATTEMPTS:
                    raise
        result.created += len(created)
        result.updated += len(updated)
        result.unchanged += len(unchanged)
        # Unchanged companies too: the indexer brings their points up to date if they are not.
        ids = [company.pk for company in (*updated, *unchanged, *created)]
        result.company_ids += ids
        self.written = {key: line for key, (line, _values) in cleaned.items()}
        self.seen.update(self.written)
        return ids

    def _write_cleaned(self, cleaned):
        """``(companies created, updated, unchanged)``, written in one transaction."""
        with transaction.atomic():
            existing = _existing_by_key(list(cleaned))
            if self._taken_slugs is None:
                self._taken_slugs = set(Company.objects.values_list("slug", flat=True))
            to_create, to_update, unchanged = [], [], []
            now = timezone.now()
            for key, (_line, values) in cleaned.items():
                company = existing.get(key)
                if company is None:
                    slug = free_slug(values["name"], self._taken_slugs)
                    self._taken_slugs.add(slug)
                    to_create.append(Company(**values, slug=slug))
                elif any(getattr(company, name) != value for name, value in values.items()):
                    for name, value in values.items():
                        setattr(company, name, value)
                    company.updated_at = now
                    company.version = F("version") + 1  # as every save counts a change
                    to_update.append(company)
                else:
                    unchanged.append(company)
            created = Company.objects.bulk_create(to_create, batch_size=CHUNK_ROWS)
            Company.objects.bulk_update(
                to_update, [*UPDATABLE_FIELDS, "version", "updated_at"], batch_size=CHUNK_ROWS
            )
        return created, to_update, unchanged


def _existing_by_key(keys, chunk=500):
    """The companies with these website keys, locked until the chunk is written (an edit
    committed between this read and the write would be undone), in id order within each query
    as the indexer locks. The admin's import holds them until the whole file is written, so a
    re-index of the same companies meanwhile can still deadlock with it on PostgreSQL, which
    then refuses one of the two (docs/indexing.md)."""
    found = {}
    for start in range(0, len(keys), chunk):
        companies = Company.objects.select_for_update().filter(
            website_key__in=keys[start : start + chunk]
        )
        for company in companies.order_by("pk"):
            found[company.website_key] = company
    return found
