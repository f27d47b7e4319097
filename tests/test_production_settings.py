"""The documented production environment (docs/deploy.md) passes `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The environment of docs/deploy.md, with placeholder values.
PRODUCTION_ENV = {
    "SECRET_KEY": "k7#Qz!v2Lr9$Wm4Xp8@Tn3^Ys6&Bd1*Hf5(Jc0)Ga7_Ue2+Ri9=Oq4~Lw8",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "periscope.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://periscope.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def manage(*args: str, env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh interpreter, outside pytest, with only `env` configured."""
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "DATABASE_URL"}
    clean.update(env)
    clean.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'check.sqlite3'}")
    clean["STATIC_ROOT"] = str(tmp_path / "static")
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        env=clean,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def issues(result: subprocess.CompletedProcess) -> list[str]:
    """The check ids reported, e.g. ['security.W004']."""
    found = []
    for line in (result.stdout + result.stderr).splitlines():
        line = line.strip()
        if line.startswith("?: (") or ": (" in line[:80]:
            found.append(line.split("(", 1)[1].split(")", 1)[0])
    return found


def test_security_checks_pass_with_the_production_environment(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        "--tag",
        "security",
        env=PRODUCTION_ENV,
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_reports_nothing(tmp_path):
    """Not even drf-spectacular's schema warnings: the schema is complete."""
    result = manage("check", "--deploy", env=PRODUCTION_ENV, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert issues(result) == [], result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "check_id"),
    [
        ("SECURE_HSTS_SECONDS", "0", "security.W004"),
        ("SECURE_SSL_REDIRECT", "0", "security.W008"),
        ("DEBUG", "1", "security.W018"),
        ("SECRET_KEY", "short", "security.W009"),
    ],
)
def test_weakening_the_environment_is_reported(tmp_path, variable, value, check_id):
    """The checks above would catch a regression: each weakened setting is flagged."""
    env = {**PRODUCTION_ENV, variable: value}
    result = manage("check", "--deploy", "--tag", "security", env=env, tmp_path=tmp_path)
    assert check_id in issues(result)


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_debug_is_off_and_cookies_secure_by_default(tmp_path):
    env = {"SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"]}
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.ALLOWED_HOSTS)",
        env=env,
        tmp_path=tmp_path,
    )
    assert result.stdout.splitlines()[-1].split() == ["False", "True", "True", "[]"], result.stderr


def test_probes_are_not_redirected_to_https(client, db, settings):
    """A load balancer probes over plain HTTP; a redirect would mark every server down."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/admin/login/").status_code == 301


def print_setting(name: str, env: dict, tmp_path: Path) -> str:
    result = manage(
        "shell", "-c", f"from django.conf import settings; print(settings.{name})",
        env=env, tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "None"),
        ("", "None"),
        ("X-Forwarded-Proto", "('HTTP_X_FORWARDED_PROTO', 'https')"),
        ("X-Forwarded-Proto: https", "('HTTP_X_FORWARDED_PROTO', 'https')"),
        ("X-Forwarded-Ssl=on", "('HTTP_X_FORWARDED_SSL', 'on')"),
    ],
)
def test_the_proxy_ssl_header_is_off_unless_configured(tmp_path, value, expected):
    env = {"SECRET_KEY": PRODUCTION_ENV["SECRET_KEY"]}
    if value is not None:
        env["SECURE_PROXY_SSL_HEADER"] = value
    assert print_setting("SECURE_PROXY_SSL_HEADER", env, tmp_path) == expected


def test_a_forged_forwarded_proto_is_not_https_by_default(client, db, settings):
    """Without a configured proxy header, a client's own X-Forwarded-Proto changes nothing."""
    from periscope.settings import proxy_ssl_header

    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = proxy_ssl_header("")
    forged = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert forged.status_code == 301 and forged["Location"].startswith("https://")
    settings.SECURE_PROXY_SSL_HEADER = proxy_ssl_header("X-Forwarded-Proto")
    assert client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200


@pytest.mark.parametrize(
    "args",
    [("--help",), ("help",), ("check",), ("create_organization", "acme"), ("migrate", "--help")],
    ids=lambda args: " ".join(args),
)
def test_a_command_without_secret_key_or_debug_says_what_to_set_in_one_line(tmp_path, args):
    """Was a traceback for every command, even --help."""
    result = manage(*args, env={}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "manage.py: SECRET_KEY must be set when DEBUG is off: set SECRET_KEY to a long random "
        "string (python3 -c 'import secrets; print(secrets.token_urlsafe(50))'), or DEBUG=1 on "
        "a development machine"
    ]
    assert result.stdout == ""


def test_a_setting_that_is_not_a_number_is_named_in_one_line(tmp_path):
    env = {**PRODUCTION_ENV, "PERISCOPE_MAX_BODY_BYTES": "1MB"}
    result = manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        "manage.py: PERISCOPE_MAX_BODY_BYTES must be an integer, not '1MB'"
    ]
