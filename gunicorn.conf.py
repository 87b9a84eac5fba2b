"""gunicorn for production: `gunicorn -c gunicorn.conf.py config.wsgi`."""

import gc
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then: bounds memory growth from any leak.
max_requests = 20000
max_requests_jitter = 2000
# Workers are forked from a master that has loaded the app (see when_ready): a recycled
# worker answers within milliseconds, where importing Django anew took it out for a second
# or two while the other worker queued every request (docs/performance.md, the p99 spikes).
preload_app = True
# Access log without query strings; recipient numbers only ever travel in POST bodies.
accesslog = "-" if os.environ.get("ACCESS_LOG", "1") == "1" else None
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Whether a request came over HTTPS is Django's to decide (SECURE_PROXY_SSL_HEADER, set only
# with TRUSTED_PROXY_COUNT > 0): gunicorn would otherwise believe X-Forwarded-Proto from any
# client on an address in forwarded_allow_ips.
secure_scheme_headers = {}
# gunicorn's control socket (gunicornc) defaults to one path per user, ~/.gunicorn/gunicorn.ctl,
# which every gunicorn on the host then takes from the one before. Off unless a path is given
# (scripts/serve puts it in its own run directory).
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket


def when_ready(server):
    """In the master, before the first fork: import every view (Django imports the URLconf
    on the first request otherwise, in each worker), let go of any connection the import
    opened, and freeze what is loaded, so that a worker's full garbage collections walk only
    what it allocated since, not the ~150,000 objects of the loaded code (a walk of 40–80 ms
    that stalled every request queued on the worker), and its pages stay shared with the master."""
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (the attribute imports every view)
    connections.close_all()
    gc.freeze()


def child_exit(server, worker):
    """A worker's metrics files stay (their counts are totals); only live gauges go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
