"""POST /integrations/deploy/<key>: OpsLevel's custom deploys (seed 004) and its CLI, over HTTP.

The key is the URL: no auth header is sent.
"""

from datetime import UTC, datetime

import pytest

from deployments.models import Delivery, Deployment
from periscope.keys import issue_api_key, revoke_api_key
from services.models import ServiceSuggestion
from tests.factories import make_key, make_service
from tests.payloads import BAD_BODIES, TOO_LARGE
from tests.payloads.opslevel import CLI_BODY, CLI_GIT_BODY, DUPLICATE, OK, SEED, no_service_found
from tests.webhooks import check_webhook, post_webhook, webhook_url


def error_of(response, status=400) -> dict:
    assert response.status_code == status, response.content
    [error] = response.json()["errors"]
    assert error["status"] == status
    return error


# --- the documented answers --------------------------------------------------------------


def test_seed_example_for_a_known_service_is_ok(api, org, key):
    service = make_service(org, "Shopping Cart", aliases=["shopping_cart"])
    check_webhook(api, "opslevel", SEED, 202, OK, key=key)
    assert Deployment.objects.get(organization=org).service == service


def test_seed_example_for_an_unknown_service_is_recorded_and_suggested(api, org, key):
    check_webhook(api, "opslevel", SEED, 202, no_service_found("shopping_cart"), key=key)
    d = Deployment.objects.get(organization=org)
    assert d.service is None
    assert ServiceSuggestion.objects.get(organization=org).name == "shopping_cart"


def test_seed_not_found_alias_message(api, org, key):
    response = post_webhook(
        api, "opslevel", {**SEED, "service": "not_found_alias", "dedup_id": "x"}, key=key
    )
    assert response.json() == no_service_found("not_found_alias")


def test_seed_example_is_stored_field_by_field(api, org, key):
    post_webhook(api, "opslevel", SEED, key=key)
    d = Deployment.objects.get()
    assert (d.source, d.external_id) == ("opslevel", "9ae54794-dfc5-4ac8-b1b5-78789f20f3f8")
    assert d.status == "success"
    assert d.completed_at == datetime(2019, 2, 1, 13, 28, 33, tzinfo=UTC)
    assert d.started_at is None
    assert (d.environment, d.environment_raw) == ("production", "Production")
    assert d.description == "Deployed by CI Pipeline: Deploy #234"
    assert d.commit_sha == "38d02f1d7aab64678a7ad3eeb2ad2887ce7253f5"
    assert d.branch == "master"
    assert d.triggered_by == "[email protected]"
    assert d.metadata["deploy_number"] == "234"
    assert d.metadata["deployer"] == SEED["deployer"]
    assert d.metadata["commit"]["authoring_date"] == "2019-02-01T09:23:43+00:00"
    assert d.metadata["commit"]["date"] == "2019-02-01T09:23:43+00:00"
    assert d.metadata["commit"]["message"] == "Merge branch 'fix-tax-rate' into 'master'"
    assert d.raw_payload == SEED


def test_duplicate_dedup_id_creates_nothing_and_is_logged(api, org, key):
    assert post_webhook(api, "opslevel", SEED, key=key).json() == no_service_found("shopping_cart")
    check_webhook(api, "opslevel", {**SEED, "description": "changed"}, 202, DUPLICATE, key=key)
    d = Deployment.objects.get(organization=org)
    assert d.description == SEED["description"]  # first wins
    assert list(d.deliveries.values_list("action", flat=True)) == ["created", "duplicate"]


def test_same_dedup_id_twice_is_one_record_and_two_deliveries(api, org, key):
    post_webhook(api, "opslevel", SEED, key=key)
    post_webhook(api, "opslevel", SEED, key=key)
    assert Deployment.objects.filter(organization=org).count() == 1
    assert Delivery.objects.filter(organization=org).count() == 2


def test_a_changed_status_under_the_same_dedup_id_is_applied(api, org, key):
    post_webhook(api, "opslevel", {**SEED, "status": "running"}, key=key)
    response = post_webhook(
        api, "opslevel", {**SEED, "status": "failure", "description": "other"}, key=key
    )
    assert response.json() == DUPLICATE
    d = Deployment.objects.get()
    assert (d.status, d.description) == ("failure", SEED["description"])
    assert d.deliveries.last().action == "updated"


def test_without_dedup_id_every_post_is_a_new_deploy(api, org, key):
    payload = {k: v for k, v in SEED.items() if k != "dedup_id"}
    assert post_webhook(api, "opslevel", payload, key=key).json()["result"] == "no_service_found"
    assert post_webhook(api, "opslevel", payload, key=key).json()["result"] == "no_service_found"
    assert Deployment.objects.filter(organization=org).count() == 2


