"""POST /events: DevGrid's deployment events (seed 002), over HTTP with real keys."""

import json
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from deployments.models import Delivery, Deployment
from periscope.keys import issue_api_key, revoke_api_key
from services.models import ServiceSuggestion
from tests.factories import make_key, make_service
from tests.payloads import BAD_BODIES, TOO_LARGE
from tests.payloads.devgrid import (
    GITHUB_ACTIONS_BODY,
    RECOMMENDED_FIELDS,
    REQUIRED_FIELDS,
    SEED_EVENTS,
    WORKFLOW_1_CURL_BODY,
    WORKFLOW_3_CHANGE_ID,
    WORKFLOW_4_FAILED,
    WORKFLOW_5_ROLLBACK,
    WORKFLOW_6_HOTFIX,
    WORKFLOW_7_CURL_BODY,
    WORKFLOW_7_CURL_BODY_AS_PRINTED,
    bash_template_body,
    batch,
)
from tests.webhooks import check_webhook, post_webhook


def error_of(response) -> dict:
    assert response["Content-Type"].startswith("application/json")
    return response.json()


# --- the documented answers --------------------------------------------------------------


@pytest.mark.parametrize("event", SEED_EVENTS)
def test_every_seed_event_is_stored_and_returned_with_its_id(api, org, key, event):
    response = check_webhook(api, "devgrid", batch(event), 201, key=key)
    [stored] = response.json()["events"]
    deployment = Deployment.objects.get(organization=org)
    assert stored["id"] == deployment.pk
    assert stored["entityId"] == event["entityId"]
    assert stored["attributes"] == event["attributes"]
    assert deployment.source == "devgrid"
    assert deployment.service_name == event["entityId"]
    assert deployment.environment == "production"
    assert deployment.commit_sha == event["attributes"].get("build_commit_sha", "")
    assert deployment.change_id == event["attributes"].get("change_id", "")
    assert deployment.description == event["attributes"].get("description", "")


def test_recommended_fields_land_in_their_columns(api, org, key):
    post_webhook(api, "devgrid", batch(RECOMMENDED_FIELDS), key=key)
    d = Deployment.objects.get()
    assert d.status == "success"
    assert d.triggered_by == "[email protected]"
    assert d.pipeline_url == "https://..."
    assert d.metadata == {"build_id": "build-123"}
    assert d.raw_payload == RECOMMENDED_FIELDS


def test_failed_is_a_failure_and_keeps_the_word_sent(api, org, key):
    post_webhook(api, "devgrid", batch(WORKFLOW_4_FAILED), key=key)
    d = Deployment.objects.get()
    assert (d.status, d.status_raw) == ("failure", "failed")


def test_placeholder_commit_sha_is_stored_as_sent(api, org, key):
    post_webhook(api, "devgrid", batch(WORKFLOW_5_ROLLBACK), key=key)
    assert Deployment.objects.get().commit_sha == "previous-working-sha"


def test_custom_attributes_are_kept_and_filterable(api, org, key):
    post_webhook(api, "devgrid", batch(WORKFLOW_6_HOTFIX, WORKFLOW_3_CHANGE_ID), key=key)
    hotfixes = Deployment.objects.filter(organization=org, metadata__deployment_type="hotfix")
    assert [d.change_id for d in hotfixes] == ["CHG0012347"]


def test_change_id_finds_the_deployment(api, org, key):
    post_webhook(api, "devgrid", batch(WORKFLOW_3_CHANGE_ID), key=key)
    assert Deployment.objects.filter(organization=org, change_id="CHG0012345").count() == 1


def test_workflow_1_curl_body(api, org, key):
    check_webhook(api, "devgrid", WORKFLOW_1_CURL_BODY, 201, key=key)
    assert Deployment.objects.get().commit_sha == "a1b2c3d4"


def test_workflow_7_backfill_uses_the_historical_timestamp(api, org, key):
    response = check_webhook(api, "devgrid", WORKFLOW_7_CURL_BODY, 201, key=key)
    d = Deployment.objects.get()
    assert d.completed_at == datetime(2025, 1, 15, 14, 30, tzinfo=UTC)
    assert response.json()["events"][0]["timestamp"] == "2025-01-15T14:30:00Z"


def test_workflow_7_as_printed_is_not_json_and_stores_nothing(api, org, key):
    response = check_webhook(api, "devgrid", WORKFLOW_7_CURL_BODY_AS_PRINTED, 400, key=key)
    assert error_of(response)["field"] == "body"
    assert not Deployment.objects.exists()


