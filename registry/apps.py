from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _assignment_partitions_ahead(sender, using, **kwargs) -> None:
    # Schema upkeep, not business logic: every migrate (not only the one that partitioned the
    # table) leaves today's and the next days' partitions in place, as the beat job does.
    from django.db import connections

    from . import partitions

    partitions.ensure_ahead(connections[using])


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = _("Registry")

    def ready(self) -> None:
        from . import checks  # noqa: F401  registers the system checks

        post_migrate.connect(_assignment_partitions_ahead, sender=self)
