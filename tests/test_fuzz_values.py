"""Property: no value in any field of any ingest format can crash a request (issue 14).

Each example takes a valid body of one format (Periscope, DevGrid, Hivel, OpsLevel, the
incident API, PagerDuty; GitHub's pull_request, push and deployment_status and GitLab's merge
request, push and deployment hooks, signed), puts one value in one of its fields (or in a new field) and posts
it. The values are drawn from all of Unicode, lone surrogates included, and from what broke
things before or could: NUL, RTL and other format marks, a BOM, 10,000-character strings, SQL-
and HTML-looking text, numbers beyond a double (1e400), tiny ones (5e-324, 1e-400), integers
beyond 64 bits, NaN and Infinity as Python writes them, arrays and objects nested 255 to
1,100 levels deep, nested objects whose keys are any of those. The body is sent as ASCII JSON (escapes), or as UTF-8 when it can be encoded.

The property, on SQLite and PostgreSQL: the answer is a 2xx or a JSON 4xx, never a 5xx; and a
2xx stores what was sent (the delivery logs keep the body verbatim; a string sent is found,
trimmed, in the stored record; a value sent inside metadata, rawPayload or a vendor payload
is stored equal). FUZZ_VALUE_EXAMPLES (default 300) examples per format, derandomized; a
longer run: `FUZZ_VALUE_EXAMPLES=1000 .venv/bin/python -m pytest tests/test_fuzz_values.py`.
"""

import copy
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployments.models import Delivery, ForgeDelivery, Incident
from periscope.secrets import hmac_sha256_hex, set_webhook_secret
from tests.factories import make_key
from tests.payloads import hivel as hivel_payloads
from tests.payloads import opslevel as opslevel_payloads
from tests.test_fuzz_regressions import INCIDENT, PERISCOPE, same_json

EXAMPLES = int(os.environ.get("FUZZ_VALUE_EXAMPLES", "300"))
PD_SECRET = "fuzz-pagerduty-secret"
FORGE_SECRET = "fuzz-forge-secret"


def _fixture(name: str) -> dict:
    return json.loads((Path(__file__).parent / "fixtures" / name).read_text())


PAGERDUTY = _fixture("pagerduty/incident.triggered.v3.json")


@dataclass(frozen=True)
class Raw:
    """JSON text put in the body as is: numbers json.dumps cannot write (1e400), NaN."""

    text: str


EDGE_STRINGS = [
    "\ud800",
    "\udfff",
    "a\ud83db",  # the high half of an emoji, alone
    "\x00",
    "a\x00b",
    "\u200f\u202eevil\u202c",  # RTL mark and override
    "\ufeffbom",
    "\uffff\ufffe",
    "😀",
    "x" * 10_000,
    "\u0661" * 10_000,
    "'; DROP TABLE deployments_deployment; --",
    '" OR 1=1 --',
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "%s%n%x",
    "../../../etc/passwd",
    "\\",
    "",
    " ",
    "\t\n",
    "production",
    "success",
    "2024-01-15T10:30:00Z",
    "9999-12-31T23:59:59+23:59",
    "a1b2c3d4e5",
]
RAW_NUMBERS = [
    "1e400",
    "-1e400",
    "1e-400",
    "5e-324",
    "1.7976931348623157e308",
    "-1.7976931348623157e308",
    "123456789012345678901234567890",
    "-9223372036854775809",
    "18446744073709551616",
    "9" * 400,
    "-0",
    "NaN",
    "Infinity",
    "-Infinity",
    # Nesting: orjson reads 1,024 levels; storing a JSON field encodes it recursively.
    *("[" * depth + "]" * depth for depth in (255, 256, 990, 1100)),
    '{"a":' * 600 + "1" + "}" * 600,
]

