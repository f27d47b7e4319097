"""factory-boy factories. Keys come from issue_api_key so tests use real hashed keys."""

import factory
from django.utils import timezone

from deployments.models import Deployment, Source, Status
from periscope.keys import issue_api_key
from periscope.models import Organization
from services.catalog import create_service


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
