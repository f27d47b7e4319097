"""A statement timeout for the app servers' database sessions (PostgreSQL).

gunicorn kills a worker after GUNICORN_TIMEOUT, but PostgreSQL would go on running the
statement it was waiting for (a query an attacker made expensive, a wait behind a lock). With
this, PostgreSQL cancels any statement of a request after DB_STATEMENT_TIMEOUT seconds and the
request answers 503. Only the app servers (periscope/wsgi.py, which runserver uses too) set
it: management commands such as migrate and import_deployments run without a limit.
"""

from django.conf import settings
from django.db.backends.signals import connection_created


def _limit(sender, connection, **kwargs) -> None:
    if connection.vendor != "postgresql":
        return
    milliseconds = int(settings.DB_STATEMENT_TIMEOUT * 1000)
    with connection.cursor() as cursor:
        # Once per new connection (they are reused for DB_CONN_MAX_AGE), not per request.
        cursor.execute(f"SET statement_timeout = {milliseconds}")


def limit_request_statements() -> None:
    if settings.DB_STATEMENT_TIMEOUT > 0:
        connection_created.connect(_limit, dispatch_uid="periscope.statement_timeout")