any_char = st.characters(exclude_categories=())  # every code point, surrogates included
texts = st.one_of(
    st.text(any_char, max_size=40),
    st.sampled_from(EDGE_STRINGS),
    st.builds(lambda c, n: c * n, any_char, st.sampled_from([256, 2001, 10_000])),
)
# What the databases cannot store, inside otherwise ordinary text: drawn often on purpose.
unstorable = st.builds(
    lambda before, bad, after: before + bad + after,
    st.text(max_size=5),
    st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\x00"]),
    st.text(max_size=5),
)
raw_numbers = st.sampled_from(RAW_NUMBERS).map(Raw)
scalars = st.one_of(
    texts,
    unstorable,
    raw_numbers,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
nested = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(texts, unstorable), inner, max_size=3),
    ),
    max_leaves=6,
)
values = st.one_of(unstorable, raw_numbers, texts, nested)


@dataclass(frozen=True)
class Format:
    name: str
    body: dict
    fields: list[tuple]  # paths into body: keys and list indices
    id_path: tuple | None  # the idempotency key, made unique per example unless it is the field
    # Fields whose value is parsed, mapped or computed (dates, statuses, commit data), so a
    # string sent is not stored as text: only "no 5xx" is checked for them.
    transformed: tuple = ()
    # The fields stored as text, when not all of them are (the vendor formats keep the
    # whole payload; the Periscope format ignores unknown fields, PagerDuty keeps a few).
    as_text: tuple | None = None
    truncated: tuple = ()  # display fields kept to their column's length (PagerDuty's)


