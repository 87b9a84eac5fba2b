"""gunicorn for production: `gunicorn -c gunicorn.conf.py config.wsgi`."""

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


def child_exit(server, worker):
    """A worker's metrics files stay (their counts are totals); only live gauges go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
