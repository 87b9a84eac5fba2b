import logging
import os

from celery import Celery
from django.db import transaction
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("registry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args) -> None:
    """Send `task(*args)` once the current transaction commits; never for one that rolls
    back. A broker outage at that moment does not fail the request whose work is already
    saved: the row stays pending and the periodic sweep sends it when the broker is back."""

    def send():
        try:
            task.apply_async(args, retry=False)
        except (OperationalError, OSError) as exc:
            logger.warning(
                "broker unavailable (%s): %s left for the sweep", type(exc).__name__, task.name
            )

    transaction.on_commit(send)