FORMATS = [
    Format(
        "periscope",
        {**PERISCOPE, "metadata": {"version": "2.1.0"}, "rawPayload": {"x": 1}},
        [
            *((f,) for f in PERISCOPE),
            *((f,) for f in ("organizationSlug", "service", "branch", "previousCommitSha")),
            *((f,) for f in ("triggeredBy", "pipelineName", "pipelineUrl", "metadata")),
            ("rework",),
            ("metadata", "version"),
            ("metadata", "rollbackInitiated"),
            ("rawPayload",),
            ("rawPayload", "x"),
            ("unknownField",),
        ],
        ("deploymentId",),
        transformed=("startedAt", "completedAt", "status", "organizationSlug", "rework"),
        as_text=(
            *("deploymentId", "commitSha", "environment", "service", "branch"),
            *("previousCommitSha", "triggeredBy", "pipelineName", "pipelineUrl"),
            *("metadata", "version", "rawPayload", "x"),
        ),
    ),
    Format(
        "devgrid",
        {
            "events": [
                {
                    "type": "event-deploy",
                    "entityId": "shop",
                    "timestamp": "2024-01-15T10:30:00Z",
                    "attributes": {
                        "env": "production",
                        "status": "success",
                        "build_commit_sha": "a1b2c3d4",
                        "build_id": "build-1",
                        "change_id": "CHG1",
                        "build_url": "https://ci.example.com/1",
                    },
                }
            ]
        },
        [
            ("events",),
            ("events", 0),
            *(("events", 0, f) for f in ("type", "entityId", "timestamp", "attributes")),
            *(
                ("events", 0, "attributes", f)
                for f in ("env", "status", "build_commit_sha", "build_id", "change_id")
            ),
            ("events", 0, "attributes", "build_url"),
            ("events", 0, "attributes", "deployment_type"),
            ("events", 1),
        ],
        ("events", 0, "attributes", "build_id"),
        transformed=("timestamp", "status"),
    ),
    Format(
        "hivel",
        hivel_payloads.SEED,
        [
            *((f,) for f in hivel_payloads.SEED),
            *((f,) for f in ("pr_number", "build_number", "image", "logs_url", "extra")),
            ("pr_numbers", 0),
        ],
        ("deployment_id",),
        transformed=("start_time", "end_time", "status", "event_type", "pr_numbers"),
    ),
    Format(
        "opslevel",
        opslevel_payloads.SEED,
        [
            *((f,) for f in opslevel_payloads.SEED),
            ("status",),
            *(("deployer", f) for f in opslevel_payloads.SEED["deployer"]),
            *(("commit", f) for f in opslevel_payloads.SEED["commit"]),
        ],
        ("dedup_id",),
        transformed=("deployed_at", "status", "date", "authoring_date", "committed_date"),
    ),
    Format(
        "incident",
        INCIDENT,
        [
            *((f,) for f in INCIDENT),
            *((f,) for f in ("resolvedAt", "environment", "severity", "url", "deploymentId")),
            ("changeId",),
        ],
        ("id",),
        transformed=("startedAt", "resolvedAt", "deploymentId", "changeId", "environment"),
        as_text=("id", "title", "service", "severity", "url"),
    ),
    Format(
        "pagerduty",
        PAGERDUTY,
        [
            ("event", "event_type"),
            ("event", "occurred_at"),
            ("event", "data"),
            *(("event", "data", f) for f in ("id", "title", "created_at", "html_url")),
            *(("event", "data", f) for f in ("urgency", "priority", "service")),
            ("event", "data", "service", "summary"),
            ("event", "agent"),
        ],
        ("event", "data", "id"),
        transformed=("event_type", "occurred_at", "created_at", "priority", "urgency"),
        as_text=("id", "title", "html_url", "summary"),
        truncated=(("title", 500), ("summary", 500), ("html_url", 2000)),
    ),
    *(
        Format(f"{provider}:{event}", _fixture(f"{provider}/{name}"), fields, None)
        for provider, event, name, fields in [
            (
                "github",
                "pull_request",
                "pull_request.closed.merged.real-capture.json",
                [
                    ("number",),
                    *(("pull_request", f) for f in ("number", "title", "merged_at", "created_at")),
                    *(("pull_request", f) for f in ("merge_commit_sha", "merged", "user")),
                    ("pull_request", "head", "sha"),
                    ("pull_request", "base", "ref"),
                    ("pull_request", "user", "login"),
                    ("repository", "full_name"),
                    ("repository", "html_url"),
                ],
            ),
            (
                "github",
                "push",
                "push.after-merge.real-capture.json",
                [
                    *((f,) for f in ("ref", "before", "after", "commits")),
                    *(("commits", 0, f) for f in ("id", "message", "timestamp", "author")),
                    ("commits", 0, "author", "name"),
                    ("repository", "full_name"),
                ],
            ),
            (
                "github",
                "deployment_status",
                "deployment_status.created.success.json",
                [
                    ("deployment_status", "state"),
                    ("deployment_status", "created_at"),
                    *(("deployment", f) for f in ("id", "sha", "ref", "environment", "payload")),
                    ("repository", "full_name"),
                ],
            ),
            (
                "gitlab",
                "Merge Request Hook",
                "merge_request.merged.real-capture.json",
                [
                    *(("object_attributes", f) for f in ("iid", "title", "state", "merged_at")),
                    *(("object_attributes", f) for f in ("updated_at", "merge_commit_sha")),
                    ("object_attributes", "last_commit"),
                    ("project", "path_with_namespace"),
                ],
            ),
            (
                "gitlab",
                "Push Hook",
                "push.json",
                [
                    *((f,) for f in ("ref", "before", "after", "checkout_sha", "commits")),
                    *(("commits", 0, f) for f in ("id", "message", "timestamp")),
                    ("project", "path_with_namespace"),
                ],
            ),
            (
                "gitlab",
                "Deployment Hook",
                "deployment.success.json",
                [
                    *((f,) for f in ("status", "status_changed_at", "deployment_id")),
                    *((f,) for f in ("environment", "commit_url", "ref", "short_sha")),
                    ("project", "path_with_namespace"),
                ],
            ),
        ]
    ),
]
_serial = itertools.count()


def _put(body: dict, path: tuple, value: Any) -> None:
    target = body
    for step in path[:-1]:
        target = target[step]
    if isinstance(target, list) and path[-1] == len(target):
        target.append(value)
    else:
        target[path[-1]] = value


