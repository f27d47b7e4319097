"""Property (issue 17): whatever history the write paths record, GET /api/metrics/dora
answers what the raw computation (metrics/reference.py) gives, and `check_rollups` finds no
drift.

Each example is a random history sent through the real write paths of one organization:
Periscope deliveries (new deployments, and repeats changing status, completion time,
environment and service name), GitHub pushes and merged pull requests (so deployments ship
changes with a known start: lead time), incidents over POST /api/incidents (attributed by
`deploymentId` and by window, resolved later, re-sent), suggestions accepted in the admin
(create a service, attach to one), deployments and services deleted in the admin, and
`import_lines` batches (the import_deployments path). Then every field of the summary and
series, per day/week/month, with and without `service=`/`team=`, and over a range whose ends
are not midnights, is compared with `reference.dora_report` serialized as the API does
(tests/rollup_checks.py has the tolerances). A second organization's data, recorded once,
must never show up and must never drift either.

Each example runs in a savepoint rolled back at its end, so examples start from the same
catalog. ROLLUP_EXAMPLES (default 30) examples, derandomized; a longer run:
`ROLLUP_EXAMPLES=300 .venv/bin/python -m pytest tests/test_rollups_property.py`.
"""

import itertools
import json
import os
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployments.changes.repositories import get_or_create_repository
from deployments.models import Deployment
from deployments.recording.importing import import_lines
from metrics import rollup_queries as rq
from periscope.secrets import set_webhook_secret
from services.models import Service, ServiceSuggestion
from tests.admin_helpers import run_action
from tests.factories import make_service
from tests.rollup_checks import assert_api_matches_reference, check_rollups
from tests.webhooks import SECRETS, post_webhook

EXAMPLES = int(os.environ.get("ROLLUP_EXAMPLES", "30"))

# Monday; the history spans three weeks and the February/March month boundary.
T0 = datetime(2024, 2, 19, tzinfo=UTC)
HOURS = 21 * 24
NAMES = ["shop", "cart", "Cart ", "billing", "acme/billing"]  # "Cart " is cart's key
ENVIRONMENTS = ["production", "prod", "staging"]  # "prod" is stored as production
STATUSES = ["success", "success", "failure", "rolled_back", "cancelled", "in_progress"]
DEPLOYMENT_IDS = [f"d{n}" for n in range(6)]
INCIDENT_IDS = [f"INC-{n}" for n in range(3)]
REPOS = {"shop": "https://github.com/acme/shop", "cart": "https://github.com/acme/cart"}
CHAIN = 6  # commits per repository, in one line


def chain_sha(repo: str, index: int) -> str:
    return f"{'a' if repo == 'shop' else 'b'}{index:039x}"


def authored(index: int) -> datetime:
    """Commit `index` of a chain: from two days before T0, every 30 hours (some after
    deployments that ship them are recorded: a lead time is never negative, as a deployment
    of a sha before it is pushed ships an unknown start)."""
    return T0 - timedelta(days=2) + timedelta(hours=30 * index)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


