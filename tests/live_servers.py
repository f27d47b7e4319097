"""Real app servers on a fresh PostgreSQL database, for tests and benches that need them.

A dedicated database per run keeps other tests and helpers untouched, and lets an outage be
simulated for this database alone (ALLOW_CONNECTIONS false + terminating its sessions).
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
SECRET_KEY = "live-server-secret-key-for-tests-and-benches-only-0123456789"


def with_database(url: str, name: str) -> str:
    """The same server URL with another database name."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def url_beside(settings_dict: dict, suffix: str) -> str:
    """A URL on the same server as a Django database, for a database named NAME_suffix."""
    d = settings_dict
    return (
        f"postgres://{d['USER']}:{d['PASSWORD'] or ''}@{d['HOST'] or '127.0.0.1'}:"
        f"{d['PORT'] or 5432}/{d['NAME']}_{suffix}"
    )


def admin_connection(url: str) -> psycopg.Connection:
    """Autocommit connection to the server's maintenance database."""
    return psycopg.connect(with_database(url, "postgres"), autocommit=True)


def create_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with admin_connection(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with admin_connection(url) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def set_database_available(url: str, available: bool) -> None:
    """Open or close this database to connections; closing also ends every session on it."""
    name = urlsplit(url).path.lstrip("/")
    with admin_connection(url) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(available).lower()}')
        if not available:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )


def server_env(database_url: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def manage(database_url: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        env=server_env(database_url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return result.stdout


def prepare_database(database_url: str, *, org: str = "acme") -> str:
    """Fresh database, migrated, with an organization; returns a new ingest+read API key."""
    create_database(database_url)
    manage(database_url, "migrate", "--noinput")
    manage(database_url, "create_organization", org)
    return manage(database_url, "create_api_key", org, "--name", "live").strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(database_url: str, port: int, workers: int, log, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(REPO / "periscope" / "gunicorn_conf.py")],
        env=server_env(
            database_url,
            **{
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "GUNICORN_WORKERS": str(workers),
                "GUNICORN_ACCESS_LOG": "/dev/null",
                **env,
            },
        ),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def wait_until_live(process: subprocess.Popen, url: str, log, *, what: str = "gunicorn") -> None:
    """Until `url` answers 200; the server's log in the error if it exits first."""
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{what} exited: {log.read()[-4000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within 60 s")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, as a process manager stops a server, and a kill if it lingers."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def gunicorn(database_url: str, *, workers: int = 2, error_log: str | None = None, **env: str):
    """A gunicorn server with the repo's configuration; yields its base URL.

    `error_log`: a path for its stderr (gunicorn's error log and Django's logging), to read
    after the fact; by default a temporary file shown only if the server fails to start.
    """
    port = free_port()
    # stderr to a file: a pipe nobody reads could fill up and block the server.
    opened = open(error_log, "w+") if error_log else tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    with opened as log:
        process = _start(database_url, port, workers, log, env)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_live(process, f"{base}/healthz", log)
            yield base
        finally:
            stop(process)