def test_without_timestamp_the_deployment_time_is_the_time_received(api, org, key):
    before = timezone.now()
    response = post_webhook(api, "devgrid", batch(REQUIRED_FIELDS), key=key)
    after = timezone.now()
    d = Deployment.objects.get()
    assert before <= d.completed_at <= after
    assert Delivery.objects.get().received_at == d.completed_at
    assert response.json()["events"][0]["timestamp"]


@pytest.mark.parametrize(
    "status, description, expected",
    [("success", "Deployment successful", "success"), ("failed", "Deployment failed", "failure")],
)
def test_generic_bash_template(api, org, key, status, description, expected):
    body = bash_template_body(status=status, description=description)
    check_webhook(api, "devgrid", body, 201, key=key)
    d = Deployment.objects.get()
    assert (d.status, d.description, d.triggered_by) == (expected, description, "system")
    assert d.commit_sha == "unknown"


def test_bash_template_without_build_id_makes_a_new_deployment_each_time(api, org, key):
    # BUILD_ID unset sends "unknown": a placeholder, not one build id shared by every deploy.
    post_webhook(api, "devgrid", bash_template_body(), key=key)
    post_webhook(api, "devgrid", bash_template_body(), key=key)
    assert Deployment.objects.filter(organization=org).count() == 2


def test_bash_template_with_build_id_is_idempotent(api, org, key):
    post_webhook(api, "devgrid", bash_template_body(build_id="512"), key=key)
    post_webhook(api, "devgrid", bash_template_body(build_id="512", status="failed"), key=key)
    d = Deployment.objects.get()
    assert d.status == "failure"
    assert d.deliveries.count() == 2


def test_github_actions_step(api, org, key):
    check_webhook(api, "devgrid", GITHUB_ACTIONS_BODY, 201, key=key)
    d = Deployment.objects.get()
    assert d.commit_sha == "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    assert d.pipeline_url == "https://github.com/acme/my-app/actions/runs/7311245890"
    assert d.triggered_by == "octocat"
    assert d.metadata == {"build_id": "7311245890"}


def test_a_batch_is_stored_in_order_with_each_id(api, org, key):
    response = check_webhook(
        api,
        "devgrid",
        batch(WORKFLOW_3_CHANGE_ID, WORKFLOW_4_FAILED, WORKFLOW_6_HOTFIX),
        201,
        key=key,
    )
    ids = [e["id"] for e in response.json()["events"]]
    stored = {d.pk: d.status_raw for d in Deployment.objects.filter(organization=org)}
    assert [stored[i] for i in ids] == ["success", "failed", "success"]
    assert Delivery.objects.filter(organization=org).count() == 3


def test_fifteen_events_are_accepted(api, org, key):
    check_webhook(api, "devgrid", batch(*[WORKFLOW_4_FAILED] * 15), 201, key=key)
    assert Deployment.objects.count() == 15


# --- idempotency -------------------------------------------------------------------------


def test_same_build_id_twice_is_one_record_and_two_deliveries(api, org, key):
    check_webhook(api, "devgrid", batch(RECOMMENDED_FIELDS), 201, key=key)
    again = check_webhook(api, "devgrid", batch(RECOMMENDED_FIELDS), 201, key=key)
    d = Deployment.objects.get(organization=org)
    assert again.json()["events"][0]["id"] == d.pk
    assert d.deliveries.count() == 2
    assert d.deliveries.first().action == "created"


def test_an_identical_repeat_with_a_timestamp_changes_nothing(api, org, key):
    event = {**RECOMMENDED_FIELDS, "timestamp": "2025-01-15T14:30:00Z"}
    post_webhook(api, "devgrid", batch(event), key=key)
    post_webhook(api, "devgrid", batch(event), key=key)
    d = Deployment.objects.get(organization=org)
    assert list(d.deliveries.values_list("action", flat=True)) == ["created", "duplicate"]


def test_a_repeat_build_id_updates(api, org, key):
    post_webhook(api, "devgrid", batch(RECOMMENDED_FIELDS), key=key)
    changed = json.loads(json.dumps(RECOMMENDED_FIELDS))
    changed["attributes"]["status"] = "failed"
    post_webhook(api, "devgrid", batch(changed), key=key)
    d = Deployment.objects.get()
    assert d.status == "failure"
    assert d.deliveries.last().action == "updated"


