"""gunicorn settings for production: `gunicorn -c periscope/gunicorn_conf.py`.

Every value comes from the environment so N identical app servers can run behind a load
balancer; see docs/deploy.md.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


wsgi_app = "periscope.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")

# Sync workers: each request holds one PostgreSQL connection for its duration. Threads are
# opt-in (GUNICORN_THREADS > 1 switches to gthread).
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"

# A request that takes longer than this is killed; ingest answers in milliseconds, and a
# database outage answers 503 within DB_CONNECT_TIMEOUT, so this only catches real hangs.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Load the app once in the master, then fork: faster starts, shared memory, and an import
# error stops the deploy instead of looping workers. No database connection is opened at
# import, so none is shared across the fork.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") not in {"0", "false", "no", "off"}

# Recycle workers now and then (jitter so they do not all restart at once).
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)

# The load balancer's address, trusted for X-Forwarded-For / X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Logs to stdout/stderr. The access log never includes request headers, so API keys
# (Authorization, x-api-key, X-API-Token) are not written there; the OpsLevel format's key is
# in the URL, which the access log (%(r)s) and the error log (a failed request's URI) write:
# this logger class redacts it, and anything else shaped like a key, from both.
logger_class = "periscope.gunicorn_logging.RedactingLogger"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = '%({x-forwarded-for}i)s %(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s" request_id=%({x-request-id}i)s'
