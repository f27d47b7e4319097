"""A deployment's delivery log with diffs, the deliveries count and the "more than once" filter."""

import html
import json
import re

from deployments.models import Deployment
from deployments.recording.delivery_log import body_diff, delivery_log, pretty_body
from tests.admin_helpers import deliver

CHANGELIST = "/admin/deployments/deployment/"


def test_pretty_body_ignores_key_order_and_keeps_non_json():
    assert pretty_body('{"b": 1, "a": 2}') == pretty_body('{"a": 2, "b": 1}')
    assert pretty_body("status=ok") == "status=ok"


def test_diff_names_the_changed_lines_only():
    before = pretty_body(json.dumps({"status": "in_progress", "service": "web"}))
    after = pretty_body(json.dumps({"status": "success", "service": "web"}))
    diff = body_diff(before, after)
    assert '-  "status": "in_progress"' in diff
    assert '+  "status": "success"' in diff
    assert not any("service" in line and line[0] in "+-" for line in diff)


def test_the_deployment_page_shows_every_delivery_with_its_diff(admin_client, api, org, key):
    deliver(api, key, "d-1", status="in_progress", completedAt=None, service="web")
    deliver(api, key, "d-1", status="success", service="web")
    deliver(api, key, "d-1", status="success", service="web")
    deliver(api, key, "d-1", status="in_progress", completedAt=None, service="web")
    deployment = Deployment.objects.get(external_id="d-1")

    entries = delivery_log(deployment=deployment)
    assert [e.delivery.action for e in entries] == ["created", "updated", "duplicate", "stale"]
    assert entries[0].diff is None and entries[2].diff == []

    page = admin_client.get(f"{CHANGELIST}{deployment.pk}/change/")
    assert page.status_code == 200
    text = html.unescape(page.content.decode())
    assert "Delivery log" in text
    for label in ["Created", "Updated", "Duplicate (nothing changed)", "Ignored as stale"]:
        assert f"<td>{label}</td>" in text
    assert text.count("<td>Periscope</td>") == 4
    assert '<span class="diff-del">-  "status": "in_progress"</span>' in text
    assert '<span class="diff-add">+  "status": "success"</span>' in text
    assert '+  "completedAt": "2024-01-15T10:35:00Z",' in text
    assert "identical body" in text and "first delivery" in text
    assert '"deploymentId": "d-1"' in text  # the body as sent, pretty-printed


def test_list_counts_deliveries_and_filters_more_than_once(admin_client, api, org, key):
    deliver(api, key, "once")
    for _ in range(3):
        deliver(api, key, "thrice")

    listing = admin_client.get(CHANGELIST)
    counts = {d.external_id: d._deliveries for d in listing.context["cl"].result_list}
    assert counts == {"once": 1, "thrice": 3}
    assert "delivered more than once" in listing.content.decode()

    many = admin_client.get(CHANGELIST, {"delivered": "many"})
    assert [d.external_id for d in many.context["cl"].result_list] == ["thrice"]
    once = admin_client.get(CHANGELIST, {"delivered": "once"})
    assert [d.external_id for d in once.context["cl"].result_list] == ["once"]


def test_suggestion_link_filters_deployments_by_name_sent(admin_client, api, org, key):
    deliver(api, key, "w-1", service="Web")
    deliver(api, key, "o-1", service="other")
    listing = admin_client.get(
        CHANGELIST, {"organization__id__exact": org.pk, "service_key": "web"}
    )
    assert [d.external_id for d in listing.context["cl"].result_list] == ["w-1"]


def test_devgrid_deployments_are_listed_by_what_the_sender_knows(admin_client, api, org, key):
    from tests.webhooks import post_webhook

    built = {
        "type": "event-deploy",
        "entityId": "billing",
        "timestamp": "2026-11-02T09:15:00Z",
        "attributes": {"env": "production", "status": "success", "build_id": "777"},
    }
    unbuilt = {**built, "attributes": {"env": "production", "status": "success"}}
    for payload in (built, unbuilt):
        response = post_webhook(api, "devgrid", {"events": [payload]}, key=key)
        assert response.status_code in (200, 201, 202), response.content

    listing = admin_client.get(CHANGELIST)
    cells = re.findall(r'<th class="field-deployment_display">(.*?)</th>', listing.text)
    texts = [html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in cells]
    assert sorted(texts) == ["billing at 2026-11-02 09:15", "build 777"]
    assert "[&quot;billing&quot;" not in listing.text and '["billing"' not in listing.text
