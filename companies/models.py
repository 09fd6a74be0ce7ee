"""A company record, and every rule about what a record may hold.

The admin, the API and the importer all validate through this model (``full_clean``), so a
rule written here holds everywhere. Keys that text is compared by (``city_key``, names typed in
a search, the website) are computed here, once, in one normalisation (``text_key``).
"""

import re
import unicodedata
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, URLValidator
from django.db import models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils.deconstruct import deconstructible
from django.utils.text import slugify

MAX_DESCRIPTION = 10_000
# Unicode letters that render as nothing (Hangul fillers, the blank Braille pattern, …): their
# general category says "letter", so the category test alone would take them as visible.
BLANK_LETTERS = frozenset("\u115f\u1160\u17b4\u17b5\u180e\u2800\u3164\uffa0\u034f")
http_url = URLValidator(schemes=["http", "https"])


def text_key(text):
    """The form in which text is compared: NFKC, case-folded, whitespace collapsed.

    "Évora", "E\\u0301vora" (decomposed), "ÉVORA" and full-width "Ｅｖｏｒａ" share one key. Used
    for every stored key and for every query compared with one, on every database.
    """
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(unicodedata.normalize("NFKC", folded).split())


# What a name key leaves out: the regular expression's \W is exactly ``not str.isalnum()``.
NOT_ALNUM = re.compile(r"[\W_]+")


def name_key(name):
    """A name as people type it: "Trunk Club", "trunkclub" and "Trunk-Club" are the same."""
    return NOT_ALNUM.sub("", text_key(name))


def one_line(text):
    """Text with its whitespace runs collapsed to single spaces, trimmed."""
    return " ".join((text or "").split())


def is_visible(ch):
    """Whether a character shows as something: not a control, format, separator or lone mark."""
    return ch not in BLANK_LETTERS and unicodedata.category(ch)[0] not in "CZM"


def has_visible(text):
    """Whether ``text`` shows anything: a name, or a search, needs at least one such character."""
    return any(is_visible(ch) for ch in text)


def validate_visible(value):
    if not has_visible(value):
        raise ValidationError("Enter a name with at least one visible character.", code="invisible")


def website_key(link):
    """The natural key of a company: its website without scheme, ``www.`` or trailing slash.

    ``http://www.acme.com/`` and ``https://acme.com`` are the same company, so a re-import of a
    file whose links changed scheme updates instead of duplicating. Text that is no URL at all
    ("http://[::1") has no key; the link's validators refuse it.
    """
    if not link:
        return None
    try:
        parts = urlsplit(link.strip())
        host = (parts.hostname or "").lower().removeprefix("www.")
    except ValueError:
        return None
    path = parts.path.rstrip("/")
    return f"{host}{path}" or None


@deconstructible
class KeyFits:
    """Text whose ``key`` fits ``limit`` characters, the column the key is stored in. A key can
    be longer than its text: NFKC lengthens some (one "\ufdfa" is 18 characters), lower-casing
    others ("İ" is two), and a key cut short matches nothing that compares whole keys (a city
    filter, its facet), while a website's key must stay whole to stay unique."""

    def __init__(self, limit, key=text_key):
        self.limit = limit
        self.key = key

    def __call__(self, value):
        if len(self.key(value) or "") > self.limit:
            raise ValidationError(
                f"Enter shorter text: normalised, it is longer than {self.limit} characters.",
                code="max_length",
            )

    def __eq__(self, other):
        return isinstance(other, KeyFits) and (other.limit, other.key) == (self.limit, self.key)


# The columns of the keys derived from the name, the city and the link.
NAME_KEY_LENGTH = 800
CITY_KEY_LENGTH = 400
WEBSITE_KEY_LENGTH = 500

# The largest id a company (or any row) can have: a BigAutoField on every database.
MAX_ID = 2**63 - 1


class IndexStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"


class StaleVersion(Exception):
    """The company changed since the version the writer read (optimistic concurrency)."""


class CompanyGone(Exception):
    """The company was deleted before this write reached it: an update never re-creates it."""


