"""POST /api/hooks/v2/deployment: Hivel's deployment events (seed 003), over HTTP."""

from datetime import UTC, datetime

import pytest

from deployments.models import Delivery, Deployment
from periscope.keys import issue_api_key, revoke_api_key
from services.models import ServiceSuggestion
from tests.factories import make_key, make_service
from tests.payloads import BAD_BODIES, TOO_LARGE
from tests.payloads.hivel import REQUIRED, SEED, SEED_CURL_BODY, SEED_SUCCESS_RESPONSE
from tests.webhooks import check_webhook, post_webhook


def validation_error(response) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["message"] == "Validation failed"
    assert set(body) == {"message", "error"}
    return body["error"]


# --- the documented answers --------------------------------------------------------------


def test_seed_curl_example_gets_the_seed_response(api, org, key):
    check_webhook(api, "hivel", SEED_CURL_BODY, 200, SEED_SUCCESS_RESPONSE, key=key)
    assert Deployment.objects.get(organization=org).external_id == "deploy-20250922-1200"


def test_seed_example_is_stored_field_by_field(api, org, key):
    post_webhook(api, "hivel", SEED_CURL_BODY, key=key)
    d = Deployment.objects.get(organization=org)
    assert (d.source, d.external_id) == ("hivel", "deploy-20250922-1200")
    assert (d.status, d.status_raw) == ("success", "success")
    assert d.repository_url == "https://github.com/hivelai/webhook-logger"
    assert d.service_name == "https://github.com/hivelai/webhook-logger"
    assert d.service_key == "hivelai/webhook-logger"
    assert d.commit_sha == "abc123def456789012345678901234567890abcd"
    assert d.environment == "production"
    assert d.branch == "main"
    assert d.started_at == datetime(2025, 9, 22, 12, 0, tzinfo=UTC)
    assert d.completed_at == datetime(2025, 9, 22, 12, 15, 30, tzinfo=UTC)
    assert d.pipeline_url == "https://logs.example.com/deploy/20250922-1200"
    assert d.metadata == {
        "pr_number": "71",
        "pr_numbers": [71, 35, 23],
        "build_number": "12345",
        "image": "company/api-service:v1.2.3",
        "logs_url": "https://logs.example.com/deploy/20250922-1200",
    }
    assert d.raw_payload == SEED
    assert Delivery.objects.get().body == SEED_CURL_BODY


def test_a_repeat_updates_and_answers_the_same(api, org, key):
    post_webhook(api, "hivel", SEED, key=key)
    check_webhook(api, "hivel", {**SEED, "status": "failed"}, 200, SEED_SUCCESS_RESPONSE, key=key)
    d = Deployment.objects.get(organization=org)
    assert d.status == "failure"


def test_same_deployment_id_twice_is_one_record_and_two_deliveries(api, org, key):
    post_webhook(api, "hivel", SEED, key=key)
    post_webhook(api, "hivel", SEED, key=key)
    d = Deployment.objects.get(organization=org)
    assert list(d.deliveries.values_list("action", flat=True)) == ["created", "duplicate"]


def test_numeric_deployment_id_is_echoed_as_sent(api, org, key):
    response = check_webhook(api, "hivel", {**SEED, "deployment_id": 4521}, 200, key=key)
    assert response.json()["deployment_id"] == 4521
    assert Deployment.objects.get().external_id == "4521"


def test_commit_and_optional_fields_may_be_absent(api, org, key):
    payload = {name: SEED[name] for name in REQUIRED}
    check_webhook(api, "hivel", payload, 200, key=key)
    d = Deployment.objects.get()
    assert (d.commit_sha, d.metadata) == ("", {})


# --- timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, end",
    [
        ("2025-11-19T10:20:32Z", "2025-11-19T10:20:32.846Z"),
        (1700385632, 1700385632846),
        ("1700385632", "1700385632846"),
        (1700385632846, "2023-11-19T09:20:33Z"),
        ("2023-11-19T10:20:32+01:00", 1700385632.5),
    ],
)
def test_seed_timestamp_formats(api, org, key, start, end):
    check_webhook(api, "hivel", {**SEED, "start_time": start, "end_time": end}, 200, key=key)
    d = Deployment.objects.get()
    assert d.started_at.tzinfo is not None
    assert d.started_at <= d.completed_at


def test_epoch_seconds_and_milliseconds_mean_the_same_instant(api, org, key):
    post_webhook(
        api, "hivel", {**SEED, "start_time": 1700385632, "end_time": 1700385632846}, key=key
    )
    d = Deployment.objects.get()
    assert d.started_at == datetime(2023, 11, 19, 9, 20, 32, tzinfo=UTC)
    assert d.completed_at == datetime(2023, 11, 19, 9, 20, 32, 846000, tzinfo=UTC)


