"""factory-boy factories for the models tests set up by hand.

Keys come from issue_api_key so tests use real hashed keys; services from create_service
(make_service) so their aliases and suggestions follow the catalog's rules. Everything else
is a factory: pass what the test is about, the rest gets a valid default.
"""

import factory
from django.db import transaction
from django.utils import timezone

from deployments.models import (
    Commit,
    Deployment,
    EnvironmentAlias,
    Incident,
    PullRequest,
    Repository,
    Source,
    Status,
)
from deployments.rollups import maintain as rollups
from periscope.keys import issue_api_key
from periscope.models import Organization
from services.catalog import create_service
from services.matching import normalize_key
from services.models import ServiceSuggestion


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["slug"]
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"org-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())

    @factory.post_generation
    def environment_aliases(obj, create, extracted, **kwargs):
        if create:
            from deployments.recording.environments import seed_default_environment_aliases

            seed_default_environment_aliases(organization=obj)


def make_key(organization: Organization, *, scopes=("ingest", "read"), name="test") -> str:
    """A real API key for the organization; returns the plaintext."""
    return issue_api_key(organization=organization, name=name, scopes=scopes).plaintext


def make_service(organization: Organization, name: str, **kwargs):
    return create_service(organization=organization, name=name, **kwargs)


class DeploymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deployment

    organization = factory.SubFactory(OrganizationFactory)
    source = Source.PERISCOPE
    external_id = factory.Sequence(lambda n: f"deploy-{n}")
    environment = "production"
    environment_raw = "production"
    status = Status.SUCCESS
    commit_sha = factory.Sequence(lambda n: f"{n:040x}")
    started_at = factory.LazyFunction(timezone.now)
    completed_at = factory.LazyAttribute(lambda d: d.started_at)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # As a writer would: its change is noted for the metrics rollups (the next metrics
        # read folds it in).
        with transaction.atomic():
            deployment = super()._create(model_class, *args, **kwargs)
            rollups.note_deployment_row(deployment)
        return deployment


class EnvironmentAliasFactory(factory.django.DjangoModelFactory):
    """An environment name as sent (lower-case, trimmed) mapped to a canonical environment."""

    class Meta:
        model = EnvironmentAlias

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"env-{n}")
    environment = "production"


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    organization = factory.SubFactory(OrganizationFactory)
    external_id = factory.Sequence(lambda n: f"INC-{n}")
    service_name = ""
    service_key = factory.LazyAttribute(lambda i: normalize_key(i.service_name))
    started_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with transaction.atomic():
            incident = super()._create(model_class, *args, **kwargs)
            rollups.note_incident_row(incident)
        return incident


class ServiceSuggestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceSuggestion

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"suggested-{n}")
    key = factory.LazyAttribute(lambda s: normalize_key(s.name))


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository

    organization = factory.SubFactory(OrganizationFactory)
    url = factory.Sequence(lambda n: f"https://github.com/acme/repo-{n}")
    key = factory.LazyAttribute(lambda r: normalize_key(r.url))
    name = factory.LazyAttribute(lambda r: r.key.rsplit("/", 1)[-1])


class CommitFactory(factory.django.DjangoModelFactory):
    """A commit with its times; its organization is its repository's."""

    class Meta:
        model = Commit

    repository = factory.SubFactory(RepositoryFactory)
    organization = factory.LazyAttribute(lambda c: c.repository.organization)
    sha = factory.Sequence(lambda n: f"{n:040x}")
    authored_at = factory.LazyFunction(timezone.now)
    committed_at = factory.LazyAttribute(lambda c: c.authored_at)


class PullRequestFactory(factory.django.DjangoModelFactory):
    """An open pull request; its organization is its repository's."""

    class Meta:
        model = PullRequest

    repository = factory.SubFactory(RepositoryFactory)
    organization = factory.LazyAttribute(lambda p: p.repository.organization)
    number = factory.Sequence(lambda n: n + 1)
    state = "open"
    created_at = factory.LazyFunction(timezone.now)
