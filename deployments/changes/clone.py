"""Reading a local clone's history with the git command line, for sync_repository."""

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.db import transaction

from deployments.changes.commits import CommitData, record_commits
from deployments.changes.linking import relink_repository
from deployments.models import Commit, Repository

_FORMAT = "%H%x00%P%x00%at%x00%ct%x00%an%x00%s"


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, errors="replace"
    ).stdout


# What `sync_repository` documents: a local path, or an https, ssh or file URL. git itself
# also runs `ext::<command>` and `fd::` "URLs", and reads an argument starting with "-" as an
# option (`--upload-pack=<command>`), so anything else is refused before git sees it, and git
# is told the same (GIT_ALLOW_PROTOCOL also covers redirects and submodules).
ALLOWED_PROTOCOLS = ("https", "ssh", "file")
_SCP_LIKE = re.compile(r"[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:[^\s]+")


class UnsupportedSource(ValueError):
    pass


def checked_clone_url(url: str) -> str:
    """`url` if git may clone it: https://, ssh://, user@host:path (ssh) or file://."""
    url = url.strip()
    refusal = UnsupportedSource(
        f"{url!r} is not a local path or an https://, ssh://, user@host:path or file:// URL"
    )
    if not url or url.startswith("-") or any(c in url for c in "\x00\n\r"):
        raise refusal
    if _SCP_LIKE.fullmatch(url) and not url.split("@", 1)[1].startswith("-"):
        return url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_PROTOCOLS or "::" in url.split("/", 1)[0]:
        raise refusal
    host = parts.hostname or ""
    if parts.scheme.lower() != "file" and (not host or host.startswith("-")):
        raise refusal
    return url


@contextmanager
def local_clone(path_or_url: str) -> Iterator[Path]:
    """The path of a clone: the directory given, or a temporary bare clone of a URL."""
    path = Path(path_or_url).expanduser()
    if path.exists():
        yield path.resolve()
        return
    url = checked_clone_url(path_or_url)
    with tempfile.TemporaryDirectory(prefix="periscope-sync-") as tmp:
        subprocess.run(
            ["git", "clone", "--bare", "--filter=blob:none", "--quiet", "--", url, tmp],
            check=True,
            capture_output=True,
            env={
                **os.environ,
                "GIT_ALLOW_PROTOCOL": ":".join(ALLOWED_PROTOCOLS),
                "GIT_TERMINAL_PROMPT": "0",
            },
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
