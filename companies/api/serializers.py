from django.core.validators import MaxLengthValidator
from django.db import IntegrityError, models, transaction
from rest_framework import exceptions, serializers, status

from companies.models import Company, has_visible, website_key
from companies.search.query import (
    DEFAULT_MODE,
    MAX_CITIES,
    MAX_CITY_LENGTH,
    MAX_LIMIT,
    MAX_MATCHES,
    MAX_QUERY_LENGTH,
    MODES,
)

ORDERINGS = ("name", "created_at", "updated_at", "city")
NOT_A_STRING = serializers.CharField.default_error_messages["invalid"]
NOT_A_BOOLEAN = serializers.BooleanField.default_error_messages["invalid"]


# The characters Python counts as whitespace (and DRF trims), spelt out: JavaScript's \s, which
# OpenAPI patterns use, is a different set.
WHITESPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NON_BLANK_PATTERN = f"[^{WHITESPACE}]"
# A website address as the API's schema documents it for requests: http or https, an optional
# user:password@, a host name (localhost, or dot-separated labels ending in a top-level domain;
# internationalized names in their xn-- form), an optional port, then an optional path, query
# and fragment without whitespace or control characters. Documentation only: what decides is
# the model's validator (``companies.models.http_url``), which accepts every address this
# pattern describes.
_USER = r"[A-Za-z0-9\-._~!$&'()*+,;=%]"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_TLD = r"(?:[a-zA-Z]{2,63}|xn--[a-zA-Z0-9]{1,59})"
_PATH = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
HTTP_URL_PATTERN = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://(?:{_USER}+(?::{_USER}*)?@)?"
    rf"(?:localhost|(?:{_LABEL}\.){{1,2}}{_TLD})(?::[0-9]{{1,5}})?(?:[/?#]{_PATH}*)?$"
)


