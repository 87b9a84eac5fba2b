"""The Celery queue depth on /metrics, read from the real Redis broker when scraped."""

import pytest

from config.celery import app
from tests.integration.test_faults import free_port
from verification.tasks import sweep_pending_webhooks

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def idle_queue(settings):
    """A default queue no worker consumes (the session's worker, if any, reads `celery`)."""
    settings.METRICS_TOKEN = "t"
    name = f"metrics-test-{free_port()}"
    default = app.conf.task_default_queue
    app.conf.task_default_queue = name
    yield name
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(name)
    app.conf.task_default_queue = default


def depth(client) -> float:
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode()
    line = next(line for line in body.splitlines() if line.startswith("registry_celery_queue"))
    return float(line.split()[-1])


def test_the_queue_depth_counts_the_tasks_waiting_in_the_broker(client, idle_queue):
    assert depth(client) == 0
    for _ in range(3):
        sweep_pending_webhooks.apply_async(queue=idle_queue)
    assert depth(client) == 3


def test_a_broker_that_does_not_answer_is_minus_one(client, idle_queue):
    real = app.conf.broker_write_url
    app.conf.broker_write_url = "redis://127.0.0.1:1/0"  # a closed port
    try:
        assert depth(client) == -1
    finally:
        app.conf.broker_write_url = real