def test_start_after_end_is_the_seed_error(api, org, key):
    response = post_webhook(
        api,
        "hivel",
        {**SEED, "start_time": "2025-09-22T12:15:31Z", "end_time": SEED["end_time"]},
        key=key,
    )
    assert validation_error(response) == "Start time cannot be after end time"
    assert not Deployment.objects.exists()


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01T00:00:00Z", True, [1], {"t": 1}])
@pytest.mark.parametrize("field", ["start_time", "end_time"])
def test_bad_timestamps_name_the_field(api, org, key, field, value):
    assert field in validation_error(post_webhook(api, "hivel", {**SEED, field: value}, key=key))


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize("field", REQUIRED)
@pytest.mark.parametrize("value", ["<absent>", "", None])
def test_a_missing_required_field_is_named(api, org, key, field, value):
    payload = dict(SEED)
    if value == "<absent>":
        del payload[field]
    else:
        payload[field] = value
    assert field in validation_error(post_webhook(api, "hivel", payload, key=key))
    assert not Deployment.objects.exists()


@pytest.mark.parametrize("event_type", ["started", "Completed", "done"])
def test_event_type_must_be_completed(api, org, key, event_type):
    error = validation_error(
        post_webhook(api, "hivel", {**SEED, "event_type": event_type}, key=key)
    )
    assert "event_type" in error and '"completed"' in error


@pytest.mark.parametrize(
    "field, value",
    [
        ("pr_numbers", "71,35"),
        ("pr_numbers", [71, None]),
        ("pr_number", {"n": 71}),
        ("commit_hash", 123),
        ("image", ["a"]),
        ("branch", 5),
    ],
)
def test_optional_fields_of_the_wrong_type_are_named(api, org, key, field, value):
    assert field in validation_error(post_webhook(api, "hivel", {**SEED, field: value}, key=key))


@pytest.mark.parametrize("body, message", BAD_BODIES)
def test_bad_bodies_are_validation_errors(api, org, key, body, message):
    assert validation_error(post_webhook(api, "hivel", body, key=key)) == message


def test_body_over_one_mebibyte_is_413(api, org, key):
    response = check_webhook(api, "hivel", {**SEED, "image": "x" * 2**20}, 413, key=key)
    assert response.json() == {"message": "Request Entity Too Large", "error": TOO_LARGE}


# --- statuses: the seed's normalization table --------------------------------------------


@pytest.mark.parametrize(
    "sent, expected",
    [
        # Hivel's own four values
        ("success", "success"),
        ("failed", "failure"),
        ("cancelled", "cancelled"),
        ("unknown", "unknown"),
        # Jenkins
        ("SUCCESS", "success"),
        ("FAILURE", "failure"),
        ("UNSTABLE", "failure"),
        ("ABORTED", "cancelled"),
        ("NOT_BUILT", "unknown"),
        # GitHub Actions
        ("failure", "failure"),
        ("timed_out", "failure"),
        ("canceled", "cancelled"),
        ("neutral", "unknown"),
        ("skipped", "unknown"),
        ("stale", "unknown"),
        ("action_required", "unknown"),
        # GitLab CI
        ("manual", "unknown"),
        ("pending", "unknown"),
        ("running", "unknown"),
        # CircleCI
        ("timedout", "failure"),
        ("infrastructure_fail", "failure"),
        ("not_run", "unknown"),
        ("on_hold", "unknown"),
        ("queued", "unknown"),
        # Argo Workflows
        ("Succeeded", "success"),
        ("Failed", "failure"),
        ("Error", "failure"),
        ("Skipped", "unknown"),
        ("Omitted", "unknown"),
        ("Pending", "unknown"),
        ("Running", "unknown"),
        # Azure DevOps
        ("succeeded", "success"),
        ("partiallySucceeded", "unknown"),
        ("succeededWithIssues", "unknown"),
        # Argo CD
        ("Degraded", "failure"),
        ("Progressing", "unknown"),
        ("Missing", "unknown"),
        ("Suspended", "unknown"),
        # any other provider
        ("deployed", "unknown"),
        ("green", "unknown"),
    ],
)
def test_status_normalization_table(api, org, key, sent, expected):
    check_webhook(api, "hivel", {**SEED, "status": sent}, 200, key=key)
    d = Deployment.objects.get()
    assert (d.status, d.status_raw) == (expected, sent)