# --- the CLI -----------------------------------------------------------------------------


def test_cli_request_with_owner_repo_service(api, org, key):
    service = make_service(
        org, "shopping-cart", repository_url="https://github.com/acme/shopping-cart.git"
    )
    check_webhook(api, "opslevel", CLI_BODY, 202, OK, key=key)
    d = Deployment.objects.get()
    assert d.service == service
    assert d.completed_at == datetime(2024, 3, 5, 17, 4, 12, 123456, tzinfo=UTC)
    assert (d.status, d.triggered_by) == ("success", "automation@opslevel.com")
    # The CLI names no environment: the organization's default, "" as sent.
    assert (d.environment, d.environment_raw) == ("production", "")
    assert Delivery.objects.get().body == CLI_BODY


def test_cli_request_from_a_git_checkout(api, org, key):
    response = post_webhook(api, "opslevel", CLI_GIT_BODY, key=key)
    assert response.json() == no_service_found("acme/shopping-cart")
    d = Deployment.objects.get()
    assert (d.status, d.status_raw) == ("in_progress", "running")
    assert d.external_id == "123456789"
    assert d.pipeline_url == "http://example.com"
    assert d.metadata["commit"]["authoring_date"] == "2024-03-05T14:40:00+00:00"
    assert d.metadata["commit"]["date"] == "2024-03-05T15:58:01+00:00"


@pytest.mark.parametrize(
    "sent, expected",
    [
        ("queued", "pending"),
        ("running", "in_progress"),
        ("canceled", "cancelled"),
        ("failure", "failure"),
        ("success", "success"),
        ("SUCCESS", "success"),
        ("whatever", "unknown"),
    ],
)
def test_cli_statuses(api, org, key, sent, expected):
    post_webhook(api, "opslevel", {**SEED, "status": sent}, key=key)
    assert Deployment.objects.get().status == expected


def test_running_then_success_completes_the_deploy(api, org, key):
    post_webhook(api, "opslevel", {**SEED, "status": "running"}, key=key)
    post_webhook(api, "opslevel", {**SEED, "status": "success"}, key=key)
    assert Deployment.objects.get().status == "success"


@pytest.mark.parametrize(
    "deployed_at, expected",
    [
        ("2019-02-01 13:28:33", datetime(2019, 2, 1, 13, 28, 33, tzinfo=UTC)),
        ("2019-02-01T13:28:33Z", datetime(2019, 2, 1, 13, 28, 33, tzinfo=UTC)),
        ("2019-02-01T14:28:33+01:00", datetime(2019, 2, 1, 13, 28, 33, tzinfo=UTC)),
        ("2019-02-01 13:28:33 UTC", datetime(2019, 2, 1, 13, 28, 33, tzinfo=UTC)),
        ("2019-02-01 13:28:33 +0000", datetime(2019, 2, 1, 13, 28, 33, tzinfo=UTC)),
    ],
)
def test_deployed_at_forms(api, org, key, deployed_at, expected):
    check_webhook(api, "opslevel", {**SEED, "deployed_at": deployed_at}, 202, key=key)
    assert Deployment.objects.get().completed_at == expected


def test_deployer_name_alone_is_enough(api, org, key):
    check_webhook(api, "opslevel", {**SEED, "deployer": {"name": "Michael Scott"}}, 202, key=key)
    assert Deployment.objects.get().triggered_by == "Michael Scott"


# --- errors ------------------------------------------------------------------------------


def test_seed_error_description_missing(api, org, key):
    payload = {k: v for k, v in SEED.items() if k != "description"}
    assert error_of(post_webhook(api, "opslevel", payload, key=key)) == {
        "status": 400,
        "title": "Description Error",
        "detail": "param is missing or the value is empty: description",
    }
    assert not Deployment.objects.exists()


def test_seed_error_deployed_at_missing(api, org, key):
    payload = {k: v for k, v in SEED.items() if k != "deployed_at"}
    assert error_of(post_webhook(api, "opslevel", payload, key=key)) == {
        "status": 400,
        "title": "Deployed at Error",
        "detail": "param is missing or the value is empty: deployed_at",
    }


@pytest.mark.parametrize(
    "field, title", [("service", "Service Error"), ("deployer", "Deployer Error")]
)
@pytest.mark.parametrize("value", ["<absent>", "", None])
def test_other_required_fields(api, org, key, field, title, value):
    payload = dict(SEED)
    if value == "<absent>":
        del payload[field]
    else:
        payload[field] = value
    error = error_of(post_webhook(api, "opslevel", payload, key=key))
    assert error["title"] == title
    assert error["detail"] == f"param is missing or the value is empty: {field}"


