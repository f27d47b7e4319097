"""The management commands people and scripts use; their output is a contract."""

import re
from io import StringIO
from pathlib import Path

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


@pytest.mark.parametrize(
    "slug", ["Bad Slug!", "", "acme/prod", "ünïcode", "acme?x=1", "a" * 65], ids=repr
)
def test_create_organization_refuses_a_slug_that_is_not_a_url_segment(db, slug):
    """Webhook URLs carry the slug (<slug:org_slug>): one the URL cannot match was stored."""
    with pytest.raises(CommandError, match="slug"):
        run("create_organization", slug)
    assert not Organization.objects.exists()


def test_create_organization_refuses_a_name_longer_than_its_column(db):
    with pytest.raises(CommandError, match="The name is at most 200 characters"):
        run("create_organization", "acme", "--name", "n" * 201)
    assert not Organization.objects.exists()


@pytest.mark.parametrize("command", ["seed_demo", "demo"])
def test_demo_commands_refuse_a_bad_org_slug(db, command):
    with pytest.raises(CommandError, match="--org: 'Bad Slug!' is not a valid slug"):
        run(command, "--org", "Bad Slug!", "--days", "0")
    assert not Organization.objects.exists()


def test_a_valid_slug_works_in_the_webhook_urls_it_is_for(db, api):
    run("create_organization", "Acme_Prod-2")
    assert (
        api.post(
            "/api/webhooks/github/Acme_Prod-2", "{}", content_type="application/json"
        ).status_code
        == 401
    )


def readme_commands() -> list[str]:
    """The commands of the README's management command table, as printed."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Management commands", 1)[1].split("\n## ", 1)[0]
    return [
        row.split("`", 2)[1].replace("\\|", "|")
        for row in section.splitlines()
        if row.startswith("| `")
    ]


@pytest.mark.parametrize("printed", readme_commands(), ids=lambda c: c.split()[2])
def test_the_readme_command_table_shows_commands_that_exist_with_their_options(printed):
    """Each row is a command of this project, run as the README's setup installs it, and
    every option it shows is one the command accepts."""
    from django.core.management import get_commands, load_command_class

    assert printed.startswith(".venv/bin/python manage.py "), printed
    name = printed.split()[2]
    app = get_commands().get(name)
    assert app is not None and not app.startswith("django."), f"{name} is not a Periscope command"
    parser = load_command_class(app, name).create_parser("manage.py", name)
    accepted = {option for action in parser._actions for option in action.option_strings}
    shown = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", printed))
    assert shown <= accepted, shown - accepted


def periscope_commands() -> list[str]:
    from django.core.management import get_commands

    apps = {"periscope", "services", "deployments", "metrics", "demo"}
    return sorted(name for name, app in get_commands().items() if app in apps)


@pytest.mark.parametrize("name", periscope_commands())
def test_every_argument_of_every_command_says_what_it_is(name):
    from django.core.management import get_commands, load_command_class

    command = load_command_class(get_commands()[name], name)
    parser = command.create_parser("manage.py", name)
    # Django's own options (--verbosity, --settings...) have help; ours must too.
    missing = [
        action.dest for action in parser._actions if not action.help and action.dest != "help"
    ]
    assert missing == [], f"{name}: {missing} have no help text"
