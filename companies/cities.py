"""City spellings merged into one, so that a misspelt city ("Londo") joins the right one.

Every company of the merged cities gets the spelling most of them already have; each is saved the
normal way, so its keys, version and index entry follow, and search's city table (the facets and
the places it reads from queries) with them.
"""

from django.db.models import Count

from .models import Company, CompanyGone, StaleVersion


def merge_cities(city_keys):
    """``(kept spelling, merged spellings, companies changed)`` for the cities ``city_keys``."""
    companies = Company.objects.filter(city_key__in=city_keys)
    spellings = list(
        companies.order_by()
        .values_list("city")
        .annotate(companies=Count("pk"))
        .order_by("-companies", "city")
    )
    if not spellings:
        return None, [], 0
    kept = spellings[0][0]
    changed = sum(_move(company, kept, city_keys) for company in companies.exclude(city=kept))
    return kept, [city for city, _ in spellings[1:]], changed


def _move(company, kept, city_keys):
    """Whether ``company`` was moved to the city ``kept``: only while it is still in one of the
    merged cities (an editor may have just moved or deleted it), as read when it is written."""
    while company is not None:
        company.city = kept
        try:
            company.save(update_fields=["city"], expected_version=company.version)
            return True
        except CompanyGone:
            return False
        except StaleVersion:  # changed since it was read: merged only if still in those cities
            company = (
                Company.objects.filter(pk=company.pk, city_key__in=city_keys)
                .exclude(city=kept)
                .first()
            )
    return False
