"""API keys never reach a log: the OpsLevel format's key is in the URL (/integrations/deploy/<key>).

The live tests read the real files a gunicorn (access log, error log with Django's logging)
and a development server write, after an OpsLevel delivery and after a forced 5xx.
"""

import logging
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from periscope.log_redaction import REDACTED, RedactSecretsFilter, redact
from tests import live_servers

KEY = "psk_" + "AbCdEfGh12" * 4
BODY = {
    "dedup_id": "redaction-1",
    "service": "shopping_cart",
    "deployer": {"email": "ci@example.com"},
    "deployed_at": "2024-02-01 13:28:33",
    "environment": "Production",
    "description": "Deployed by CI",
}


@pytest.mark.parametrize(
    "line",
    [
        f'10.0.0.1 "POST /integrations/deploy/{KEY} HTTP/1.1" 202 10',
        f"Service Unavailable: /integrations/deploy/{KEY}",
        f"POST //Integrations/deploy/{KEY}?x=1",
        f"/integrations/deploy/{KEY[:20]}%2F{KEY[20:]}",  # a typo'd or encoded key too
        f'GET /api/metrics?token={KEY} "https://ref/?k={KEY}"',
    ],
)
def test_redact_removes_every_shape_of_key(line):
    cleaned = redact(line)
    assert KEY[4:12] not in cleaned and KEY[20:] not in cleaned, cleaned
    assert REDACTED in cleaned


def test_redact_leaves_other_lines_alone():
    for line in ['"POST /api/webhooks/deployments HTTP/1.1" 201', "rejected API key prefix=psk_"]:
        assert redact(line) == line


def test_every_configured_handler_redacts():
    """Django's logging config: the root's handler and runserver's (django.server) filter keys."""
    for name in ("", "django.server"):
        # (pytest adds its capturing handlers to the root; only the configured ones count.)
        handlers = [h for h in logging.getLogger(name).handlers if type(h) is logging.StreamHandler]
        assert handlers, name
        for handler in handlers:
            assert any(isinstance(f, RedactSecretsFilter) for f in handler.filters), name
    # Nothing under "django" writes around the root's handler (Django's default DEBUG console).
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django.request").handlers == []


def test_an_exception_traceback_is_redacted_too():
    try:
        raise ValueError(f"bad path /integrations/deploy/{KEY}")
    except ValueError:
        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s",
            (f"/integrations/deploy/{KEY}",), sys.exc_info(),
        )  # fmt: skip
    RedactSecretsFilter().filter(record)
    text = logging.Formatter().format(record)
    assert KEY[4:] not in text
    assert f"ValueError: bad path /integrations/deploy/{REDACTED}" in text


# --- The real servers' logs.


@pytest.fixture
def live_database():
    url = live_servers.url_beside(settings.DATABASES["default"], "redaction")
    key = live_servers.prepare_database(url, org="acme")
    try:
        yield url, key
    finally:
        live_servers.drop_database(url)


def assert_redacted(text: str, key: str, *, expect: list[str]) -> None:
    assert key not in text
    assert key[4:] not in text
    assert key[4:12] not in text
    for fragment in expect:
        assert fragment in text, (fragment, text[-3000:])


@pytest.mark.postgres
def test_gunicorn_access_and_error_logs_never_hold_the_key(live_database, tmp_path):
    url, key = live_database
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    with live_servers.gunicorn(
        url,
        workers=1,
        error_log=str(errors),
        GUNICORN_ACCESS_LOG=str(access),
        LOG_LEVEL="INFO",
        DB_CONNECT_TIMEOUT="2",
    ) as base:
        delivered = httpx.post(f"{base}/integrations/deploy/{key}?via=ci", json=BODY, timeout=20)
        assert delivered.status_code in (200, 202), delivered.text
        # A forced 5xx: the database goes away, the next delivery is a 503 that django.request
        # logs with its path.
        live_servers.set_database_available(url, False)
        try:
            failed = httpx.post(f"{base}/integrations/deploy/{key}", json=BODY, timeout=20)
        finally:
            live_servers.set_database_available(url, True)
        assert failed.status_code == 503, failed.text
    assert_redacted(
        access.read_text(),
        key,
        expect=[
            f'"POST /integrations/deploy/{REDACTED}?via=ci HTTP/1.1" {delivered.status_code}',
            f'"POST /integrations/deploy/{REDACTED} HTTP/1.1" 503',
        ],
    )
    assert_redacted(
        errors.read_text(), key, expect=[f"Service Unavailable: /integrations/deploy/{REDACTED}"]
    )


@pytest.mark.postgres
def test_the_development_server_log_never_holds_the_key(live_database, tmp_path):
    url, key = live_database
    port = live_servers.free_port()
    log_path = tmp_path / "runserver.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=live_servers.server_env(url, LOG_LEVEL="INFO"),
            cwd=live_servers.REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, Path(log_path).read_text()
                    time.sleep(0.2)
            delivered = httpx.post(f"{base}/integrations/deploy/{key}", json=BODY, timeout=20)
            assert delivered.status_code in (200, 202), delivered.text
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert_redacted(
        log_path.read_text(),
        key,
        expect=[f'"POST /integrations/deploy/{REDACTED} HTTP/1.1" {delivered.status_code}'],
    )
