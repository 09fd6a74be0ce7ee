"""Start-up checks for search settings that would otherwise fail later and obscurely."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .search.conf import search_setting
from .search.engines import embedded_engine, peek_metadata
from .search.indexing import recipe_metadata
from .search.store import StoreUnavailable, incompatibility


@register()
def check_shared_store(app_configs, **kwargs):
    if getattr(settings, "CELERY_BROKER_URL", "") and not search_setting("QDRANT_URL"):
        return [
            Warning(
                "CELERY_BROKER_URL is set but QDRANT_URL is not.",
                hint=(
                    "With a broker, Celery workers index in their own processes, and the "
                    "embedded Qdrant store can be opened by one process only: set QDRANT_URL to "
                    "a Qdrant server shared by the site and the workers."
                ),
                id="companies.W001",
            )
        ]
    return []


@register()
def check_index_compatible(app_configs, **kwargs):
    """An index built for another model or recipe is named at start-up, not at the first query."""
    try:
        have = peek_metadata()
    except (StoreUnavailable, ImproperlyConfigured):
        return []  # unreachable now; queries will say so
    problem = have is not None and incompatibility(have, recipe_metadata())
    if not problem:
        return []
    return [Warning(problem, hint="Searches fail until the index is rebuilt.", id="companies.W002")]


@register()
def check_embedded_engine(app_configs, **kwargs):
    """A misspelt EMBEDDED_ENGINE stops the start instead of quietly picking an engine."""
    try:
        embedded_engine()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="companies.E001")]
    return []
