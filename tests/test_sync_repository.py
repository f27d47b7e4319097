"""python manage.py sync_repository against a git repository the test creates."""

import os
import subprocess
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from deployments.models import Commit, CommitParent, DeploymentCommit, Repository, Source
from deployments.recording.events import DeploymentEvent
from deployments.recording.recorder import record_deployment
from tests.factories import make_service

ORIGIN = "git@github.com:acme/shop.git"


def git(repo, *args, when="2026-01-01T10:00:00+00:00"):
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def commit(repo, message, when):
    git(repo, "commit", "--allow-empty", "-q", "-m", message, when=when)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def clone(tmp_path):
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", ORIGIN)
    return repo


def sync(path, *args):
    out = StringIO()
    call_command("sync_repository", str(path), *args, stdout=out)
    return out.getvalue()


def test_records_commits_parents_and_times_and_reruns_add_only_new(org, other_org, clone):
    a = commit(clone, "first\n\nbody", "2026-01-01T10:00:00+00:00")
    git(clone, "checkout", "-q", "-b", "feature")
    f = commit(clone, "feature work", "2026-01-02T10:00:00+00:00")
    git(clone, "checkout", "-q", "main")
    b = commit(clone, "main work", "2026-01-03T10:00:00+00:00")
    git(
        clone,
        "merge",
        "-q",
        "--no-ff",
        "feature",
        "-m",
        "merge feature",
        when="2026-01-04T10:00:00+00:00",
    )
    m = git(clone, "rev-parse", "HEAD")

    output = sync(clone, "--org", "acme")
    assert "4 new commits of 4" in output
    repo = Repository.objects.get(organization=org)
    assert repo.key == "acme/shop"
    first = Commit.objects.get(repository=repo, sha=a)
    assert (first.message, first.author) == ("first", "Ada")
    assert first.authored_at == datetime(2026, 1, 1, 10, tzinfo=UTC)
    parents = set(
        CommitParent.objects.filter(repository=repo, child_sha=m).values_list(
            "parent_sha", flat=True
        )
    )
    assert parents == {b, f}
    assert Commit.objects.get(repository=repo, sha=m).generation == 2
    assert "0 new commits of 4" in sync(clone, "--org", "acme")
    c = commit(clone, "later", "2026-01-05T10:00:00+00:00")
    assert "1 new commits of 5" in sync(clone, "--org", "acme")
    assert Commit.objects.get(repository=repo, sha=c).generation == 3
    assert Commit.objects.filter(organization=other_org).count() == 0


def test_sync_after_deployment_relinks_it_and_attaches_the_service(org, clone):
    service = make_service(org, "storefront")
    a = commit(clone, "one", "2026-01-01T10:00:00+00:00")
    b = commit(clone, "two", "2026-01-02T10:00:00+00:00")
    record_deployment(
        organization=org,
        event=DeploymentEvent(
            source=Source.PERISCOPE,
            external_id="d1",
            environment="production",
            status="success",
            service_name="storefront",
            commit_sha=b,
            previous_commit_sha=a,
            repository_url=ORIGIN,
            started_at=datetime(2026, 1, 3, tzinfo=UTC),
            completed_at=datetime(2026, 1, 3, tzinfo=UTC),
        ),
        body="{}",
    )
    output = sync(clone, "--org", "acme", "--service", service.slug)
    assert "1 deployments relinked" in output
    assert Repository.objects.get(organization=org).service == service
    assert list(DeploymentCommit.objects.values_list("sha", flat=True)) == [b]


def test_inferred_push_edges_are_replaced_by_exact_parents(org, clone):
    from deployments.changes.commits import CommitData
    from deployments.ingest.forge import store_push

    a = commit(clone, "one", "2026-01-01T10:00:00+00:00")
    git(clone, "checkout", "-q", "-b", "side")
    s = commit(clone, "side", "2026-01-02T10:00:00+00:00")
    git(clone, "checkout", "-q", "main")
    b = commit(clone, "two", "2026-01-03T10:00:00+00:00")
    git(clone, "merge", "-q", "--no-ff", "side", "-m", "merge", when="2026-01-04T10:00:00+00:00")
    m = git(clone, "rev-parse", "HEAD")
    store_push(
        organization=org,
        url=ORIGIN,
        before=b,
        after=m,
        commits=[CommitData(sha=s), CommitData(sha=m)],
    )
    repo = Repository.objects.get(organization=org)
    assert set(
        CommitParent.objects.filter(repository=repo, child_sha=m).values_list(
            "parent_sha", flat=True
        )
    ) == {s}
    sync(clone, "--org", "acme")
    assert set(
        CommitParent.objects.filter(repository=repo, child_sha=m).values_list(
            "parent_sha", "inferred"
        )
    ) == {(b, False), (s, False)}
    assert a


def test_errors_are_command_errors(org, other_org, tmp_path):
    with pytest.raises(CommandError, match="--org"):
        sync(tmp_path)
    with pytest.raises(CommandError, match="Cannot read git history"):
        sync(tmp_path, "--org", "acme")
    with pytest.raises(CommandError, match="No service"):
        sync(tmp_path, "--org", "acme", "--service", "nope")