# --- environments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env, expected",
    [
        ("Production", "production"),
        ("prod", "production"),
        ("stg", "staging"),
        ("dev", "development"),
    ],
)
def test_environment_is_normalized_and_kept_as_sent(api, org, key, env, expected):
    post_webhook(api, "hivel", {**SEED, "environment": env}, key=key)
    d = Deployment.objects.get()
    assert (d.environment, d.environment_raw) == (expected, env)


# --- services by repository --------------------------------------------------------------


@pytest.mark.parametrize(
    "repo_url",
    [
        "https://github.com/hivelai/webhook-logger",
        "https://github.com/hivelai/webhook-logger.git",
        "git@github.com:hivelai/webhook-logger.git",
        "hivelai/webhook-logger",
        "https://github.com/HivelAI/Webhook-Logger/",
    ],
)
def test_every_form_of_the_repository_matches_the_service(api, org, key, repo_url):
    service = make_service(
        org, "webhook-logger", repository_url="https://github.com/hivelai/webhook-logger.git"
    )
    post_webhook(api, "hivel", {**SEED, "repo_url": repo_url}, key=key)
    assert Deployment.objects.get().service == service


def test_an_alias_in_another_form_matches(api, org, key):
    service = make_service(org, "logger", aliases=["git@github.com:hivelai/webhook-logger.git"])
    post_webhook(api, "hivel", SEED, key=key)
    assert Deployment.objects.get().service == service


def test_unknown_repository_becomes_a_suggestion(api, org, key):
    post_webhook(api, "hivel", SEED, key=key)
    assert Deployment.objects.get().service is None
    suggestion = ServiceSuggestion.objects.get(organization=org)
    assert suggestion.key == "hivelai/webhook-logger"


# --- authentication and organizations ----------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "YOUR_TOKEN", "psk_" + "x" * 40])
def test_missing_or_wrong_token_is_401(api, org, header):
    headers = {} if header is None else {"HTTP_X_API_TOKEN": header}
    response = check_webhook(api, "hivel", SEED, 401, **headers)
    assert response.json()["error"] == "Invalid or missing API key"
    assert not Deployment.objects.exists()


def test_revoked_token_is_401_read_only_token_403(api, org):
    issued = issue_api_key(organization=org, name="ci")
    revoke_api_key(api_key=issued.api_key)
    check_webhook(api, "hivel", SEED, 401, key=issued.plaintext)
    read_only = check_webhook(api, "hivel", SEED, 403, key=make_key(org, scopes=("read",)))
    assert read_only.json()["error"] == "This API key lacks the 'ingest' scope"


def test_x_api_key_header_is_not_hivels_header(api, org, key):
    response = check_webhook(api, "hivel", SEED, 401, HTTP_X_API_KEY=key)
    assert response.json()["error"] == "Invalid or missing API key"
    assert not Deployment.objects.exists()


def test_other_organizations_repository_never_matches(api, org, key, other_org):
    make_service(other_org, "logger", repository_url="https://github.com/hivelai/webhook-logger")
    post_webhook(api, "hivel", SEED, key=key)
    assert Deployment.objects.get(organization=org).service is None


def test_same_deployment_id_in_two_organizations_is_two_records(
    api, org, key, other_org, other_key
):
    post_webhook(api, "hivel", SEED, key=key)
    post_webhook(api, "hivel", {**SEED, "status": "failed"}, key=other_key)
    assert Deployment.objects.get(organization=org).status == "success"
    assert Deployment.objects.get(organization=other_org).status == "failure"


def test_pr_numbers_past_the_documented_maximum_are_refused(api, org, key, other_org):
    from deployments.models import PullRequest

    body = {**SEED, "pr_number": None, "pr_numbers": list(range(1, 102))}
    assert validation_error(post_webhook(api, "hivel", body, key=key)) == (
        "pr_numbers may list at most 100 pull requests"
    )
    assert not Deployment.objects.exists() and not PullRequest.objects.exists()


def test_one_hundred_pr_numbers_cost_a_few_statements(
    api, org, key, other_org, django_assert_max_num_queries
):
    from deployments.models import PullRequest

    body = {**SEED, "pr_number": None, "pr_numbers": list(range(1, 101))}
    # Constant in the PR count; ~10 of them refresh the metrics rollups (deployments/rollups).
    with django_assert_max_num_queries(55):
        check_webhook(api, "hivel", body, 200, key=key)
    assert PullRequest.objects.filter(organization=org).count() == 100
    assert not PullRequest.objects.filter(organization=other_org).exists()