def _text(body: Any, *, ascii_only: bool) -> str:
    """JSON text of `body`, each Raw value written as its raw text."""
    raws: list[str] = []

    def mark(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(value.text)
            return f"__raw_{len(raws) - 1}__"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body), ensure_ascii=ascii_only)
    for index, raw in enumerate(raws):
        text = text.replace(f'"__raw_{index}__"', raw)
    return text


def _send(api, fmt: str, key: str, data: bytes):
    post = {"content_type": "application/json"}
    if fmt == "periscope":
        return api.post(
            "/api/webhooks/deployments", data, HTTP_AUTHORIZATION=f"Bearer {key}", **post
        )
    if fmt == "incident":
        return api.post("/api/incidents", data, HTTP_AUTHORIZATION=f"Bearer {key}", **post)
    if fmt == "devgrid":
        return api.post("/events", data, HTTP_X_API_KEY=key, **post)
    if fmt == "hivel":
        return api.post("/api/hooks/v2/deployment", data, HTTP_X_API_TOKEN=key, **post)
    if fmt == "opslevel":
        return api.post(f"/integrations/deploy/{key}", data, **post)
    if fmt == "pagerduty":
        signature = "v1=" + hmac_sha256_hex(secret=PD_SECRET, body=data)
        return api.post(
            "/api/webhooks/pagerduty/acme", data, HTTP_X_PAGERDUTY_SIGNATURE=signature, **post
        )
    provider, event = fmt.split(":")
    delivery = f"fuzz-{next(_serial)}"
    if provider == "github":
        signature = "sha256=" + hmac_sha256_hex(secret=FORGE_SECRET, body=data)
        headers = {
            "HTTP_X_GITHUB_EVENT": event,
            "HTTP_X_GITHUB_DELIVERY": delivery,
            "HTTP_X_HUB_SIGNATURE_256": signature,
        }
    else:
        headers = {
            "HTTP_X_GITLAB_EVENT": event,
            "HTTP_IDEMPOTENCY_KEY": delivery,
            "HTTP_X_GITLAB_TOKEN": FORGE_SECRET,
        }
    return api.post(f"/api/webhooks/{provider}/acme", data, **headers, **post)


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value.strip().casefold()}
    if isinstance(value, dict):
        return set().union(*map(_strings, value.keys()), *map(_strings, value.values()))
    if isinstance(value, list):
        return set().union(*map(_strings, value))
    return set()


def _record_strings(record) -> set[str]:
    found: set[str] = set()
    for field in record._meta.concrete_fields:
        found |= _strings(getattr(record, field.attname))
    return found


def _at(body: Any, path: tuple) -> Any:
    for step in path:
        body = body[step]
    return body


def _assert_stored(fmt: Format, response, text: str, sent: dict, path: tuple, value: Any):
    """A 2xx stores what was sent."""
    if ":" in fmt.name:  # GitHub, GitLab: the forge delivery log keeps the body as sent
        if response.json().get("duplicate"):
            return
        assert ForgeDelivery.objects.order_by("-id").first().body == text
        return
    if fmt.name in ("incident", "pagerduty"):
        data = response.json()
        if data.get("action") == "ignored":
            return
        record = Incident.objects.get(pk=data["incidentId"])
    else:
        delivery = Delivery.objects.order_by("-id").first()
        # The delivery log: the body exactly as sent (DevGrid batches: each event's JSON).
        if fmt.name != "devgrid" or len(sent["events"]) == 1:
            assert delivery.body == text
        if delivery.action not in ("created", "updated"):
            return  # a duplicate or stale delivery changes nothing, by design
        record = delivery.deployment
    if path[-1] in fmt.transformed or path[0] in fmt.transformed:
        return
    if fmt.as_text is not None and path[-1] not in fmt.as_text:
        return
    if isinstance(value, str) and value.strip():
        expected = value.strip()[: dict(fmt.truncated).get(path[-1])].strip()
        assert expected.casefold() in _record_strings(record), (path, value)
    stored_json = getattr(record, "raw_payload", None)
    if stored_json is None:
        return
    if fmt.name == "periscope":
        if path[0] == "rawPayload" and len(path) > 1:
            assert same_json(json.loads(text)["rawPayload"], stored_json)
        if path[0] == "metadata" and isinstance(value, dict | str | int | float | bool):
            assert same_json(json.loads(text)["metadata"], record.metadata)
    elif fmt.name == "devgrid":
        assert same_json(json.loads(text)["events"][0], stored_json)
    else:
        assert same_json(json.loads(text), stored_json)


