"""Curations in the API: ``/api/curations/``, for editors' tools (list, create, read, update,
delete).

A curation is ``{"query": "parking app", "pinned": [17, 4], "hidden": [52]}``: for that query
(after normalisation: case, spaces and punctuation do not matter) the pinned companies come
first in that order and the hidden ones are left out, in every search mode, from the next search
on. Everything here needs a signed-in user (token or session) with the matching ``curation``
model permission, reading included: what editors plan to feature is not public.
"""

from django.db import IntegrityError, transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import permissions, serializers, viewsets
from rest_framework.exceptions import NotFound

from companies.models import (
    MAX_ID,
    MAX_QUERY_KEY,
    Company,
    Curation,
    CurationPin,
    validate_query,
)

from .errors import NOT_FOUND
from .schema import ERROR_OR_FIELD_ERRORS, errors
from .serializers import Conflict, NonBlankCharField, StrictBodyMixin

# Companies one curation may pin or hide at most.
MAX_PINNED = 50
MAX_HIDDEN = 500


class CurationPermissions(permissions.DjangoModelPermissions):
    """The model permissions, with reading needing ``view_curation`` too."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
    }


def company_ids(max_length, help_text):
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        max_length=max_length,
        required=False,
        help_text=help_text,
    )


class CurationSerializer(StrictBodyMixin, serializers.ModelSerializer):
    query = NonBlankCharField(
        max_length=MAX_QUERY_KEY,
        validators=[validate_query],
        help_text="The search this applies to; case, spaces and punctuation do not matter. "
        "One curation per query.",
    )
    pinned = company_ids(MAX_PINNED, "Company ids shown first, in this order.")
    hidden = company_ids(MAX_HIDDEN, "Company ids never shown for this query.")

    class Meta:
        model = Curation
        fields = ["id", "query", "pinned", "hidden", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate(self, attrs):
        errors = {}
        pinned = attrs.get("pinned", self._current("pinned"))
        hidden = attrs.get("hidden", self._current("hidden"))
        for field, ids in (("pinned", pinned), ("hidden", hidden)):
            if field not in attrs:
                continue
            repeated = sorted({pk for pk in ids if ids.count(pk) > 1})
            unknown = sorted(
                set(ids) - set(Company.objects.filter(pk__in=ids).values_list("pk", flat=True))
            )
            if repeated:
                errors[field] = [f"Each company once: {', '.join(map(str, repeated))} repeated."]
            elif unknown:
                errors[field] = [f"No company with id {', '.join(map(str, unknown))}."]
        if not errors:
            errors = pinned_and_hidden(pinned, hidden)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _current(self, field):
        if self.instance is None:
            return []
        return self.to_representation(self.instance)[field]

    def to_representation(self, curation):
        return {
            "id": curation.pk,
            "query": curation.query,
            "pinned": [pin.company_id for pin in curation.pins.all()],
            "hidden": sorted(company.pk for company in curation.hidden.all()),
            "created_at": serializers.DateTimeField().to_representation(curation.created_at),
            "updated_at": serializers.DateTimeField().to_representation(curation.updated_at),
        }

    def create(self, validated_data):
        return self._save(Curation(), validated_data)

    def update(self, curation, validated_data):
        return self._save(curation, validated_data)

    def _save(self, curation, data):
        """Write the curation and its lists in one transaction. A query another curation took
        meanwhile is a 409; a company deleted meanwhile, a 400 (nothing is written)."""
        if curation.pk is not None and not data:
            return curation  # nothing sent: nothing changes, not even updated_at
        try:
            with transaction.atomic():
                if curation.pk is not None:
                    # Written from the row as locked, not as read before: a query renamed
                    # meanwhile stays renamed, and a curation deleted meanwhile stays deleted.
                    curation = Curation.objects.select_for_update().filter(pk=curation.pk).first()
                    if curation is None:
                        raise NotFound(NOT_FOUND)
                    # Checked again under the lock: a list sent alone was checked against the
                    # other as read before, which a concurrent request may have changed since.
                    conflict = pinned_and_hidden(
                        data["pinned"] if "pinned" in data else _stored_pins(curation),
                        data["hidden"] if "hidden" in data else _stored_hidden(curation),
                    )
                    if conflict:
                        raise serializers.ValidationError(conflict)
                if "query" in data:
                    curation.query = data["query"]
                    curation.normalize()
                    if (
                        Curation.objects.filter(query_key=curation.query_key)
                        .exclude(pk=curation.pk)
                        .exists()
                    ):
                        raise Conflict({"query": ["This query already has a curation."]})
                curation.save()
                if "pinned" in data:
                    curation.pins.all().delete()
                    CurationPin.objects.bulk_create(
                        CurationPin(curation=curation, company_id=pk, position=position)
                        for position, pk in enumerate(data["pinned"])
                    )
                if "hidden" in data:
                    curation.hidden.set(data["hidden"])
        except IntegrityError:
            if (
                Curation.objects.filter(query_key=curation.query_key)
                .exclude(pk=curation.pk)
                .exists()
            ):
                raise Conflict({"query": ["This query already has a curation."]}) from None
            raise serializers.ValidationError(
                {"non_field_errors": ["A company given was deleted meanwhile; nothing was saved."]}
            ) from None
        return Curation.objects.prefetch_related("pins", "hidden").get(pk=curation.pk)


def pinned_and_hidden(pinned, hidden):
    """The error of a curation that would pin and hide one company, if it would."""
    both = sorted(set(pinned) & set(hidden))
    if both:
        return {"hidden": [f"A company cannot be pinned and hidden: {', '.join(map(str, both))}."]}
    return {}


def _stored_pins(curation):
    return list(CurationPin.objects.filter(curation=curation).values_list("company", flat=True))


def _stored_hidden(curation):
    hidden = Curation.hidden.through.objects.filter(curation=curation)
    return list(hidden.values_list("company", flat=True))


CURATION_ID = OpenApiParameter(
    "id",
    {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
    OpenApiParameter.PATH,
    description="The curation's id.",
)
CONFLICT = OpenApiResponse(
    ERROR_OR_FIELD_ERRORS, "Another curation has this query (after normalisation)."
)
READ_ERRORS = (401, 403)
WRITE_ERRORS = (400, 401, 403, 413, 415)


@extend_schema_view(
    list=extend_schema(
        summary="List curations",
        responses={200: CurationSerializer(many=True), **errors(*READ_ERRORS)},
    ),
    retrieve=extend_schema(
        summary="Read a curation",
        parameters=[CURATION_ID],
        responses={200: CurationSerializer, **errors(*READ_ERRORS, 404)},
    ),
    create=extend_schema(
        summary="Create a curation",
        description="Needs `companies.add_curation`. Applies to the next search.",
        responses={201: CurationSerializer, 409: CONFLICT, **errors(*WRITE_ERRORS)},
    ),
    update=extend_schema(
        summary="Replace a curation",
        description="Needs `companies.change_curation`.",
        parameters=[CURATION_ID],
        responses={200: CurationSerializer, 409: CONFLICT, **errors(*WRITE_ERRORS, 404)},
    ),
    partial_update=extend_schema(
        summary="Change part of a curation",
        description="Needs `companies.change_curation`; the lists sent replace the stored ones.",
        parameters=[CURATION_ID],
        responses={200: CurationSerializer, 409: CONFLICT, **errors(*WRITE_ERRORS, 404)},
    ),
    destroy=extend_schema(
        summary="Delete a curation",
        description="Needs `companies.delete_curation`.",
        parameters=[CURATION_ID],
        responses={204: OpenApiResponse(description="Deleted."), **errors(401, 403, 404)},
    ),
)
@extend_schema(tags=["curations"])
class CurationViewSet(viewsets.ModelViewSet):
    queryset = Curation.objects.prefetch_related("pins", "hidden").order_by("query_key", "id")
    serializer_class = CurationSerializer
    permission_classes = [CurationPermissions]
    lookup_value_regex = r"[0-9]{1,18}"
