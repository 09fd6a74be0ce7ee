"""Start-up checks for search settings that would otherwise fail later and obscurely."""

from django.conf import settings
from django.core.checks import Warning, register

from .search.conf import search_setting


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