minutes = st.integers(min_value=0, max_value=HOURS * 60 - 1)
deploy_op = st.fixed_dictionaries(
    {
        "op": st.just("deploy"),
        "id": st.sampled_from(DEPLOYMENT_IDS),
        "service": st.sampled_from(NAMES),
        "environment": st.sampled_from(ENVIRONMENTS),
        "status": st.sampled_from(STATUSES),
        "completed": minutes,
        "duration": st.sampled_from([0, 5, 45]),
        "commit": st.tuples(st.sampled_from(sorted(REPOS)), st.integers(0, CHAIN - 1)),
    }
)
incident_op = st.fixed_dictionaries(
    {
        "op": st.just("incident"),
        "id": st.sampled_from(INCIDENT_IDS),
        "service": st.sampled_from(NAMES),
        "environment": st.sampled_from(["production", "production", "staging"]),
        "started": minutes,
        "resolved_after": st.one_of(st.none(), st.integers(1, 3 * 24 * 60)),
        "deployment": st.one_of(st.none(), st.sampled_from([*DEPLOYMENT_IDS, "nope"])),
    }
)
push_op = st.fixed_dictionaries(
    {
        "op": st.just("push"),
        "repo": st.sampled_from(sorted(REPOS)),
        "first": st.integers(0, CHAIN - 1),
        "count": st.integers(1, CHAIN),
    }
)
pr_op = st.fixed_dictionaries(
    {
        "op": st.just("pull_request"),
        "repo": st.sampled_from(sorted(REPOS)),
        "number": st.integers(1, 3),
        "merge": st.integers(0, CHAIN - 1),
        "opened_before": st.integers(60, 5 * 24 * 60),  # minutes before the merge commit
        "review": st.integers(1, 2 * 24 * 60),  # minutes from opened to merged
    }
)
accept_op = st.fixed_dictionaries(
    {
        "op": st.just("accept"),
        "name": st.sampled_from(NAMES[1:]),
        "how": st.sampled_from(["create_services", "attach_to_service"]),
    }
)
delete_deployment_op = st.fixed_dictionaries(
    {"op": st.just("delete_deployment"), "id": st.sampled_from(DEPLOYMENT_IDS)}
)
delete_service_op = st.fixed_dictionaries(
    {"op": st.just("delete_service"), "name": st.sampled_from(["shop", "cart", "billing"])}
)
import_op = st.fixed_dictionaries(
    {
        "op": st.just("import"),
        "lines": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.sampled_from([*DEPLOYMENT_IDS[:3], "i0", "i1", "i2"]),
                    "service": st.sampled_from(NAMES),
                    "status": st.sampled_from(STATUSES[:4]),
                    "completed": minutes,
                    "commit": st.tuples(st.sampled_from(sorted(REPOS)), st.integers(0, CHAIN - 1)),
                }
            ),
            min_size=1,
            max_size=4,
        ),
    }
)
operations = st.lists(
    st.one_of(
        deploy_op,
        deploy_op,
        deploy_op,
        incident_op,
        push_op,
        pr_op,
        accept_op,
        delete_deployment_op,
        delete_service_op,
        import_op,
    ),
    min_size=1,
    max_size=12,
)

# The questions a user asks: the default view, each interval, one service (catalogued or an
# unmatched name), a team, another environment, and a range whose ends are not midnights.
WHOLE = {"from": "2024-02-18", "to": "2024-03-14"}
QUESTIONS = [
    {**WHOLE, "interval": "week"},
    {**WHOLE, "interval": "day", "service": "shop"},
    {**WHOLE, "interval": "month", "team": "payments"},
    {**WHOLE, "interval": "week", "service": "cart"},
    {**WHOLE, "interval": "month", "service": "billing"},
    {**WHOLE, "interval": "week", "environment": "staging"},
    {"from": "2024-02-20T05:30:00Z", "to": "2024-03-07T17:45:10Z", "interval": "day"},
    # All services over whole months and weeks with edges: read from the month and week
    # totals plus edge days (the summary from months, the series from months or weeks).
    {"from": "2024-01-29", "to": "2024-04-03", "interval": "month"},
    {"from": "2024-02-01T12:00:00Z", "to": "2024-04-01", "interval": "week"},
    {
        "from": "2024-02-20T05:30:00Z",
        "to": "2024-03-07T17:45:10Z",
        "interval": "week",
        "service": "cart",
    },
]

_serial = itertools.count()


