from django.apps import AppConfig


class CompaniesConfig(AppConfig):
    name = "companies"
    verbose_name = "Companies"

    def ready(self):
        from . import checks, jobs, tasks  # noqa: F401  (register the checks and Celery tasks)
        from .signals import connect_signal_processor

        connect_signal_processor()
