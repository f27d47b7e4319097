"""A plausible, deterministic deployment history for demos and screenshots (`seed_demo`).

Every deployment is a Periscope-format webhook body parsed by the real adapter and stored by
`record_deployment` (which links it to the commits and pull requests it shipped); every
incident is an /api/incidents body parsed by its adapter and stored by `record_incident`.
Before each production deployment, pull requests are squash-merged on the service's `main`:
their commits go in through `deployments.changes.commits.record_commits` (a push's chain, as the forge
webhooks record them) and the pull requests as the forge webhooks store them, without the
relinking those webhooks do, since the deployment that ships them arrives afterwards and links
them when it is recorded. The data is what ingest would have stored for that arrival order.
"""

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction

from deployments.changes.commits import CommitData, chained, record_commits
from deployments.changes.repositories import get_or_create_repository
from deployments.incidents.recorder import record_incident
from deployments.ingest.contract import Received
from deployments.ingest.incidents import adapter as incident_periscope
from deployments.ingest.periscope import adapter as periscope
from deployments.models import PullRequest, Repository
from deployments.recording.recorder import record_deployment
from periscope.models import Organization
from services.catalog import add_alias, create_service
from services.models import Service

# Deployments per weekday relative to Tuesday: a team that ships mid-week, rarely at weekends.
WEEKDAY_RHYTHM = (0.9, 1.0, 1.0, 0.85, 0.45, 0.04, 0.02)


@dataclass(frozen=True)
class DemoService:
    name: str
    team: str
    per_day: float  # production deployments on a Tuesday
    failure_rate: float
    incident_rate: float  # chance a successful deployment causes an incident
    alias: str = ""


SERVICES = (
    DemoService("checkout", "payments", 3.0, 0.08, 0.03, alias="checkout-svc"),
    DemoService("payments-api", "payments", 1.2, 0.12, 0.05),
    DemoService("search", "discovery", 2.0, 0.05, 0.02),
    DemoService("web-frontend", "web", 4.0, 0.06, 0.015),
    DemoService("notifications", "platform", 0.5, 0.18, 0.04),
)
UNCATALOGUED = "legacy-batch"  # deployed under a name no service has: an open suggestion


