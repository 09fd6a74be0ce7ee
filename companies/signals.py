"""Keeping the index in step with saves and deletes.

A signal processor connects Company's post_save / post_delete to the index. The work is queued
with ``transaction.on_commit``, so a rolled-back transaction indexes nothing and the index never
holds what the database does not. Where the work runs is the processor's choice, made in settings
(``COMPANY_SEARCH["SIGNAL_PROCESSOR"]``): in this process, or in a Celery worker.

A save or delete never fails because of the index: failures leave the record pending or failed,
for a retry or ``search_index --repair`` to pick up.
"""

import logging

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.module_loading import import_string

from . import tasks
from .models import Company, IndexStatus
from .search import autorepair, indexing, vocabulary
from .search.conf import search_setting

logger = logging.getLogger(__name__)


class BaseSignalProcessor:
    def setup(self):
        """Start following saves and deletes."""
        post_save.connect(self.handle_save, sender=Company, dispatch_uid="company-index-save")
        post_delete.connect(self.handle_delete, sender=Company, dispatch_uid="company-index-delete")

    def teardown(self):
        """Stop following saves and deletes (bulk jobs that index by themselves)."""
        post_save.disconnect(sender=Company, dispatch_uid="company-index-save")
        post_delete.disconnect(sender=Company, dispatch_uid="company-index-delete")

    def handle_save(self, sender, instance, **kwargs):
        indexing.mark_pending([instance.pk])
        instance.index_status = IndexStatus.PENDING
        transaction.on_commit(lambda pk=instance.pk: self.index([pk]), robust=True)

    def handle_delete(self, sender, instance, **kwargs):
        transaction.on_commit(lambda pk=instance.pk: self.remove([pk]), robust=True)

    def index(self, pks):
        """Bring the index entries of companies ``pks`` up to date."""
        raise NotImplementedError

    def remove(self, pks):
        """Delete the index entries of companies ``pks``."""
        raise NotImplementedError


class InProcessSignalProcessor(BaseSignalProcessor):
    """Index in the process that saved: the embedded default, which has no broker.

    Without a broker there is no celery beat either: this process also runs the periodic check
    and repair, in a thread started when it first opens the embedded store.
    """

    def setup(self):
        super().setup()
        autorepair.enable()

    def teardown(self):
        super().teardown()
        autorepair.disable()

    def index(self, pks):
        try:
            indexing.index_companies(pks)
        except Exception as exc:
            # The records are marked failed with the error; the repair retries them.
            logger.exception(
                "Could not index companies %s",
                pks,
                extra={"event": "index_run_failed", "company_ids": list(pks), "error": str(exc)},
            )

    def remove(self, pks):
        try:
            indexing.remove_companies(pks)
        except Exception as exc:
            logger.exception(
                "Could not remove companies %s from the index",
                pks,
                extra={"event": "index_remove_failed", "company_ids": list(pks), "error": str(exc)},
            )


class CelerySignalProcessor(BaseSignalProcessor):
    """Queue the work for a Celery worker; if the broker is down, the record stays pending."""

    def index(self, pks):
        self._send(tasks.index_companies_task, pks)

    def remove(self, pks):
        self._send(tasks.remove_companies_task, pks)

    def _send(self, task, pks):
        try:
            task.delay(list(pks))
        except Exception as exc:  # kombu raises several types; none may break the save.
            logger.error(
                "Could not queue %s for companies %s: %s",
                task.__name__,
                pks,
                exc,
                extra={
                    "event": "index_queue_failed",
                    "task": task.name,
                    "company_ids": list(pks),
                    "error": str(exc),
                },
            )


_processor = None


def signal_processor():
    """The connected processor (the one ``COMPANY_SEARCH["SIGNAL_PROCESSOR"]`` names)."""
    return _processor


def connect_signal_processor():
    global _processor
    if _processor is not None:
        _processor.teardown()
    _processor = import_string(search_setting("SIGNAL_PROCESSOR"))()
    _processor.setup()


@receiver(post_save, sender=Company, dispatch_uid="company-vocabulary-save")
@receiver(post_delete, sender=Company, dispatch_uid="company-vocabulary-delete")
def _vocabulary_changed(sender, **kwargs):
    """The words and cities search understands follow the companies: at once (this thread sees
    its own write) and again after the commit (for every other thread)."""
    vocabulary.changed()
    transaction.on_commit(vocabulary.changed, robust=True)


@receiver(setting_changed)
def _search_settings_changed(setting, **kwargs):
    """Tests switch processors with override_settings; follow them."""
    if setting == "COMPANY_SEARCH":
        connect_signal_processor()