class History:
    """Sends one example's operations through the real write paths of `org`."""

    def __init__(self, *, api: Client, admin: Client, org, key: str):
        self.api, self.admin, self.org, self.key = api, admin, org, key

    def run(self, op: dict) -> None:
        getattr(self, op["op"])(op)

    def _periscope(self, op: dict) -> dict:
        completed = at(op["completed"])
        body = {
            "deploymentId": op["id"],
            "commitSha": chain_sha(*op["commit"]),
            "environment": op.get("environment", "production"),
            "status": op["status"],
            "startedAt": iso(completed - timedelta(minutes=op.get("duration", 0))),
            "service": op["service"],
        }
        if op["status"] != "in_progress":
            body["completedAt"] = iso(completed)
        return body

    def deploy(self, op: dict) -> None:
        response = post_webhook(self.api, "periscope", self._periscope(op), key=self.key)
        assert response.status_code in (200, 201), response.content

    def incident(self, op: dict) -> None:
        started = at(op["started"])
        body = {
            "id": op["id"],
            "title": f"{op['id']} on {op['service']}",
            "service": op["service"],
            "environment": op["environment"],
            "startedAt": iso(started),
        }
        if op["resolved_after"] is not None:
            body["resolvedAt"] = iso(started + timedelta(minutes=op["resolved_after"]))
        if op["deployment"] is not None:
            body["deploymentId"] = op["deployment"]
        response = post_webhook(self.api, "incidents", body, key=self.key)
        assert response.status_code in (200, 201), response.content

    def push(self, op: dict) -> None:
        repo, first = op["repo"], op["first"]
        last = min(CHAIN - 1, first + op["count"] - 1)
        body = {
            "ref": "refs/heads/main",
            "before": chain_sha(repo, first - 1) if first else "0" * 40,
            "after": chain_sha(repo, last),
            "commits": [
                {
                    "id": chain_sha(repo, index),
                    "timestamp": iso(authored(index)),
                    "message": f"change {index}",
                    "author": {"name": "Ada", "username": "ada"},
                }
                for index in range(first, last + 1)
            ],
            "repository": {"html_url": REPOS[repo], "full_name": f"acme/{repo}"},
        }
        response = post_webhook(
            self.api, "github", body, event="push", delivery=f"push-{next(_serial)}"
        )
        assert response.status_code == 200, response.content

    def pull_request(self, op: dict) -> None:
        repo = op["repo"]
        merged = authored(op["merge"]) + timedelta(minutes=1)
        opened = merged - timedelta(minutes=op["opened_before"] + op["review"])
        body = {
            "action": "closed",
            "number": op["number"],
            "pull_request": {
                "number": op["number"],
                "title": f"PR {op['number']}",
                "state": "closed",
                "merged": True,
                "created_at": iso(opened),
                "merged_at": iso(opened + timedelta(minutes=op["review"])),
                "merge_commit_sha": chain_sha(repo, op["merge"]),
                "head": {"sha": chain_sha(repo, max(op["merge"] - 1, 0))},
                "base": {"ref": "main"},
                "user": {"login": "ada"},
            },
            "repository": {"html_url": REPOS[repo], "full_name": f"acme/{repo}"},
        }
        response = post_webhook(
            self.api, "github", body, event="pull_request", delivery=f"pr-{next(_serial)}"
        )
        assert response.status_code == 200, response.content

    def accept(self, op: dict) -> None:
        suggestion = ServiceSuggestion.objects.filter(
            organization=self.org, key=op["name"].strip().lower(), status="open"
        ).first()
        if suggestion is None:
            return
        changelist = "/admin/services/servicesuggestion/"
        if op["how"] == "create_services":
            response = run_action(self.admin, changelist, "create_services", [suggestion.pk])
        else:
            shop = Service.objects.filter(organization=self.org, slug="shop").first()
            if shop is None:
                return
            response = run_action(
                self.admin,
                changelist,
                "attach_to_service",
                [suggestion.pk],
                apply="Attach",
                service=shop.pk,
            )
        assert response.status_code == 200

    def delete_deployment(self, op: dict) -> None:
        found = Deployment.objects.filter(organization=self.org, external_id=op["id"]).first()
        if found is None:
            return
        response = self.admin.post(
            f"/admin/deployments/deployment/{found.pk}/delete/", {"post": "yes"}, follow=True
        )
        assert response.status_code == 200
        assert not Deployment.objects.filter(pk=found.pk).exists()

    def delete_service(self, op: dict) -> None:
        service = Service.objects.filter(organization=self.org, slug=op["name"]).first()
        if service is None:
            return
        response = self.admin.post(
            f"/admin/services/service/{service.pk}/delete/", {"post": "yes"}, follow=True
        )
        assert response.status_code == 200
        assert not Service.objects.filter(pk=service.pk).exists()

    def import_(self, op: dict) -> None:
        lines = [
            json.dumps(self._periscope({**line, "environment": "production"}))
            for line in op["lines"]
        ]
        report = import_lines(organization=self.org, fmt="periscope", lines=lines)
        assert report.invalid == [], report.invalid


