"""Reading a local clone's history with the git command line, for sync_repository."""

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction

from deployments.changes.commits import CommitData, record_commits
from deployments.changes.linking import relink_repository
from deployments.models import Commit, Repository

_FORMAT = "%H%x00%P%x00%at%x00%ct%x00%an%x00%s"


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, errors="replace"
    ).stdout


@contextmanager
def local_clone(path_or_url: str) -> Iterator[Path]:
    """The path of a clone: the directory given, or a temporary bare clone of a URL."""
    path = Path(path_or_url).expanduser()
    if path.exists():
        yield path.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="periscope-sync-") as tmp:
        subprocess.run(
            ["git", "clone", "--bare", "--filter=blob:none", "--quiet", path_or_url, tmp],
            check=True,
            capture_output=True,
        )
        yield Path(tmp)


def origin_url(clone: Path) -> str:
    try:
        return _git("remote", "get-url", "origin", cwd=clone).strip()
    except subprocess.CalledProcessError:
        return ""


def read_history(clone: Path) -> list[CommitData]:
    """Every commit on every ref, parents before children, with exact parents."""
    out = _git("log", "--all", "--topo-order", "--reverse", f"--format={_FORMAT}", cwd=clone)
    commits = []
    for line in out.splitlines():
        parts = line.split("\x00")
        if len(parts) != 6:
            continue
        sha, parents, authored, committed, author, subject = parts
        commits.append(
            CommitData(
                sha=sha.lower(),
                parents=tuple(parents.split()),
                parents_exact=True,
                authored_at=datetime.fromtimestamp(int(authored), tz=UTC),
                committed_at=datetime.fromtimestamp(int(committed), tz=UTC),
                author=author,
                message=subject,
            )
        )
    return commits


def sync_history(*, repository: Repository, commits: list[CommitData]) -> tuple[int, int]:
    """Record the commits whose exact parents are not stored yet; returns (new, relinked)."""
    known = set(
        Commit.objects.filter(repository=repository, parents_exact=True).values_list(
            "sha", flat=True
        )
    )
    missing = [c for c in commits if c.sha not in known]
    if not missing:
        return 0, 0
    with transaction.atomic():
        record_commits(repository=repository, commits=missing)
        since = min(c.committed_at for c in missing)
        relinked = relink_repository(repository=repository, since=since)
    return len(missing), relinked