def test_build_id_is_per_service_and_environment(api, org, key):
    staging = json.loads(json.dumps(RECOMMENDED_FIELDS))
    staging["attributes"]["env"] = "staging"
    other_app = {**RECOMMENDED_FIELDS, "entityId": "other-app"}
    post_webhook(api, "devgrid", batch(RECOMMENDED_FIELDS, staging, other_app), key=key)
    assert Deployment.objects.filter(organization=org).count() == 3


def test_without_build_id_every_event_is_new(api, org, key):
    post_webhook(api, "devgrid", batch(REQUIRED_FIELDS), key=key)
    post_webhook(api, "devgrid", batch(REQUIRED_FIELDS), key=key)
    assert Deployment.objects.filter(organization=org).count() == 2


# --- environments and statuses -----------------------------------------------------------


@pytest.mark.parametrize(
    "env, expected",
    [
        ("production", "production"),
        ("Production", "production"),
        ("prod", "production"),
        (" PRD ", "production"),
        ("live", "production"),
        ("staging", "staging"),
        ("stg", "staging"),
        ("dev", "development"),
        ("development", "development"),
        ("qa", "qa"),
    ],
)
def test_environment_names_are_normalized_and_kept_as_sent(api, org, key, env, expected):
    event = {**REQUIRED_FIELDS, "attributes": {"env": env, "status": "success"}}
    post_webhook(api, "devgrid", batch(event), key=key)
    d = Deployment.objects.get()
    assert (d.environment, d.environment_raw) == (expected, env.strip())


@pytest.mark.parametrize(
    "sent, expected",
    [
        ("success", "success"),
        ("SUCCESS", "success"),
        ("Succeeded", "success"),
        ("failed", "failure"),
        ("FAILURE", "failure"),
        ("UNSTABLE", "failure"),
        ("timed_out", "failure"),
        ("ABORTED", "cancelled"),
        ("canceled", "cancelled"),
        ("NOT_BUILT", "unknown"),
        ("skipped", "unknown"),
        ("deployed", "unknown"),
    ],
)
def test_statuses_go_through_the_vendor_table(api, org, key, sent, expected):
    event = {**REQUIRED_FIELDS, "attributes": {"env": "production", "status": sent}}
    check_webhook(api, "devgrid", batch(event), 201, key=key)
    d = Deployment.objects.get()
    assert (d.status, d.status_raw) == (expected, sent)


# --- services ----------------------------------------------------------------------------


def test_entity_id_matches_a_service_by_name_or_alias(api, org, key):
    service = make_service(org, "My App", aliases=["my-app"])
    post_webhook(api, "devgrid", batch(WORKFLOW_3_CHANGE_ID), key=key)
    assert Deployment.objects.get().service == service
    assert not ServiceSuggestion.objects.exists()


def test_unknown_entity_id_becomes_a_suggestion(api, org, key):
    post_webhook(api, "devgrid", batch(WORKFLOW_3_CHANGE_ID), key=key)
    assert Deployment.objects.get().service is None
    assert ServiceSuggestion.objects.get(organization=org).name == "my-app"


# --- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "psk_" + "x" * 40, "not-a-key"])
def test_missing_or_wrong_key_is_401(api, org, header):
    headers = {} if header is None else {"HTTP_X_API_KEY": header}
    response = check_webhook(api, "devgrid", batch(REQUIRED_FIELDS), 401, **headers)
    assert error_of(response) == {"error": "Invalid or missing API key"}
    assert not Deployment.objects.exists()


def test_bearer_header_is_not_devgrids_header(api, org, key):
    check_webhook(
        api, "devgrid", batch(REQUIRED_FIELDS), 401, {"error": "Invalid or missing API key"},
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )  # fmt: skip
    assert not Deployment.objects.exists()


def test_revoked_key_is_401(api, org):
    issued = issue_api_key(organization=org, name="ci")
    revoke_api_key(api_key=issued.api_key)
    check_webhook(
        api,
        "devgrid",
        batch(REQUIRED_FIELDS),
        401,
        {"error": "Invalid or missing API key"},
        key=issued.plaintext,
    )
    assert not Deployment.objects.exists()


