"""Celery application; configured from Django settings (``CELERY_*``)."""

import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchsite.settings")

app = Celery("searchsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


@signals.worker_init.connect
def report_configuration_problems(**kwargs):
    """Workers skip Django's start-up checks; run them so a misconfiguration is said at once."""
    from django.core import checks

    for message in checks.run_checks():
        logger.warning("%s", message)
