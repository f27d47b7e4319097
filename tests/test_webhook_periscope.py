"""POST /api/webhooks/deployments: the contract of seeds 000 and 001, over HTTP with real keys."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from deployments.models import Delivery, Deployment
from periscope.keys import issue_api_key, revoke_api_key
from services.models import ServiceSuggestion
from tests.factories import make_key, make_service
from tests.payloads.periscope import (
    AZURE_DEVOPS_BODY,
    GENERIC_CURL_BODY,
    GITHUB_ACTIONS_BODY,
    SEED_FAILURE,
    SEED_FULL,
    SEED_MINIMAL,
    SEED_STAGING_IN_PROGRESS,
)
from tests.webhooks import check_webhook, post_webhook, webhook_url


def error_of(response) -> str:
    assert response["Content-Type"].startswith("application/json")
    return response.json()["error"]


# --- the documented answers --------------------------------------------------------------


@pytest.mark.parametrize(
    "payload", [SEED_MINIMAL, SEED_FULL, SEED_STAGING_IN_PROGRESS, SEED_FAILURE]
)
def test_seed_examples_are_created_then_updated(api, org, key, payload):
    first = check_webhook(api, "periscope", payload, 201, key=key)
    deployment = Deployment.objects.get(organization=org, external_id=payload["deploymentId"])
    assert first.json() == {"action": "created", "deploymentId": deployment.pk, "linkedPRs": 0}

    check_webhook(
        api,
        "periscope",
        payload,
        200,
        {"action": "updated", "deploymentId": deployment.pk, "linkedPRs": 0},
        key=key,
    )
    assert Deployment.objects.filter(organization=org).count() == 1


@pytest.mark.parametrize("body", [GITHUB_ACTIONS_BODY, AZURE_DEVOPS_BODY, GENERIC_CURL_BODY])
def test_ci_snippet_bodies_are_accepted(api, org, key, body):
    response = check_webhook(api, "periscope", body, 201, key=key)
    deployment = Deployment.objects.get(pk=response.json()["deploymentId"])
    assert deployment.external_id == json.loads(body)["deploymentId"]


def test_full_payload_is_stored_field_by_field(api, org, key):
    response = post_webhook(api, "periscope", SEED_FULL, key=key)
    d = Deployment.objects.get(pk=response.json()["deploymentId"])
    assert d.organization == org
    assert d.commit_sha == SEED_FULL["commitSha"]
    assert d.environment == "production"
    assert d.status == "success"
    assert d.started_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert d.completed_at == datetime(2024, 1, 15, 10, 35, tzinfo=UTC)
    assert d.service_name == "api-gateway"
    assert d.branch == "main"
    assert d.previous_commit_sha == SEED_FULL["previousCommitSha"]
    assert d.triggered_by == "[email protected]"
    assert d.pipeline_name == "Production Deploy"
    assert d.pipeline_url == SEED_FULL["pipelineUrl"]
    assert d.metadata == SEED_FULL["metadata"]


def test_raw_payload_is_stored_as_given(api, org, key):
    raw = {"run": {"id": 7, "steps": [1, 2, {"x": None}]}}
    response = post_webhook(api, "periscope", {**SEED_MINIMAL, "rawPayload": raw}, key=key)
    assert Deployment.objects.get(pk=response.json()["deploymentId"]).raw_payload == raw


def test_unknown_fields_are_ignored(api, org, key):
    check_webhook(
        api, "periscope", {**SEED_MINIMAL, "colour": "blue", "nested": {"a": 1}}, 201, key=key
    )
    stored = Deployment.objects.get(organization=org)
    assert stored.metadata == {} and "colour" not in str(stored.raw_payload)
    # The delivery log keeps them, as sent.
    assert '"colour": "blue"' in stored.deliveries.get().body


def test_offsets_and_fractions_are_stored_in_utc(api, org, key):
    payload = {
        **SEED_MINIMAL,
        "startedAt": "2024-01-15T12:30:00.250+02:00",
        "completedAt": "2024-01-15T05:35:00-05:00",
    }
    d = Deployment.objects.get(
        pk=post_webhook(api, "periscope", payload, key=key).json()["deploymentId"]
    )
    assert d.started_at == datetime(2024, 1, 15, 10, 30, 0, 250000, tzinfo=UTC)
    assert d.completed_at == datetime(2024, 1, 15, 10, 35, tzinfo=UTC)


# --- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Token psk_abc",
        "Basic dXNlcjpwYXNz",
        "Bearer psk_" + "x" * 40,
        "Bearer not-a-key",
    ],
)
def test_missing_malformed_or_unknown_key_is_401(api, org, header):
    headers = {} if header is None else {"HTTP_AUTHORIZATION": header}
    check_webhook(
        api, "periscope", SEED_MINIMAL, 401, {"error": "Invalid or missing API key"}, **headers
    )
    assert not Deployment.objects.exists()


def test_revoked_key_is_401(api, org):
    issued = issue_api_key(organization=org, name="ci")
    revoke_api_key(api_key=issued.api_key)
    check_webhook(
        api,
        "periscope",
        SEED_MINIMAL,
        401,
        {"error": "Invalid or missing API key"},
        key=issued.plaintext,
    )
    assert not Deployment.objects.exists()


def test_key_without_ingest_scope_is_403_naming_it(api, org):
    read_only = make_key(org, scopes=("read",))
    check_webhook(
        api,
        "periscope",
        SEED_MINIMAL,
        403,
        {"error": "This API key lacks the 'ingest' scope"},
        key=read_only,
    )
    assert not Deployment.objects.exists()


def test_ingest_only_key_is_accepted(api, org):
    check_webhook(api, "periscope", SEED_MINIMAL, 201, key=make_key(org, scopes=("ingest",)))
    assert Deployment.objects.get().organization == org


def test_key_past_its_rotation_grace_is_401(api, org):
    issued = issue_api_key(organization=org, name="ci")
    issued.api_key.expires_at = timezone.now() - timedelta(seconds=1)
    issued.api_key.save()
    check_webhook(api, "periscope", SEED_MINIMAL, 401, key=issued.plaintext)
    assert not Deployment.objects.exists()


def test_use_is_recorded_on_the_key(api, org):
    issued = issue_api_key(organization=org, name="ci")
    post_webhook(api, "periscope", SEED_MINIMAL, key=issued.plaintext)
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at is not None


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["deploymentId", "commitSha", "environment", "status", "startedAt"]
)
@pytest.mark.parametrize("value", ["<absent>", "", "   ", None, 42, ["x"]])
def test_required_fields_must_be_non_empty_strings(api, org, key, field, value):
    payload = dict(SEED_MINIMAL)
    if value == "<absent>":
        del payload[field]
    else:
        payload[field] = value
    response = check_webhook(api, "periscope", payload, 400, key=key)
    message = error_of(response)
    assert message.startswith("Invalid payload: ")
    assert field in message


@pytest.mark.parametrize(
    "sha", ["abcd", "g1b2c3d4e5", "a" * 41, "a1b2 c3d4", "0x1234567", "a1b2c3d4-e5"]
)
def test_commit_sha_must_be_5_to_40_hex(api, org, key, sha):
    check_webhook(
        api,
        "periscope",
        {**SEED_MINIMAL, "commitSha": sha},
        400,
        {"error": "Invalid payload: commitSha must be a valid hex string (5-40 characters)"},
        key=key,
    )
    assert not Deployment.objects.exists()


@pytest.mark.parametrize("sha", ["abcde", "A1B2C3D4E5F6", "a" * 40])
def test_commit_sha_accepts_5_to_40_hex_any_case(api, org, key, sha):
    check_webhook(api, "periscope", {**SEED_MINIMAL, "commitSha": sha}, 201, key=key)
    assert Deployment.objects.get().commit_sha == sha.lower()


@pytest.mark.parametrize("status", ["succeeded", "SUCCESS", "failed", "done", "unknown"])
def test_status_must_be_one_of_six(api, org, key, status):
    response = check_webhook(api, "periscope", {**SEED_MINIMAL, "status": status}, 400, key=key)
    assert "status" in error_of(response)


@pytest.mark.parametrize("field", ["startedAt", "completedAt"])
@pytest.mark.parametrize(
    "value",
    ["yesterday", "2024-13-01T00:00:00Z", "2024-01-15T25:00:00Z", "15/01/2024", "1705314600"],
)
def test_dates_must_be_iso_8601(api, org, key, field, value):
    response = check_webhook(api, "periscope", {**SEED_MINIMAL, field: value}, 400, key=key)
    assert field in error_of(response)


@pytest.mark.parametrize("status", ["success", "failure", "cancelled", "rolled_back"])
def test_completed_at_is_required_for_terminal_statuses(api, org, key, status):
    payload = {**SEED_MINIMAL, "status": status}
    del payload["completedAt"]
    response = check_webhook(api, "periscope", payload, 400, key=key)
    assert "completedAt" in error_of(response)


@pytest.mark.parametrize("status", ["pending", "in_progress"])
def test_completed_at_is_optional_while_running(api, org, key, status):
    payload = {**SEED_MINIMAL, "status": status}
    del payload["completedAt"]
    check_webhook(api, "periscope", payload, 201, key=key)
    stored = Deployment.objects.get()
    assert (stored.status, stored.completed_at) == (status, None)


def test_completed_before_started_is_400(api, org, key):
    payload = {**SEED_MINIMAL, "completedAt": "2024-01-15T10:29:59Z"}
    response = check_webhook(api, "periscope", payload, 400, key=key)
    assert "completedAt" in error_of(response)


@pytest.mark.parametrize(
    "metadata, field",
    [
        ("version 2", "metadata"),
        (["a"], "metadata"),
        ({"nested": {"a": 1}}, "metadata.nested"),
        ({"list": [1]}, "metadata.list"),
        ({"nothing": None}, "metadata.nothing"),
    ],
)
def test_metadata_values_are_strings_numbers_or_booleans(api, org, key, metadata, field):
    response = check_webhook(api, "periscope", {**SEED_MINIMAL, "metadata": metadata}, 400, key=key)
    assert field in error_of(response)


@pytest.mark.parametrize("raw", ["text", [1, 2], 3])
def test_raw_payload_must_be_an_object(api, org, key, raw):
    response = check_webhook(api, "periscope", {**SEED_MINIMAL, "rawPayload": raw}, 400, key=key)
    assert "rawPayload" in error_of(response)


@pytest.mark.parametrize("field", ["service", "branch", "triggeredBy", "pipelineName"])
def test_optional_strings_must_be_strings(api, org, key, field):
    response = check_webhook(api, "periscope", {**SEED_MINIMAL, field: {"a": 1}}, 400, key=key)
    assert field in error_of(response)


def test_overlong_deployment_id_is_400_not_500(api, org, key):
    response = check_webhook(
        api, "periscope", {**SEED_MINIMAL, "deploymentId": "x" * 256}, 400, key=key
    )
    assert "deploymentId" in error_of(response)


def test_organization_slug_must_match_the_key(api, org, key, other_org):
    response = check_webhook(
        api, "periscope", {**SEED_MINIMAL, "organizationSlug": other_org.slug}, 403, key=key
    )
    assert "organizationSlug" in error_of(response)
    assert not Deployment.objects.exists()
    check_webhook(api, "periscope", {**SEED_MINIMAL, "organizationSlug": org.slug}, 201, key=key)


NOT_JSON = "Invalid payload: body is not valid JSON"
NOT_AN_OBJECT = "Invalid payload: body must be a JSON object"


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b"not json", 400, NOT_JSON),
        (b'{"deploymentId": ', 400, NOT_JSON),
        (b"\xff\xfe{}", 400, "Invalid payload: body is not valid UTF-8"),
        (b"[]", 400, NOT_AN_OBJECT),
        (b"[" + json.dumps(SEED_MINIMAL).encode() + b"]", 400, NOT_AN_OBJECT),
        (b'"a string"', 400, NOT_AN_OBJECT),
        (b"42", 400, NOT_AN_OBJECT),
        (b"null", 400, NOT_AN_OBJECT),
        (b"", 400, NOT_JSON),
        (
            b'{"deploymentId": NaN}',
            400,
            "Invalid payload: deploymentId is NaN, which is not a JSON number",
        ),
        (
            json.dumps({**SEED_MINIMAL, "service": "a\u0000b"}).encode(),
            400,
            "Invalid payload: service contains a NUL character (\\u0000), which cannot be stored",
        ),
        (b"[" * 100000, 400, NOT_JSON),
    ],
)
def test_bad_bodies_get_a_json_4xx(api, org, key, body, status, message):
    response = check_webhook(api, "periscope", body, status, key=key)
    assert response["Content-Type"].startswith("application/json")
    assert error_of(response) == message


def test_body_over_one_mebibyte_is_413(api, org, key):
    payload = {**SEED_MINIMAL, "metadata": {"blob": "x" * (1024 * 1024)}}
    response = check_webhook(api, "periscope", payload, 413, key=key)
    assert error_of(response) == "Request body exceeds 1048576 bytes"
    assert not Deployment.objects.exists()


def test_get_is_a_json_405_with_a_key(api, org, key):
    response = api.get(webhook_url("periscope"), HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 405
    assert error_of(response) == 'Method "GET" not allowed.'


# --- idempotency, ordering and the delivery log ------------------------------------------


def test_same_deployment_id_in_two_organizations_is_two_records(
    api, org, key, other_org, other_key
):
    a = post_webhook(api, "periscope", SEED_MINIMAL, key=key)
    b = post_webhook(api, "periscope", SEED_MINIMAL, key=other_key)
    assert a.status_code == b.status_code == 201
    assert a.json()["deploymentId"] != b.json()["deploymentId"]
    assert Deployment.objects.get(pk=b.json()["deploymentId"]).organization == other_org


def test_pending_then_in_progress_then_success_updates_in_place(api, org, key):
    base = {k: v for k, v in SEED_MINIMAL.items() if k != "completedAt"}
    post_webhook(api, "periscope", {**base, "status": "pending"}, key=key)
    post_webhook(api, "periscope", {**base, "status": "in_progress"}, key=key)
    check_webhook(api, "periscope", SEED_MINIMAL, 200, key=key)
    d = Deployment.objects.get()
    assert d.status == "success"
    assert d.completed_at == datetime(2024, 1, 15, 10, 35, tzinfo=UTC)
    assert list(d.deliveries.values_list("action", flat=True)) == ["created", "updated", "updated"]


@pytest.mark.parametrize("late", ["pending", "in_progress"])
def test_a_late_running_status_never_moves_a_terminal_deployment_back(api, org, key, late):
    post_webhook(api, "periscope", SEED_MINIMAL, key=key)
    stale = {**SEED_MINIMAL, "status": late, "environment": "staging"}
    del stale["completedAt"]
    response = check_webhook(api, "periscope", stale, 200, key=key)
    assert response.json()["action"] == "updated"
    d = Deployment.objects.get()
    assert d.status == "success"
    assert d.environment == "production"
    assert list(d.deliveries.values_list("action", flat=True)) == ["created", "stale"]


def test_terminal_may_change_to_another_terminal(api, org, key):
    post_webhook(api, "periscope", SEED_MINIMAL, key=key)
    post_webhook(
        api,
        "periscope",
        {**SEED_MINIMAL, "status": "rolled_back", "completedAt": "2024-01-15T11:00:00Z"},
        key=key,
    )
    d = Deployment.objects.get()
    assert d.status == "rolled_back"
    assert d.completed_at == datetime(2024, 1, 15, 11, 0, tzinfo=UTC)


def test_every_accepted_delivery_is_logged_as_sent(api, org, key):
    bodies = [json.dumps(SEED_MINIMAL), json.dumps(SEED_MINIMAL, indent=2), GENERIC_CURL_BODY]
    for body in bodies:
        post_webhook(api, "periscope", body, key=key)
    log = list(Delivery.objects.filter(organization=org).order_by("id"))
    assert [d.body for d in log] == bodies
    assert [d.action for d in log] == ["created", "duplicate", "created"]
    assert {d.source for d in log} == {"periscope"}
    assert all(d.received_at for d in log)


def test_rejected_deliveries_are_not_logged(api, org, key):
    post_webhook(api, "periscope", {**SEED_MINIMAL, "status": "bogus"}, key=key)
    assert not Delivery.objects.exists()


# --- service resolution ------------------------------------------------------------------


def test_known_service_is_matched_case_insensitively(api, org, key):
    service = make_service(org, "API-Gateway")
    response = post_webhook(api, "periscope", {**SEED_FULL, "service": "  api-gateway "}, key=key)
    d = Deployment.objects.get(pk=response.json()["deploymentId"])
    assert d.service == service
    assert not ServiceSuggestion.objects.exists()


def test_alias_matches(api, org, key):
    service = make_service(org, "Payments", aliases=["payment-service"])
    response = post_webhook(api, "periscope", SEED_FAILURE, key=key)
    assert Deployment.objects.get(pk=response.json()["deploymentId"]).service == service


def test_repository_name_matches_its_service(api, org, key):
    service = make_service(org, "Gateway", repository_url="https://github.com/acme/api-gateway")
    response = post_webhook(api, "periscope", {**SEED_FULL, "service": "acme/api-gateway"}, key=key)
    assert Deployment.objects.get(pk=response.json()["deploymentId"]).service == service


def test_unknown_service_is_kept_as_sent_and_suggested(api, org, key):
    response = post_webhook(api, "periscope", SEED_FULL, key=key)
    d = Deployment.objects.get(pk=response.json()["deploymentId"])
    assert d.service is None
    assert d.service_name == "api-gateway"
    suggestion = ServiceSuggestion.objects.get()
    assert (suggestion.organization, suggestion.name, suggestion.status) == (
        org,
        "api-gateway",
        "open",
    )
    post_webhook(api, "periscope", {**SEED_FULL, "deploymentId": "another"}, key=key)
    assert ServiceSuggestion.objects.count() == 1


def test_deployment_without_service_is_kept_without_suggestion(api, org, key):
    check_webhook(api, "periscope", SEED_MINIMAL, 201, key=key)
    assert Deployment.objects.get().service_name == ""
    assert not ServiceSuggestion.objects.exists()


def test_another_organizations_service_is_never_matched(api, org, key, other_org):
    make_service(other_org, "api-gateway")
    response = post_webhook(api, "periscope", SEED_FULL, key=key)
    d = Deployment.objects.get(pk=response.json()["deploymentId"])
    assert d.service is None
    assert ServiceSuggestion.objects.get().organization == org


def test_environment_names_are_normalized_and_kept_as_sent(api, org, key):
    response = post_webhook(api, "periscope", {**SEED_MINIMAL, "environment": " Prod "}, key=key)
    d = Deployment.objects.get(pk=response.json()["deploymentId"])
    assert (d.environment, d.environment_raw) == ("production", "Prod")
