"""periscope/statement_timeout.py: a request's statement is cancelled after DB_STATEMENT_TIMEOUT.

Against a live gunicorn on PostgreSQL: a delivery stuck behind a lock answers 503 within
the timeout instead of holding a worker (and PostgreSQL) until gunicorn kills it, while
management commands (migrate, imports) run without the limit.
"""

import time

import httpx
import psycopg
import pytest
from django.conf import settings

from tests import live_servers

URL = "/api/webhooks/deployments"
BODY = {
    "deploymentId": "st-1",
    "commitSha": "a1b2c3d4e5f6",
    "environment": "production",
    "status": "success",
    "startedAt": "2024-01-15T10:30:00Z",
    "completedAt": "2024-01-15T10:35:00Z",
}


@pytest.fixture
def live_database():
    url = live_servers.url_beside(settings.DATABASES["default"], "stmt_timeout")
    key = live_servers.prepare_database(url, org="acme")
    try:
        yield url, key
    finally:
        live_servers.drop_database(url)


@pytest.mark.postgres
def test_a_request_stuck_behind_a_lock_is_cancelled(live_database):
    url, key = live_database
    headers = {"Authorization": f"Bearer {key}"}
    with live_servers.gunicorn(url, workers=1, DB_STATEMENT_TIMEOUT="1") as base:
        assert httpx.post(f"{base}{URL}", json=BODY, headers=headers, timeout=20).status_code == 201
        with psycopg.connect(url) as blocker:
            # Every request reads the key table first; hold it until the request gives up.
            blocker.execute("LOCK TABLE periscope_apikey IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            stuck = httpx.post(f"{base}{URL}", json=BODY, headers=headers, timeout=20)
            waited = time.monotonic() - started
            blocker.rollback()
        assert stuck.status_code == 503, stuck.text
        assert stuck.headers["Retry-After"] and "error" in stuck.json()
        assert 0.9 <= waited < 8, waited
        # The connection is usable again at once.
        again = httpx.post(f"{base}{URL}", json=BODY, headers=headers, timeout=20)
        assert again.status_code == 200, again.text


@pytest.mark.postgres
def test_management_commands_have_no_statement_timeout(live_database):
    url, _key = live_database
    shown = live_servers.manage(
        url,
        "shell",
        "-c",
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SHOW statement_timeout')\n"
        "    print(c.fetchone()[0])",
    )
    assert shown.strip().splitlines()[-1] == "0"
