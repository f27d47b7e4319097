"""Starting the test OpenID Connect provider (tests/oidc_provider/) and signing in at it.

The provider is a separate gunicorn process with its own settings and SQLite database;
Periscope reaches it over HTTP for discovery, keys, the token and userinfo, and the test plays
the browser: it follows Periscope's redirect to the provider, fills in the provider's login
form, and brings the provider's redirect back to Periscope's callback.
"""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.live_servers import REPO, free_port, stop, wait_until_live

CLIENT_ID = "periscope-admin"
CLIENT_SECRET = "test-client-secret-0123456789"
PASSWORD = "provider-pw-1"
# Periscope runs in the test's process, behind Django's test client.
PERISCOPE = "http://testserver"
CALLBACK = f"{PERISCOPE}/sso/callback/"


@dataclass(frozen=True)
class Provider:
    base: str
    database: Path

    @property
    def issuer(self) -> str:
        return f"{self.base}/openid"

    def set_groups(self, username: str, groups: list[str]) -> None:
        """Changes a person's groups at the provider, as its administrator would."""
        with sqlite3.connect(self.database) as db:
            (user_id,) = db.execute(
                "SELECT id FROM auth_user WHERE username = ?", [username]
            ).fetchone()
            db.execute("DELETE FROM auth_user_groups WHERE user_id = ?", [user_id])
            for name in groups:
                db.execute("INSERT OR IGNORE INTO auth_group (name) VALUES (?)", [name])
                (group_id,) = db.execute(
                    "SELECT id FROM auth_group WHERE name = ?", [name]
                ).fetchone()
                db.execute(
                    "INSERT INTO auth_user_groups (user_id, group_id) VALUES (?, ?)",
                    [user_id, group_id],
                )


def _env(database: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
            "OIDC_PROVIDER_DB": str(database),
            "PYTHONPATH": str(REPO),
            **extra,
        }
    )
    return env


@contextmanager
def oidc_provider(users: list[dict]):
    """A running provider with `users` ({"username", "email", "groups"}) and one
    confidential client for Periscope; yields a Provider."""
    with tempfile.TemporaryDirectory(prefix="oidc-provider-") as folder:
        database = Path(folder) / "provider.sqlite3"
        spec = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [CALLBACK],
            "users": [{"password": PASSWORD, **user} for user in users],
        }
        subprocess.run(
            [sys.executable, "-m", "tests.oidc_provider.prepare", json.dumps(spec)],
            env=_env(database),
            cwd=REPO,
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = free_port()
        with open(Path(folder) / "provider.log", "w+") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "tests.oidc_provider.wsgi:application",
                ],
                env=_env(database),
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            try:
                provider = Provider(base=f"http://127.0.0.1:{port}", database=database)
                wait_until_live(
                    process,
                    f"{provider.issuer}/.well-known/openid-configuration",
                    log,
                    what="the test provider",
                )
                yield provider
            finally:
                stop(process)


def sign_in_at_provider(authorization_url: str, *, username: str) -> str:
    """Plays the browser at the provider: opens the authorization URL, signs in with the
    login form, and returns the URL the provider redirects back to (Periscope's callback)."""
    with httpx.Client(timeout=30) as browser:
        url = authorization_url
        for _ in range(10):
            response = browser.get(url)
            if response.status_code == 200 and "csrfmiddlewaretoken" in response.text:
                response = browser.post(
                    url,
                    data={
                        "username": username,
                        "password": PASSWORD,
                        "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                    },
                )
            if response.status_code not in (301, 302, 303):
                raise AssertionError(
                    f"the provider answered {response.status_code}: {response.text[:500]}"
                )
            url = str(response.url.join(response.headers["location"]))
            if url.startswith(PERISCOPE):
                return url
        raise AssertionError("the provider never redirected back to Periscope")


def local_path(url: str) -> str:
    """An absolute Periscope URL as the path + query Django's test client takes."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