def test_read_only_key_is_403_naming_the_scope(api, org):
    check_webhook(
        api,
        "devgrid",
        batch(REQUIRED_FIELDS),
        403,
        {"error": "This API key lacks the 'ingest' scope"},
        key=make_key(org, scopes=("read",)),
    )
    assert not Deployment.objects.exists()


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"events": []}, {"events": "x"}, {"events": None}, {"event": [REQUIRED_FIELDS]}],
)
def test_events_must_be_a_non_empty_array(api, org, key, body):
    response = check_webhook(api, "devgrid", body, 400, key=key)
    assert error_of(response)["field"] == "events"


def test_more_than_fifteen_events_is_413(api, org, key):
    response = check_webhook(api, "devgrid", batch(*[REQUIRED_FIELDS] * 16), 413, key=key)
    assert "15" in error_of(response)["error"]
    assert not Deployment.objects.exists()


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda e: e.pop("type"), "events[1].type"),
        (lambda e: e.update(type=""), "events[1].type"),
        (lambda e: e.pop("entityId"), "events[1].entityId"),
        (lambda e: e.update(entityId=7), "events[1].entityId"),
        (lambda e: e.pop("attributes"), "events[1].attributes"),
        (lambda e: e.update(attributes=["env"]), "events[1].attributes"),
        (lambda e: e["attributes"].pop("env"), "events[1].attributes.env"),
        (lambda e: e["attributes"].update(env=""), "events[1].attributes.env"),
        (lambda e: e["attributes"].pop("status"), "events[1].attributes.status"),
        (lambda e: e["attributes"].update(status=None), "events[1].attributes.status"),
        (lambda e: e["attributes"].update(change_id={"a": 1}), "events[1].attributes.change_id"),
        (lambda e: e.update(timestamp="yesterday"), "events[1].timestamp"),
        (lambda e: e.update(timestamp="2025-13-01T00:00:00Z"), "events[1].timestamp"),
    ],
)
def test_an_invalid_event_names_its_index_and_field_and_nothing_is_stored(
    api, org, key, mutate, field
):
    bad = json.loads(json.dumps(WORKFLOW_3_CHANGE_ID))
    mutate(bad)
    response = check_webhook(
        api, "devgrid", batch(WORKFLOW_4_FAILED, bad, WORKFLOW_6_HOTFIX), 400, key=key
    )
    body = error_of(response)
    assert body["index"] == 1
    assert body["field"] == field
    assert field in body["error"]
    assert not Deployment.objects.exists()
    assert not Delivery.objects.exists()


def test_an_unknown_type_is_named(api, org, key):
    response = check_webhook(
        api, "devgrid", batch({**REQUIRED_FIELDS, "type": "event-incident"}), 400, key=key
    )
    body = error_of(response)
    assert "event-incident" in body["error"]
    assert (body["index"], body["field"]) == (0, "events[0].type")


def test_an_event_that_is_not_an_object_is_named(api, org, key):
    response = check_webhook(api, "devgrid", batch(REQUIRED_FIELDS, "event-deploy"), 400, key=key)
    assert error_of(response)["index"] == 1


@pytest.mark.parametrize("body, message", BAD_BODIES)
def test_bad_bodies_are_json_400(api, org, key, body, message):
    response = check_webhook(api, "devgrid", body, 400, key=key)
    assert error_of(response)["error"] == message


def test_body_over_one_mebibyte_is_413(api, org, key):
    event = {**REQUIRED_FIELDS, "attributes": {**REQUIRED_FIELDS["attributes"], "x": "y" * 2**20}}
    response = check_webhook(api, "devgrid", batch(event), 413, key=key)
    assert error_of(response)["error"] == TOO_LARGE


# --- organizations -----------------------------------------------------------------------


def test_other_organizations_service_never_matches(api, org, key, other_org, other_key):
    make_service(other_org, "my-app")
    post_webhook(api, "devgrid", batch(WORKFLOW_3_CHANGE_ID), key=key)
    d = Deployment.objects.get(organization=org)
    assert d.service is None
    assert ServiceSuggestion.objects.filter(organization=org).count() == 1


def test_each_key_writes_to_its_own_organization(api, org, key, other_org, other_key):
    post_webhook(api, "devgrid", batch(RECOMMENDED_FIELDS), key=key)
    post_webhook(api, "devgrid", batch(RECOMMENDED_FIELDS), key=other_key)
    assert Deployment.objects.filter(organization=org).count() == 1
    assert Deployment.objects.filter(organization=other_org).count() == 1
    for organization in (org, other_org):
        assert Delivery.objects.filter(organization=organization, action="created").count() == 1
