"""City spellings merged into one, so that a misspelt city ("Londo") joins the right one.

Every company of the merged cities gets the spelling most of them already have; each is saved the
normal way, so its keys, version and index entry follow, and search's city table (the facets and
the places it reads from queries) with them.
"""

from django.db.models import Count

from .models import Company


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
    changed = 0
    for company in companies.exclude(city=kept):
        company.city = kept
        company.save(update_fields=["city"])
        changed += 1
    return kept, [city for city, _ in spellings[1:]], changed