class CompanyQuerySet(models.QuerySet):
    def searchable(self):
        """What the public sees: the pages, the API's lists and the search index."""
        return self.filter(searchable=True)


# Derived from the content by Company.normalize(), each from one field: written wherever that
# field is, and only then (a partial save of another field must not write back keys derived
# from a copy read before a concurrent change of their source).
DERIVED_FROM = {"name_text": "name", "city_key": "city", "website_key": "link"}
DERIVED_FIELDS = tuple(DERIVED_FROM)
# Written by the indexer only: a save of the record's content never writes them back.
INDEX_FIELDS = ("index_status", "indexed_at", "indexed_hash", "index_error")


class Company(models.Model):
    name = models.CharField(max_length=200, validators=[validate_visible, KeyFits(NAME_KEY_LENGTH)])
    name_text = models.CharField(
        max_length=NAME_KEY_LENGTH,
        blank=True,
        db_index=True,
        editable=False,
        help_text="The name as suggestions match it (text_key): case, accents' encoding and "
        "width do not matter.",
    )
    slug = models.SlugField(max_length=220, unique=True, help_text="Used in the company's URL.")
    description = models.TextField(
        blank=True, max_length=MAX_DESCRIPTION, validators=[MaxLengthValidator(MAX_DESCRIPTION)]
    )
    city = models.CharField(max_length=100, blank=True, validators=[KeyFits(CITY_KEY_LENGTH)])
    city_key = models.CharField(
        max_length=CITY_KEY_LENGTH,
        blank=True,
        db_index=True,
        editable=False,
        help_text="The city as filtered and counted (text_key): case, accents' encoding and "
        "width do not matter.",
    )
    image_url = models.URLField("logo URL", max_length=500, blank=True, validators=[http_url])
    link = models.URLField(
        "website",
        max_length=500,
        blank=True,
        validators=[http_url, KeyFits(WEBSITE_KEY_LENGTH, key=website_key)],
    )
    tags = models.CharField(
        max_length=500, blank=True, help_text="Markets and keywords, separated by spaces."
    )
    searchable = models.BooleanField(
        default=True,
        help_text="Untick to keep the record but take it out of search and every public page.",
    )
    website_key = models.CharField(
        max_length=WEBSITE_KEY_LENGTH,
        unique=True,
        null=True,
        editable=False,
        help_text="Website without scheme or www.: identifies the company on re-import.",
    )
    version = models.PositiveBigIntegerField(
        default=1, editable=False, help_text="Goes up by one with every change of the record."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # What the search index holds for this record. Written by the indexer only.
    index_status = models.CharField(
        max_length=10,
        choices=IndexStatus.choices,
        default=IndexStatus.PENDING,
        editable=False,
        db_index=True,
    )
    indexed_at = models.DateTimeField(null=True, blank=True, editable=False)
    indexed_hash = models.CharField(max_length=64, blank=True, editable=False)
    index_error = models.TextField(blank=True, editable=False)

    objects = CompanyQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "companies"

    def __str__(self):
        return self.name

    def save(self, *args, expected_version=None, **kwargs):
        """Save the record; an existing one by an UPDATE of its content fields only.

        - An update never inserts: a company deleted meanwhile stays deleted (``CompanyGone``).
        - ``version`` goes up by one in the database itself, so concurrent writers each count.
        - ``update_fields`` writes only those fields and the keys derived from them (a partial
          update leaves the others as another writer may just have set them), and the slug
          only if it is among them or was empty; by default every content field, never the
          indexer's fields.
        - With ``expected_version``, the update happens only if the stored record still has that
          version; otherwise ``StaleVersion``.
        """
        self.normalize()
        new_slug = not self.slug
        if new_slug:
            self.slug = unique_slug(self.name, exclude_pk=self.pk)
        updating = not self._state.adding and not kwargs.get("force_insert")
        if updating:
            fields = kwargs.get("update_fields")
            if fields is None:
                deferred = self.get_deferred_fields()
                fields = [
                    f.name
                    for f in self._meta.concrete_fields
                    if not f.primary_key
                    and f.name not in INDEX_FIELDS
                    and f.attname not in deferred
                ]
            fields = {*fields, *(["slug"] if new_slug else [])}
            derived = [key for key, source in DERIVED_FROM.items() if source in fields]
            kwargs["update_fields"] = {*fields, *derived, "version", "updated_at"}
            self.version = F("version") + 1
        self._expected_version = expected_version
        # One transaction: the version read back is the one this save wrote, and the index work
        # queued on commit runs after it (in autocommit it would run inside post_save).
        try:
            with transaction.atomic(using=kwargs.get("using")):
                super().save(*args, **kwargs)
                if updating:
                    self.refresh_from_db(fields=["version"])
        finally:
            self._expected_version = None

    def get_absolute_url(self):
        return reverse("companies:detail", kwargs={"slug": self.slug})

    def clean(self):
        super().clean()
        self.normalize()
        key = website_key(self.link)
        if key and Company.objects.filter(website_key=key).exclude(pk=self.pk).exists():
            raise ValidationError({"link": "Another company already has this website."})
        if not self.slug and self.name:
            self.slug = unique_slug(self.name, exclude_pk=self.pk)

    def normalize(self):
        """Trim and collapse the one-line fields, and derive the keys from them."""
        self.name = one_line(self.name)
        self.city = one_line(self.city)
        # Cut only for a save that skipped validation (``KeyFits`` refuses longer ones).
        self.name_text = text_key(self.name)[:NAME_KEY_LENGTH]
        self.city_key = text_key(self.city)[:CITY_KEY_LENGTH]
        self.website_key = website_key(self.link)

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        expected = getattr(self, "_expected_version", None)
        if expected is not None:
            base_qs = base_qs.filter(version=expected)
        if super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update):
            return True
        if self._state.adding:
            return False  # a new instance with a given pk: Django inserts it next
        if type(self)._base_manager.using(using).filter(pk=pk_val).exists():
            raise StaleVersion(f"Company {pk_val} changed since version {expected}.")
        raise CompanyGone(f"Company {pk_val} was deleted.")