setattr(History, "import", History.import_)  # "import" is a keyword


@pytest.fixture
def world(org, other_org, key, other_key, settings, admin_client):
    """Acme's catalog (Shop, team payments, with its repository; cart's repository found by
    name) and Globex's history, which must never show up in Acme's numbers."""
    settings.RATE_LIMITS = {}
    set_webhook_secret(organization=org, provider="github", secret=SECRETS["github"])
    make_service(org, "Shop", team="payments", repository_url=REPOS["shop"])
    get_or_create_repository(organization=org, url=REPOS["cart"])
    make_service(other_org, "Shop", team="payments")
    api = Client()
    for n, status in enumerate(["success", "failure", "success", "rolled_back"]):
        body = {
            "deploymentId": f"d{n}",  # Acme's ids too: never the same deployment
            "commitSha": chain_sha("shop", n),
            "environment": "production",
            "status": status,
            "startedAt": iso(at(600 * n)),
            "completedAt": iso(at(600 * n + 30)),
            "service": ["shop", "cart"][n % 2],
        }
        assert post_webhook(api, "periscope", body, key=other_key).status_code == 201
    incident = {
        "id": "INC-0",
        "title": "Globex down",
        "service": "shop",
        "startedAt": iso(at(640)),
        "resolvedAt": iso(at(700)),
        "deploymentId": "d0",
    }
    assert post_webhook(api, "incidents", incident, key=other_key).status_code == 201
    return History(api=api, admin=admin_client, org=org, key=key)


rollup_settings = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@rollup_settings
@given(ops=operations)
def test_the_api_answers_what_the_raw_rows_give_and_rollups_never_drift(
    world, org, key, other_org, other_key, ops
):
    with transaction.atomic():
        for op in ops:
            world.run(op)
        for index, params in enumerate(QUESTIONS):
            # Every other question reads one service's weeks and months and merges by pages
            # whatever its length (ONE_SERVICE_LEVELS_FROM_DAYS, PAGES_FROM_MONTHS): both
            # ways against the reference.
            always = index % 2 == 1
            with (
                mock.patch.object(rq, "PAGES_FROM_MONTHS", 0 if always else rq.PAGES_FROM_MONTHS),
                mock.patch.object(
                    rq,
                    "ONE_SERVICE_LEVELS_FROM_DAYS",
                    0 if always else rq.ONE_SERVICE_LEVELS_FROM_DAYS,
                ),
            ):
                assert_api_matches_reference(world.api, key, organization=org, params=params)
        # Globex's numbers are untouched by anything Acme's history did.
        globex = assert_api_matches_reference(
            world.api, other_key, organization=other_org, params=QUESTIONS[0]
        )["summary"]
        assert globex["deploymentFrequency"]["deployments"] == 3
        assert globex["changeFailureRate"]["incidentCaused"] == 1
        check_rollups()
        check_rollups(org=org.slug)
        transaction.set_rollback(True)


