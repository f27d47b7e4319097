"""The management commands people and scripts use; their output is a contract."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from deployments.models import EnvironmentAlias
from periscope.keys import find_active_key
from periscope.models import ApiKey, Organization


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_organization_creates_once_and_seeds_environment_aliases(db):
    assert "created" in run("create_organization", "acme", "--name", "Acme Inc")
    assert "exists" in run("create_organization", "acme")
    org = Organization.objects.get(slug="acme")
    assert org.name == "Acme Inc"
    aliases = dict(
        EnvironmentAlias.objects.filter(organization=org).values_list("name", "environment")
    )
    assert aliases["prod"] == aliases["prd"] == aliases["live"] == "production"
    assert aliases["stage"] == aliases["stg"] == "staging"
    assert aliases["dev"] == "development"


def test_create_api_key_prints_the_key_alone_on_the_last_line(db):
    run("create_organization", "acme")
    out = run("create_api_key", "acme", "--name", "ci")
    last = out.rstrip("\n").splitlines()[-1]
    assert last.startswith("psk_") and " " not in last
    key = find_active_key(plaintext=last)
    assert key.name == "ci"
    assert key.organization.slug == "acme"
    assert key.scopes == ["ingest", "read"]


def test_create_api_key_with_scopes(db):
    run("create_organization", "acme")
    out = run("create_api_key", "acme", "--scope", "read")
    assert find_active_key(plaintext=out.splitlines()[-1]).scopes == ["read"]


def test_create_api_key_for_unknown_organization_fails(db):
    with pytest.raises(CommandError, match="nope"):
        run("create_api_key", "nope")


def test_revoke_api_key_by_prefix(db):
    run("create_organization", "acme")
    plaintext = run("create_api_key", "acme").splitlines()[-1]
    prefix = ApiKey.objects.get().prefix
    assert plaintext.startswith(prefix)
    assert "Revoked" in run("revoke_api_key", prefix)
    assert find_active_key(plaintext=plaintext) is None
    assert "already revoked" in run("revoke_api_key", prefix)
    with pytest.raises(CommandError):
        run("revoke_api_key", "psk_nothere")


def test_demo_prints_a_working_key_and_curl(db):
    out = run("demo", "--days", "7")
    key_line = next(line for line in out.splitlines() if line.startswith("API key"))
    plaintext = key_line.split()[-1]
    assert find_active_key(plaintext=plaintext).organization.slug == "demo"
    assert f"Authorization: Bearer {plaintext}" in out
    assert "curl" in out


def test_set_webhook_secret_sets_and_replaces(db):
    from periscope.secrets import webhook_secret

    run("create_organization", "acme")
    org = Organization.objects.get(slug="acme")
    assert "github" in run("set_webhook_secret", "acme", "github", "--secret", "s3cret")
    run("set_webhook_secret", "acme", "github", "--secret", "n3w")
    assert webhook_secret(organization=org, provider="github") == "n3w"
    assert webhook_secret(organization=org, provider="gitlab") is None
    with pytest.raises(CommandError):
        run("set_webhook_secret", "nope", "github", "--secret", "x")