def unique_slug(name, exclude_pk=None):
    """A slug for ``name`` that no other company has."""
    base = slugify(name)[:200] or "company"
    taken = Company.objects.filter(slug__startswith=base).exclude(pk=exclude_pk)
    return free_slug(name, set(taken.values_list("slug", flat=True)))


def free_slug(name, taken):
    """The slug of ``name``, suffixed -2, -3… until it is not in ``taken``."""
    base = slugify(name)[:200] or "company"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


class Job(models.Model):
    """Long admin work (an import, a re-index), run outside the request that asked for it.

    The row is the work's progress: the request only writes it, a worker thread (embedded) or a
    Celery worker runs it and counts on it, and the progress page reads it, so the progress
    survives process boundaries and restarts. An import's file waits in ``payload`` until the job
    has read it.
    """

    class Kind(models.TextChoices):
        IMPORT = "import", "Import"
        REINDEX = "reindex", "Re-index"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    title = models.CharField(max_length=300, help_text="The file name, or what was selected.")
    stage = models.CharField(max_length=200, blank=True, help_text="What the job is doing now.")
    total = models.PositiveIntegerField(default=0, help_text="Companies to index.")
    processed = models.PositiveIntegerField(default=0, help_text="Companies indexed so far.")
    message = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    payload = models.BinaryField(blank=True, editable=False)
    company_ids = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.title} ({self.get_state_display().lower()})"

    @property
    def finished(self):
        return self.state in (self.State.DONE, self.State.FAILED)


# Search insights: what people search for, and how editors correct it ---------------------------