def test_a_history_with_every_kind_of_change_has_lead_times_and_incidents(world, org, key):
    """The generated operations can reach every metric: one fixed history, checked both ways
    and by hand where it matters (so the property above is not vacuous)."""
    ops = [
        {"op": "push", "repo": "shop", "first": 0, "count": 6},
        {
            "op": "pull_request",
            "repo": "shop",
            "number": 1,
            "merge": 3,
            "opened_before": 600,
            "review": 120,
        },
        {
            "op": "deploy",
            "id": "d0",
            "service": "shop",
            "environment": "production",
            "status": "success",
            "completed": 3 * 24 * 60,
            "duration": 5,
            "commit": ("shop", 2),
        },
        {
            "op": "deploy",
            "id": "d1",
            "service": "shop",
            "environment": "prod",
            "status": "failure",
            "completed": 4 * 24 * 60,
            "duration": 5,
            "commit": ("shop", 3),
        },
        {
            "op": "deploy",
            "id": "d2",
            "service": "shop",
            "environment": "production",
            "status": "success",
            "completed": 4 * 24 * 60 + 90,
            "duration": 5,
            "commit": ("shop", 4),
        },
        {
            "op": "deploy",
            "id": "d3",
            "service": "Cart ",
            "environment": "production",
            "status": "success",
            "completed": 5 * 24 * 60,
            "duration": 0,
            "commit": ("cart", 1),
        },
        {
            "op": "incident",
            "id": "INC-0",
            "service": "shop",
            "environment": "production",
            "started": 4 * 24 * 60 + 100,
            "resolved_after": None,
            "deployment": None,
        },
        {
            "op": "incident",
            "id": "INC-0",
            "service": "shop",
            "environment": "production",
            "started": 4 * 24 * 60 + 100,
            "resolved_after": 30,
            "deployment": None,
        },
        {
            "op": "incident",
            "id": "INC-1",
            "service": "cart",
            "environment": "production",
            "started": 6 * 24 * 60,
            "resolved_after": 60,
            "deployment": "d3",
        },
        {"op": "push", "repo": "cart", "first": 0, "count": 3},  # d3's commit arrives late
        {"op": "accept", "name": "cart", "how": "create_services"},
        {
            "op": "import",
            "lines": [
                {
                    "id": "i0",
                    "service": "billing",
                    "status": "failure",
                    "completed": 7 * 24 * 60,
                    "commit": ("shop", 5),
                }
            ],
        },
        {
            "op": "deploy",
            "id": "d4",
            "service": "billing",
            "environment": "production",
            "status": "success",
            "completed": 8 * 24 * 60,
            "duration": 5,
            "commit": ("shop", 5),
        },
        {
            "op": "deploy",
            "id": "d5",
            "service": "shop",
            "environment": "production",
            "status": "rolled_back",
            "completed": 9 * 24 * 60,
            "duration": 5,
            "commit": ("shop", 5),
        },
        {"op": "delete_deployment", "id": "d5"},
    ]
    for op in ops:
        world.run(op)
    bodies = [
        assert_api_matches_reference(world.api, key, organization=org, params=params)
        for params in QUESTIONS
    ]
    summary = bodies[0]["summary"]
    # d0 d2 (shop), d3 (cart), d4 (billing) reached production; d1 failed; i0 failed.
    assert summary["deploymentFrequency"]["deployments"] == 4
    assert summary["changeFailureRate"]["failed"] == 2
    # INC-0 falls in d2's window (shop success 10 min before it); INC-1 names d3.
    assert summary["changeFailureRate"]["incidentCaused"] == 2
    assert summary["incidentTimeToRestore"]["resolved"] == 2
    assert summary["failedDeploymentRecoveryTime"]["recovered"] == 2  # d1 by d2, i0 by d4
    lead = summary["leadTime"]
    assert lead["changes"] > 0 and lead["medianSeconds"] is not None
    assert lead["codingMeanSeconds"] is not None  # PR #1 shipped with d2
    check_rollups()


def test_repeats_of_one_id_within_import_batches_keep_recovery_exact(world, org, key):
    """A history the property test found (shrunk by hand): one id twice in each of two
    import batches, an incident and a late push."""
    ops = [
        {"op": "import", "lines": [
            {"id": "i0", "service": "Cart ", "status": "rolled_back", "completed": 12005, "commit": ("cart", 3)},
            {"id": "i0", "service": "acme/billing", "status": "rolled_back", "completed": 1658, "commit": ("shop", 3)},
        ]},
        {"op": "import", "lines": [
            {"id": "i0", "service": "shop", "status": "rolled_back", "completed": 12005, "commit": ("cart", 3)},
            {"id": "i0", "service": "acme/billing", "status": "rolled_back", "completed": 1658, "commit": ("cart", 3)},
        ]},
        {"op": "incident", "id": "INC-2", "service": "shop", "environment": "production",
         "started": 30238, "resolved_after": 145, "deployment": None},
        {"op": "push", "repo": "shop", "first": 5, "count": 6},
    ]  # fmt: skip
    for op in ops:
        world.run(op)
    for params in QUESTIONS:
        assert_api_matches_reference(world.api, key, organization=org, params=params)
    check_rollups()