@pytest.mark.parametrize("deployer", [{}, {"id": "1"}, {"email": "", "name": " "}])
def test_deployer_needs_email_or_name(api, org, key, deployer):
    error = error_of(post_webhook(api, "opslevel", {**SEED, "deployer": deployer}, key=key))
    assert error["detail"] == "param is missing or the value is empty: deployer"


@pytest.mark.parametrize(
    "patch, title, detail",
    [
        (
            {"deployed_at": "yesterday"},
            "Deployed at Error",
            "deployed_at must be a valid ISO 8601 date",
        ),
        (
            {"deployed_at": "2019-02-30 13:28:33"},
            "Deployed at Error",
            "deployed_at must be a valid ISO 8601 date",
        ),
        ({"deployer": "Michael"}, "Deployer Error", "deployer must be an object"),
        ({"commit": "38d02f1"}, "Commit Error", "commit must be an object"),
        (
            {"commit": {"date": "soon"}},
            "Commit date Error",
            "commit.date must be a valid ISO 8601 date",
        ),
        (
            {"commit": {"authoring_date": "x"}},
            "Commit authoring date Error",
            "commit.authoring_date must be a valid ISO 8601 date",
        ),
        ({"environment": ["prod"]}, "Environment Error", "environment must be a string"),
        ({"service": {"name": "x"}}, "Service Error", "service must be a string"),
    ],
)
def test_invalid_values_name_the_field(api, org, key, patch, title, detail):
    error = error_of(post_webhook(api, "opslevel", {**SEED, **patch}, key=key))
    assert error["title"] == title
    assert error["detail"] == detail


@pytest.mark.parametrize("body, message", BAD_BODIES)
def test_bad_bodies_are_400_in_opslevels_shape(api, org, key, body, message):
    assert error_of(post_webhook(api, "opslevel", body, key=key)) == {
        "status": 400,
        "title": "Body Error",
        "detail": message,
    }


def test_body_over_one_mebibyte_is_413(api, org, key):
    error = error_of(
        post_webhook(api, "opslevel", {**SEED, "description": "x" * 2**20}, key=key), status=413
    )
    assert error == {"status": 413, "title": "Request Entity Too Large", "detail": TOO_LARGE}


# --- the key in the URL ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["psk_" + "x" * 40, "xxxxxxxx-xxxx-xxxx-xxxxxxxxxxxx", "abc"])
def test_unknown_key_is_404_json(api, org, bad):
    error = error_of(post_webhook(api, "opslevel", SEED, key=bad), status=404)
    assert error["title"] == "Not Found"
    assert not Deployment.objects.exists()


def test_revoked_key_is_404(api, org):
    issued = issue_api_key(organization=org, name="opslevel")
    revoke_api_key(api_key=issued.api_key)
    error = error_of(post_webhook(api, "opslevel", SEED, key=issued.plaintext), status=404)
    assert error["title"] == "Not Found"
    assert not Deployment.objects.exists()


def test_read_only_key_is_403_naming_the_scope(api, org):
    error = error_of(
        post_webhook(api, "opslevel", SEED, key=make_key(org, scopes=("read",))), status=403
    )
    assert error["detail"] == "This API key lacks the 'ingest' scope"
    assert not Deployment.objects.exists()


def test_use_is_recorded_on_the_key(api, org):
    issued = issue_api_key(organization=org, name="opslevel")
    post_webhook(api, "opslevel", SEED, key=issued.plaintext)
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at is not None


def test_get_is_a_json_405(api, org, key):
    response = api.get(webhook_url("opslevel", key=key))
    assert response.status_code == 405
    assert response.json()["errors"] == [
        {"status": 405, "title": "Method Not Allowed", "detail": 'Method "GET" not allowed.'}
    ]


# --- environments and organizations ------------------------------------------------------


@pytest.mark.parametrize(
    "env, expected", [("Production", "production"), ("prod", "production"), ("live", "production")]
)
def test_environment_is_normalized_and_kept_as_sent(api, org, key, env, expected):
    post_webhook(api, "opslevel", {**SEED, "environment": env}, key=key)
    d = Deployment.objects.get()
    assert (d.environment, d.environment_raw) == (expected, env)


def test_other_organizations_alias_never_matches(api, org, key, other_org):
    make_service(other_org, "shopping_cart")
    assert post_webhook(api, "opslevel", SEED, key=key).json() == no_service_found("shopping_cart")


def test_dedup_id_is_per_organization(api, org, key, other_org, other_key):
    post_webhook(api, "opslevel", SEED, key=key)
    assert post_webhook(api, "opslevel", SEED, key=other_key).json()["result"] == "no_service_found"
    assert Deployment.objects.filter(organization=org).count() == 1
    assert Deployment.objects.filter(organization=other_org).count() == 1
