"""Celery tasks: thin wrappers that take a row's id and call a service. Enqueued only after
the transaction that wrote the row commits; the sweep re-enqueues what is still pending."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import selectors, services

# A long file takes a while, far beyond the default CELERY_TASK_TIME_LIMIT. Both limits stay
# under the broker's visibility timeout (3600 s), after which Redis would hand the message to
# another worker: harmless (that worker finds the import locked), but wasted.
IMPORT_SOFT_TIME_LIMIT = 50 * 60
IMPORT_TIME_LIMIT = 55 * 60


@shared_task(acks_late=True, soft_time_limit=IMPORT_SOFT_TIME_LIMIT, time_limit=IMPORT_TIME_LIMIT)
def import_staff_file(import_id: int) -> str:
    staff_import = services.staff_import_run(import_id=import_id)
    return staff_import.status if staff_import else "missing"


@shared_task(acks_late=True)
def sweep_pending_staff_imports() -> int:
    """Re-enqueue imports whose task was lost (broker down when the import was confirmed,
    worker killed). Running one twice is harmless: see services.staff_import_run."""
    since = timezone.now() - timedelta(seconds=settings.SWEEP_AFTER_SECONDS)
    import_ids = selectors.staff_imports_stalled(since=since)
    for import_id in import_ids:
        import_staff_file.delay(import_id)
    return len(import_ids)


@shared_task(acks_late=True)
def purge_old_history() -> int:
    return services.history_purge(older_than_days=settings.HISTORY_RETENTION_DAYS)


@shared_task(acks_late=True)
def purge_expired_assignments() -> list[str]:
    days = services.assignments_purge_expired(keep_days=settings.RETENTION_DAYS)
    return [day.isoformat() for day in days]


@shared_task(acks_late=True)
def ensure_assignment_partitions() -> list[str]:
    return services.assignment_partitions_ensure()