def query_key(text):
    """A search as the log, curations, synonyms and insights compare it: ``text_key`` with
    punctuation and symbols taken as spaces, so "Parking-App!", "parking app" and " PARKING  app"
    are one query."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text_key(text)).split())


MAX_QUERY_KEY = 1000


class SearchSurface(models.TextChoices):
    PAGE = "page", "Pages"
    API = "api", "API"


class SearchLog(models.Model):
    """One search answered by the pages or the API. Nothing about who searched is kept."""

    search_id = models.UUIDField(db_index=True, help_text="Ties the clicks to this search.")
    query = models.CharField(max_length=MAX_QUERY_KEY, db_index=True, help_text="query_key form.")
    mode = models.CharField(max_length=10)
    cities = models.JSONField(default=list, blank=True, help_text="City keys asked for.")
    understood_cities = models.JSONField(
        default=list, blank=True, help_text="City keys understood from the query itself."
    )
    offset = models.PositiveIntegerField(default=0)
    count = models.PositiveIntegerField()
    result_ids = models.JSONField(default=list, blank=True, help_text="The first results' ids.")
    latency_ms = models.FloatField()
    surface = models.CharField(max_length=4, choices=SearchSurface.choices)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.query} ({self.mode}, {self.count})"


class ClickTarget(models.TextChoices):
    PAGE = "page", "Company page"
    WEBSITE = "website", "Website"


class SearchClick(models.Model):
    """A result opened from a results page: which one, at which position (1 = first)."""

    search_id = models.UUIDField(db_index=True)
    query = models.CharField(max_length=MAX_QUERY_KEY, db_index=True)
    company_id = models.PositiveBigIntegerField(help_text="Kept when the company is deleted.")
    position = models.PositiveIntegerField()
    target = models.CharField(max_length=7, choices=ClickTarget.choices)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.query}: #{self.position} ({self.target})"


class SearchInsight(SearchLog):
    """The admin's "Search insights" page (a report over the search log, not a list of rows)."""

    class Meta:
        proxy = True
        verbose_name = "search insight"
        verbose_name_plural = "search insights"


def validate_query(value):
    key = query_key(value)
    if not key:
        raise ValidationError("Enter a query with at least one letter or digit.", code="blank")
    if len(key) > MAX_QUERY_KEY:  # normalising can lengthen text ("ß" is "ss")
        raise ValidationError(
            f"Enter a shorter query: normalised, it is longer than {MAX_QUERY_KEY} characters.",
            code="max_length",
        )


class Curation(models.Model):
    """Editors' correction of one query's results: companies pinned on top, companies hidden.

    Matched by ``query_key``, so case, spacing and punctuation of a search do not matter.
    """

    query = models.CharField(max_length=MAX_QUERY_KEY, validators=[validate_query])
    query_key = models.CharField(max_length=MAX_QUERY_KEY, unique=True, editable=False)
    hidden = models.ManyToManyField(
        Company,
        blank=True,
        related_name="hidden_by_curations",
        help_text="Left out of this query's results, in every mode "
        "(company ids, separated by commas).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["query_key"]

    def __str__(self):
        return self.query

    def save(self, *args, **kwargs):
        self.normalize()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "query_key", "updated_at"}
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        self.normalize()
        if Curation.objects.filter(query_key=self.query_key).exclude(pk=self.pk).exists():
            raise ValidationError({"query": "This query already has a curation."})

    def normalize(self):
        self.query = one_line(self.query)
        self.query_key = query_key(self.query)


class CurationPin(models.Model):
    """A company shown first for a curation's query; lower ``position`` first."""

    curation = models.ForeignKey(Curation, on_delete=models.CASCADE, related_name="pins")
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="pins")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["curation", "company"], name="one_pin_per_company")
        ]
        verbose_name = "pinned company"
        verbose_name_plural = "pinned companies"

    def __str__(self):
        return f"{self.company} first for {self.curation}"


def synonym_terms(text):
    """The distinct ``query_key``s of a comma-separated synonym group, in the order given."""
    terms = []
    for term in (query_key(part) for part in (text or "").split(",")):
        if term and term not in terms:
            terms.append(term)
    return terms


MAX_SYNONYM_TERMS = 500