class Conflict(exceptions.APIException):
    """The request is valid but clashes with stored data (a website or slug already taken)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with another company."
    default_code = "conflict"


class NonBlankCharField(serializers.CharField):
    """Text with something besides whitespace: surrounding whitespace is trimmed, so a value of
    spaces is blank (documented as ``NON_BLANK_PATTERN``)."""


class VisibleCharField(NonBlankCharField):
    """Text that shows something (``models.has_visible``): a search for zero-width spaces alone
    is as empty as a blank one (documented by ``schema.visible_pattern``)."""

    default_error_messages = {"invisible": "Enter something visible to search for."}

    def run_validators(self, value):
        super().run_validators(value)
        if not has_visible(value):
            self.fail("invisible")


class HttpURLField(serializers.CharField):
    """A website address, checked by the model field's own validators (http and https only).

    DRF would swap a model URLField's validators for its URLValidator, which also takes ftp; this
    field keeps the model's. ``HttpURLFieldExtension`` documents it (``HTTP_URL_PATTERN``) for
    requests only: stored links may predate the rule (imports, the admin).
    """

    def run_validators(self, value):
        try:
            super().run_validators(value)
        except serializers.ValidationError as exc:
            # The model field's default URLValidator and its http(s) one say the same thing.
            raise serializers.ValidationError(list(dict.fromkeys(exc.detail))) from None


class CityListField(serializers.ListField):
    """``city`` as a repeatable query parameter: ``?city=London&city=Chicago`` matches either."""

    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.CharField(max_length=MAX_CITY_LENGTH, allow_blank=True),
            required=False,
            default=list,
            max_length=MAX_CITIES,
            **kwargs,
        )


class SearchParamsSerializer(serializers.Serializer):
    q = VisibleCharField(max_length=MAX_QUERY_LENGTH, help_text="What to search for.")
    mode = serializers.ChoiceField(
        choices=MODES,
        default=DEFAULT_MODE,
        help_text=(
            "hybrid: meaning and words (default); semantic: meaning only; keyword: companies "
            "holding every word, by BM25 (those holding some of them follow in related)."
        ),
    )
    city = CityListField(
        help_text="Only companies in these cities (case-insensitive); repeat for several.",
    )
    limit = serializers.IntegerField(default=10, min_value=1, max_value=MAX_LIMIT)
    offset = serializers.IntegerField(default=0, min_value=0, max_value=MAX_MATCHES - 1)
    understand = serializers.BooleanField(
        default=True,
        help_text=(
            "true: misspelt words are corrected (keyword and hybrid modes) and a city named in "
            '`q` ("fintech in London") becomes the city filter, unless `city` is given; '
            "`understood` says how `q` was read. false: `q` is taken as typed."
        ),
    )


class LimitSerializer(serializers.Serializer):
    limit = serializers.IntegerField(default=5, min_value=1, max_value=MAX_LIMIT)


class SuggestParamsSerializer(serializers.Serializer):
    q = VisibleCharField(max_length=100, help_text="The start of a company name.")
    limit = serializers.IntegerField(default=8, min_value=1, max_value=20)


class CompanyListParamsSerializer(serializers.Serializer):
    city = CityListField(
        help_text="Only companies in these cities (case, accents' encoding and width do not "
        "matter: évora finds Évora); repeat for several.",
    )
    searchable = serializers.ChoiceField(
        choices=["true", "false"],
        required=False,
        help_text="Only searchable (true) or unsearchable (false) companies. Without the "
        "companies.change_company permission, unsearchable companies are never listed.",
    )
    ordering = serializers.ChoiceField(
        choices=[prefix + field for field in ORDERINGS for prefix in ("", "-")],
        default="name",
        help_text="Sort field; a leading - sorts descending. Ties are broken by id.",
    )


class StrictBodyMixin:
    """Request bodies are taken as written, not guessed at.

    Keys that are not writable fields are errors, not silently dropped: otherwise a misspelt
    field name (``"descripton"``) or a read-only one would look like a successful update that
    did nothing. Text fields take JSON strings only, not numbers turned into text, and boolean
    fields ``true`` and ``false`` only, not ``1`` or ``"yes"``.
    """

    def to_internal_value(self, data):
        errors = {}
        if isinstance(data, dict):
            for key, value in data.items():
                field = self.fields.get(key)
                if field is None:
                    errors[key] = ["Unknown field."]
                elif field.read_only:
                    errors[key] = ["This field is read-only."]
                elif isinstance(field, serializers.CharField) and not isinstance(value, str):
                    errors[key] = [NOT_A_STRING]
                elif isinstance(field, serializers.BooleanField) and not isinstance(value, bool):
                    errors[key] = [NOT_A_BOOLEAN]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({**exc.detail, **errors}) from None
        if errors:
            raise serializers.ValidationError(errors)
        return value


class CompanySerializer(StrictBodyMixin, serializers.ModelSerializer):
    """A company record.

    ``id``, ``version``, the timestamps and the index state are read-only: sending them is an
    error, like sending an unknown field. The website (``link``) and the ``slug`` are unique.
    Every field's rules (lengths, a visible name, http(s) links) are the model's.
    """

    slug = serializers.SlugField(
        max_length=220,
        required=False,
        allow_blank=True,
        help_text="The company's URL name; derived from the name when missing or empty. Unique.",
    )

    class Meta:
        model = Company
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "city",
            "link",
            "image_url",
            "tags",
            "searchable",
            "version",
            "created_at",
            "updated_at",
            "index_status",
            "indexed_at",
        ]
        read_only_fields = [
            "id",
            "version",
            "created_at",
            "updated_at",
            "index_status",
            "indexed_at",
        ]
        extra_kwargs = {
            "link": {
                "required": True,
                "allow_blank": False,
                "help_text": "The company's website; one company per website (scheme, www. and "
                "a trailing slash do not matter).",
            },
            "searchable": {
                "help_text": "false keeps the record but takes it out of search and every "
                "public list and page; only users with companies.change_company see it then."
            },
            "version": {
                "help_text": "Goes up by one with every change; the ETag header carries it, "
                "and If-Match sends it back."
            },
            "index_status": {"help_text": "pending until the search index has the last change."},
            "indexed_at": {"help_text": "When the search index last took this company's text."},
        }

    def build_standard_field(self, field_name, model_field):
        """The model's field rules, with two corrections to DRF's mapping.

        DRF replaces a URLField's validators with its own URLValidator (which takes ftp), so
        links get ``HttpURLField`` with the model field's validators; text that may not be
        blank is documented as such (``NonBlankCharField``).
        """
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if isinstance(model_field, models.URLField):
            field_class = HttpURLField
            kwargs["validators"] = [
                validator
                for validator in model_field.validators
                if not isinstance(validator, MaxLengthValidator)  # max_length says it
            ]
        elif field_class is serializers.CharField and not model_field.blank:
            field_class = NonBlankCharField
        return field_class, kwargs

    def save(self, **kwargs):
        """Save through the model (so the index follows), answering 409 for a taken website or
        slug, also when another request takes it between the check and the write.

        A change that changes nothing (``PATCH {}``, a ``PUT`` of the same values) writes
        nothing: ``updated_at`` stays, and the company is not indexed again.
        """
        if self.instance is not None and all(
            getattr(self.instance, name) == value
            for name, value in {**self.validated_data, **kwargs}.items()
        ):
            return self.instance
        self._raise_conflicts()
        # A new company's slug is derived from its name unless sent; another company created
        # with that name at the same moment can take it first, and then the next one is free.
        attempts = 3 if self.instance is None and not self.validated_data.get("slug") else 1
        for attempt in range(attempts):
            try:
                with transaction.atomic():
                    return super().save(**kwargs)
            except IntegrityError:
                self._raise_conflicts()
                if attempt + 1 == attempts:
                    raise Conflict(
                        "Another request changed a company with this website or slug at the "
                        "same time; please try again."
                    ) from None

    def update(self, instance, validated_data):
        """Write only the fields the request sent: a concurrent request that changed other
        fields keeps its change."""
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save(
            update_fields=list(validated_data),
            expected_version=self.context.get("expected_version"),
        )
        return instance

    def _raise_conflicts(self):
        others = Company.objects.exclude(pk=self.instance.pk if self.instance else None)
        errors = {}
        link = self.validated_data.get("link")
        owner = link and others.filter(website_key=website_key(link)).first()
        if owner:
            errors["link"] = [
                f"Another company already has this website: {owner.name} (id {owner.pk})."
            ]
        slug = self.validated_data.get("slug")
        owner = slug and others.filter(slug=slug).first()
        if owner:
            errors["slug"] = [
                f"Another company already has this slug: {owner.name} (id {owner.pk})."
            ]
        if errors:
            raise Conflict(errors)


class SearchHitSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="company.id")
    name = serializers.CharField(source="company.name")
    slug = serializers.CharField(source="company.slug")
    description = serializers.CharField(source="company.description")
    city = serializers.CharField(source="company.city")
    link = serializers.CharField(source="company.link")
    image_url = serializers.CharField(source="company.image_url")
    score = serializers.FloatField(help_text="Higher is better; comparable within one search.")
    highlight = serializers.CharField(
        help_text="HTML: the best-matching sentence, escaped, query terms in <mark>."
    )
    pinned = serializers.BooleanField(
        help_text="Put first for this query by the site's editors (a curation)."
    )

    def to_representation(self, hit):
        return hit_data(hit)


def hit_data(hit):
    """``SearchHitSerializer``'s fields, built directly: this runs for every result of every
    search, and the generic field machinery cost more than the rest of the response together."""
    company = hit.company
    return {
        "id": company.id,
        "name": company.name,
        "slug": company.slug,
        "description": company.description,
        "city": company.city,
        "link": company.link,
        "image_url": company.image_url,
        "score": hit.score,
        "highlight": hit.highlight,
        "pinned": hit.pinned,
    }


class CityFacetSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="The city's name as stored.")
    count = serializers.IntegerField(help_text="Matches in this city, ignoring the city filter.")


class FacetsSerializer(serializers.Serializer):
    city = CityFacetSerializer(many=True)


class UnderstoodSerializer(serializers.Serializer):
    query = serializers.CharField(
        allow_blank=True,
        help_text="What was ranked: `q` corrected and without the place (blank: only a place, "
        "whose companies are listed by name).",
    )
    cities = serializers.ListField(
        child=serializers.CharField(),
        help_text="The cities read from `q` and used as the filter (with their spellings).",
    )


class SearchResultsSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        help_text="All matches, over every page: the companies about the query."
    )
    next = serializers.URLField(allow_null=True, help_text="The next page, if any.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, if any.")
    mode = serializers.ChoiceField(choices=MODES)
    results = SearchHitSerializer(many=True, help_text="This page of matches, best first.")
    related = SearchHitSerializer(
        many=True,
        help_text="Looser matches, not counted: on the page where the matches end, after them, "
        "as many as fill the page, and at least 3 when the matches fill it (never more than "
        "`limit`).",
    )
    understood = UnderstoodSerializer(
        allow_null=True, help_text="How `q` was read, if not as typed (see `understand`)."
    )
    suggestion = serializers.CharField(
        allow_null=True,
        help_text='`q` with its misspelt words corrected, if any were: "Did you mean …".',
    )
    facets = FacetsSerializer()

    def to_representation(self, data):
        # The fields above, built directly, as for the hits: instantiating the declared fields
        # (a deep copy of each, nested ones included) cost more per search than serialising.
        understood = data["understood"]
        return {
            "count": int(data["count"]),
            "next": data["next"],
            "previous": data["previous"],
            "mode": data["mode"],
            "results": [hit_data(hit) for hit in data["results"]],
            "related": [hit_data(hit) for hit in data["related"]],
            "understood": understood
            and {"query": understood["query"], "cities": list(understood["cities"])},
            "suggestion": data["suggestion"],
            "facets": {
                "city": [
                    {"value": facet.value, "count": facet.count} for facet in data["facets"]["city"]
                ]
            },
        }


class SimilarResultsSerializer(serializers.Serializer):
    results = SearchHitSerializer(many=True, help_text="Most similar first.")


class SuggestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()


class SuggestionsSerializer(serializers.Serializer):
    results = SuggestionSerializer(many=True)