@dataclass(frozen=True, kw_only=True)
class SeedSummary:
    deployments: int
    incidents: int
    services: int
    pull_requests: int


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _History:
    def __init__(self, *, organization: Organization, rng: random.Random, until: datetime):
        self.organization = organization
        self.rng = rng
        self.until = until
        self.deployments = 0
        self.incidents = 0
        self.pull_requests = 0
        # Per service: its repository, the head of main, the last PR number, the time of the
        # last production deployment (PRs merge after it).
        self.repositories: dict[str, Repository] = {}
        self.heads: dict[str, str] = {}
        self.numbers: dict[str, int] = {}
        self.shipped: dict[str, datetime] = {}

    def sha(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def merge_pull_requests(self, demo: DemoService, *, before: datetime, count: int) -> None:
        """`count` pull requests squash-merged on main between the last production deployment
        and `before`: coding, then review, then merge."""
        repository = self.repositories.get(demo.name)
        if repository is None:
            return
        earliest = self.shipped.get(demo.name, before - timedelta(days=1))
        for _ in range(count):
            merged = earliest + (before - earliest) * self.rng.uniform(0.2, 0.95)
            created = merged - timedelta(hours=self.rng.lognormvariate(1.3, 0.9))
            first_commit = created - timedelta(hours=self.rng.lognormvariate(1.5, 1.0))
            number = self.numbers.get(demo.name, 0) + 1
            self.numbers[demo.name] = number
            author = self.rng.choice(("ana", "bo", "chen", "dee", "eli", "fatou"))
            title = self.rng.choice(
                ("Add retry", "Fix typo", "Bump deps", "New endpoint", "Refactor", "Faster query")
            )
            squash = CommitData(
                sha=self.sha(),
                authored_at=first_commit,
                committed_at=merged,
                author=author,
                message=f"{title} (#{number})",
            )
            # A push to main: the new commit's parent is the previous head.
            record_commits(
                repository=repository, commits=chained([squash], before=self.heads[demo.name])
            )
            self.heads[demo.name] = squash.sha
            PullRequest.objects.get_or_create(  # a re-run sends the same PRs again
                repository=repository,
                number=number,
                defaults={
                    "organization": self.organization,
                    "title": title,
                    "author": author,
                    "state": "merged",
                    "created_at": created,
                    "merged_at": merged,
                    "merge_commit_sha": squash.sha,
                    "base_branch": "main",
                },
            )
            self.pull_requests += 1

    def deploy(self, *, ident: str, service: str, environment: str, status: str, start, end):
        demo_name = next((d.name for d in SERVICES if service in (d.name, d.alias)), "")
        head = self.heads.get(demo_name) or self.sha()
        payload = {
            "deploymentId": ident,
            "commitSha": head,
            "environment": environment,
            "status": status,
            "startedAt": _iso(start),
            "completedAt": _iso(end),
            "service": service,
            "branch": "main",
            "pipelineName": f"{service}-deploy",
            "triggeredBy": self.rng.choice(("ana", "bo", "chen", "dee", "eli", "fatou")),
        }
        body = json.dumps(payload)
        (event,) = periscope.parse(
            payload, received=Received(organization=self.organization, received_at=end)
        )
        # received_at: when the pipeline would have sent it, so the delivery log reads right.
        record_deployment(organization=self.organization, event=event, body=body, received_at=end)
        self.deployments += status != "rolled_back"
        if environment == "prod" and status == "success" and demo_name:
            self.shipped[demo_name] = end

    def incident(self, *, ident: str, service: str, deployment_id: str, started, resolved):
        payload = {
            "id": ident,
            "title": self.rng.choice(
                (
                    "Error rate above 5%",
                    "p99 latency over 2 s",
                    "Checkout returns 500",
                    "Queue backlog growing",
                    "Health checks failing",
                )
            ),
            "service": service,
            "severity": self.rng.choice(("SEV1", "SEV2", "SEV2", "SEV3")),
            "startedAt": _iso(started),
            "deploymentId": deployment_id,
        }
        if resolved is not None:
            payload["resolvedAt"] = _iso(resolved)
        record_incident(organization=self.organization, **incident_periscope.parse(payload))
        self.incidents += 1

    def count(self, mean: float) -> int:
        """A small Poisson-like count with the given mean (sum of Bernoulli trials)."""
        trials = max(int(mean * 3) + 1, 1)
        return sum(self.rng.random() < mean / trials for _ in range(trials))

    def service_day(self, demo: DemoService, day: datetime, *, sent_as: str) -> None:
        slots = sorted(
            day + timedelta(hours=self.rng.uniform(8, 18))
            for _ in range(self.count(demo.per_day * WEEKDAY_RHYTHM[day.weekday()]))
        )
        for index, start in enumerate(slots):
            ident = f"{demo.name}-{day:%Y%m%d}-{index + 1}"
            end = start + timedelta(minutes=self.rng.uniform(3, 14))
            if end >= self.until:
                continue
            self.merge_pull_requests(
                demo, before=start - timedelta(minutes=45), count=1 + self.count(1.0)
            )
            # Staging first, then production.
            self.deploy(
                ident=f"{ident}-stg",
                service=sent_as,
                environment="staging",
                status="success",
                start=start - timedelta(minutes=40),
                end=start - timedelta(minutes=32),
            )
            roll = self.rng.random()
            if roll < demo.failure_rate:
                rolled_back = roll < demo.failure_rate / 3
                self.deploy(
                    ident=ident,
                    service=sent_as,
                    environment="prod",
                    status="success" if rolled_back else "failure",
                    start=start,
                    end=end,
                )
                if rolled_back:  # went out, then was rolled back: a second delivery
                    self.deploy(
                        ident=ident,
                        service=sent_as,
                        environment="prod",
                        status="rolled_back",
                        start=start,
                        end=end + timedelta(minutes=self.rng.uniform(5, 25)),
                    )
                fix_start = end + timedelta(minutes=self.rng.lognormvariate(4.3, 0.9))
                fix_end = fix_start + timedelta(minutes=self.rng.uniform(3, 10))
                if fix_end < self.until:
                    self.shipped.setdefault(demo.name, end)
                    self.merge_pull_requests(demo, before=fix_start, count=1)
                    self.deploy(
                        ident=f"{ident}-fix",
                        service=sent_as,
                        environment="prod",
                        status="success",
                        start=fix_start,
                        end=fix_end,
                    )
                continue
            self.deploy(
                ident=ident,
                service=sent_as,
                environment="prod",
                status="success",
                start=start,
                end=end,
            )
            if self.rng.random() < demo.incident_rate:
                started = end + timedelta(minutes=self.rng.uniform(10, 300))
                resolved = started + timedelta(minutes=self.rng.lognormvariate(4.2, 0.8))
                if started >= self.until:
                    continue
                self.incident(
                    ident=f"INC-{ident}",
                    service=demo.name,
                    deployment_id=ident,
                    started=started,
                    resolved=resolved if resolved < self.until else None,
                )


def seed_history(
    *, organization: Organization, days: int = 180, seed: int = 1, until: datetime | None = None
) -> SeedSummary:
    """Services and `days` days of deployments and incidents ending at `until` (default: the
    start of today, UTC). The same seed and `until` give the same history."""
    until = until or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    history = _History(organization=organization, rng=rng, until=until)
    with transaction.atomic():
        for demo in SERVICES:
            if not Service.objects.filter(organization=organization, name=demo.name).exists():
                service = create_service(
                    organization=organization,
                    name=demo.name,
                    team=demo.team,
                    repository_url=f"https://github.com/{organization.slug}/{demo.name}",
                )
                if demo.alias:
                    add_alias(service=service, name=demo.alias)
            service = Service.objects.get(organization=organization, name=demo.name)
            history.repositories[demo.name] = get_or_create_repository(
                organization=organization, url=service.repository_url
            )
            # The repository's first commit, which the first deployment ships.
            root = CommitData(
                sha=history.sha(),
                authored_at=until - timedelta(days=days + 30),
                committed_at=until - timedelta(days=days + 30),
                author="ana",
                message="Initial commit",
                parents=(),
            )
            record_commits(repository=history.repositories[demo.name], commits=[root])
            history.heads[demo.name] = root.sha
        first = until - timedelta(days=days)
        for offset in range(days):
            day = first + timedelta(days=offset)
            for demo in SERVICES:
                # Some pipelines still send the old name: the alias matches it.
                sent_as = demo.alias if demo.alias and rng.random() < 0.3 else demo.name
                history.service_day(demo, day, sent_as=sent_as)
            if offset % 9 == 0:
                history.service_day(
                    DemoService(UNCATALOGUED, "", 1.0, 0.1, 0.0), day, sent_as=UNCATALOGUED
                )
        # Something that needs a person today: a failure not recovered yet, an open incident.
        last = until - timedelta(hours=3)
        history.deploy(
            ident=f"payments-api-{until:%Y%m%d}-open",
            service="payments-api",
            environment="prod",
            status="failure",
            start=last,
            end=last + timedelta(minutes=9),
        )
        history.incident(
            ident=f"INC-{until:%Y%m%d}-open",
            service="checkout",
            deployment_id="",
            started=until - timedelta(hours=2),
            resolved=None,
        )
    return SeedSummary(
        deployments=history.deployments,
        incidents=history.incidents,
        services=len(SERVICES),
        pull_requests=history.pull_requests,
    )