@pytest.fixture
def fuzz_key(org, other_org, settings):
    settings.RATE_LIMITS = {}
    make_key(other_org)
    set_webhook_secret(organization=org, provider="pagerduty", secret=PD_SECRET)
    for provider in ("github", "gitlab"):
        set_webhook_secret(organization=org, provider=provider, secret=FORGE_SECRET)
    return make_key(org)


value_settings = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name.replace(" ", "-"))
@value_settings
@given(data=st.data())
def test_any_value_in_any_field_is_a_2xx_that_stores_it_or_a_json_4xx(api, fuzz_key, fmt, data):
    path = data.draw(st.sampled_from(fmt.fields), label="field")
    value = data.draw(values, label="value")
    body = copy.deepcopy(fmt.body)
    if fmt.id_path is not None and path != fmt.id_path:
        _put(body, fmt.id_path, f"fuzz-{next(_serial)}")
    _put(body, path, value)
    ascii_only = data.draw(st.booleans(), label="ascii")
    text = _text(body, ascii_only=ascii_only)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate can only be sent escaped
        text = _text(body, ascii_only=True)
        raw = text.encode("utf-8")

    response = _send(api, fmt.name, fuzz_key, raw)

    assert response.status_code < 500, (response.status_code, response.content[:500])
    content_type = response["Content-Type"]
    assert content_type.startswith("application/json"), content_type
    response.json()
    if 200 <= response.status_code < 300:
        _assert_stored(fmt, response, text, body, path, value)


IMPORT_FORMATS = [f for f in FORMATS if f.name in ("periscope", "devgrid", "hivel", "opslevel")]


@pytest.mark.parametrize("fmt", IMPORT_FORMATS, ids=lambda f: f.name)
@settings(value_settings, max_examples=max(EXAMPLES // 6, 10))
@given(data=st.data())
def test_any_value_in_an_import_line_is_stored_or_reported_and_the_import_goes_on(
    org, other_org, fmt, data
):
    """import_deployments: a line with a value no database can store used to abort the run
    (and lose its batch's valid lines). Three fuzzed lines and a valid one, in one batch."""
    from deployments.recording.importing import import_lines

    lines = []
    for _ in range(3):
        path = data.draw(st.sampled_from(fmt.fields), label="field")
        body = copy.deepcopy(fmt.body)
        if path != fmt.id_path:
            _put(body, fmt.id_path, f"fuzz-{next(_serial)}")
        _put(body, path, data.draw(values, label="value"))
        lines.append(_text(body, ascii_only=True))
    valid = copy.deepcopy(fmt.body)
    _put(valid, fmt.id_path, f"valid-{next(_serial)}")
    lines.insert(data.draw(st.integers(0, 3), label="valid line at"), _text(valid, ascii_only=True))

    report = import_lines(organization=org, fmt=fmt.name, lines=[f"{line}\n" for line in lines])

    assert report.lines == 4
    invalid = {number for number, _ in report.invalid}
    if fmt.name != "devgrid":  # a DevGrid line may hold several events
        assert report.stored + len(invalid) == 4, report
    stored_bodies = set(Delivery.objects.filter(organization=org).values_list("body", flat=True))
    for number, line in enumerate(lines, start=1):
        if number not in invalid and fmt.name != "devgrid":
            assert line in stored_bodies, (number, line[:200])
    assert _text(valid, ascii_only=True) in stored_bodies
