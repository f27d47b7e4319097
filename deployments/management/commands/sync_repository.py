from django.core.management.base import BaseCommand, CommandError

from deployments.changes.clone import (
    UnsupportedSource,
    local_clone,
    origin_url,
    read_history,
    sync_history,
)
from deployments.changes.repositories import get_or_create_repository
from periscope.models import Organization
from services.models import Service


class Command(BaseCommand):
    help = "Record a git clone's commits and parents (re-running adds only what is new)."

    def add_arguments(self, parser):
        parser.add_argument("path_or_url", help="a local git checkout, or a URL to clone")
        parser.add_argument("--service", help="slug of the service this repository deploys")
        parser.add_argument("--org", help="organization slug (needed if there are several)")
        parser.add_argument("--url", help="repository URL to record (default: origin's URL)")

    def _organization(self, slug: str | None) -> Organization:
        if slug:
            found = Organization.objects.filter(slug=slug).first()
            if found is None:
                raise CommandError(f"No organization with slug '{slug}'")
            return found
        orgs = list(Organization.objects.all()[:2])
        if len(orgs) != 1:
            raise CommandError("--org is required when there is not exactly one organization")
        return orgs[0]

    def handle(self, *args, path_or_url: str, service, org, url, **options):
        organization = self._organization(org)
        target = None
        if service:
            target = Service.objects.filter(organization=organization, slug=service).first()
            if target is None:
                raise CommandError(f"No service '{service}' in {organization.slug}")
        try:
            with local_clone(path_or_url) as clone:
                repo_url = url or origin_url(clone) or path_or_url
                commits = read_history(clone)
        except UnsupportedSource as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # git missing, not a repository, clone failed
            raise CommandError(f"Cannot read git history of {path_or_url}: {exc}") from None
        repository = get_or_create_repository(organization=organization, url=repo_url)
        if repository is None:
            raise CommandError("The repository URL is empty")
        if target is not None and repository.service_id != target.pk:
            repository.service = target
            repository.save(update_fields=["service"])
        new, relinked = sync_history(repository=repository, commits=commits)
        self.stdout.write(
            f"{repository.key}: {new} new commits of {len(commits)}; "
            f"{relinked} deployments relinked"
        )