def validate_synonyms(value):
    terms = synonym_terms(value)
    if len(terms) < 2:
        raise ValidationError(
            "Enter at least two different terms, separated by commas.", code="too_few"
        )
    if len(", ".join(terms)) > MAX_SYNONYM_TERMS:  # as stored: normalising can lengthen them
        raise ValidationError(
            f"Enter shorter terms: normalised, they are longer than {MAX_SYNONYM_TERMS} "
            "characters.",
            code="max_length",
        )


class SynonymGroup(models.Model):
    """Terms that mean the same to keyword search ("ev, electric vehicle"): a query containing
    one also looks for the others, in keyword and hybrid mode, with no re-index."""

    terms = models.CharField(
        max_length=MAX_SYNONYM_TERMS,
        validators=[validate_synonyms],
        help_text='Separated by commas, e.g. "ev, electric vehicle".',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["terms"]

    def __str__(self):
        return self.terms

    def save(self, *args, **kwargs):
        self.terms = ", ".join(synonym_terms(self.terms))
        super().save(*args, **kwargs)


class MapPoint(models.Model):
    """Where a company sits on the map of every company (``search/landscape.py``).

    One row per company (its primary key is the company's), so a position can be neither lost
    to nor doubled by concurrent writers; a deleted company's row goes with it. ``hash`` is the
    indexed text the position was computed from, so a layout computed from older vectors never
    overwrites a newer placement.
    """

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, primary_key=True, related_name="map_point"
    )
    x = models.FloatField()
    y = models.FloatField()
    cluster = models.PositiveIntegerField()
    hash = models.CharField(max_length=64, blank=True)
    written = models.BigIntegerField(
        default=0,
        help_text="When the position was written (ns, modulo 10^12): the fingerprint of the map "
        "sums it.",
    )

    def __str__(self):
        return f"{self.company_id} at ({self.x:.1f}, {self.y:.1f})"


class MapCluster(models.Model):
    """A group of nearby companies on the map, labelled by its distinctive market words. Replaced
    whole by each full layout; a company placed since joins its neighbours' cluster."""

    id = models.PositiveIntegerField(primary_key=True)
    label = models.CharField(max_length=200)
    x = models.FloatField()
    y = models.FloatField()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.label


class Snapshot(models.Model):
    """A table of one row (pk 1) holding something built ahead, replaced whole."""

    class Meta:
        abstract = True

    @classmethod
    def replace(cls, **fields):
        """Make ``fields`` the one row. A DatabaseError propagates: callers keep the row as a
        cache, and log it."""
        with transaction.atomic():
            if not cls.objects.filter(pk=1).update(**fields):
                cls.objects.bulk_create([cls(pk=1, **fields)], ignore_conflicts=True)


class MapSnapshot(Snapshot):
    """The whole map as ``/api/map/`` serves it, encoded ahead (``search/map_snapshot.py``).

    One row, replaced whole. Encoding a large map takes longer than a request may, so it is
    stored with the map's fingerprint at the time: any process, even one just started, serves
    it at once, and knows whether it is still the map of now.
    """

    fingerprint = models.CharField(max_length=100)
    gzipped = models.BinaryField(help_text="The JSON answer, gzip-compressed.")
    etag = models.CharField(max_length=40)
    seconds = models.FloatField(default=0, help_text="How long encoding it took.")
    encoded_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"map {self.fingerprint} ({len(self.gzipped)} bytes gzipped)"


class VocabularySnapshot(Snapshot):
    """The words, cities and names query understanding reads (``search/vocabulary.py``), built
    ahead and stored.

    One row, replaced whole. Building it reads every searchable company (seconds per 100,000),
    so it is stored with the companies' signature at the time: a process just started, or one
    that sees a change another process has already read, loads it instead of building it.
    """

    fingerprint = models.CharField(max_length=100)
    gzipped = models.BinaryField(help_text="The vocabulary as JSON, gzip-compressed.")
    seconds = models.FloatField(default=0, help_text="How long building it took.")
    built_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"vocabulary {self.fingerprint} ({len(self.gzipped)} bytes gzipped)"
