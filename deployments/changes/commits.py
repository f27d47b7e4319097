"""Recording commits, their parent edges and generation numbers, from any source."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from deployments.models import Commit, CommitParent, Repository

_CHUNK = 500


@dataclass(frozen=True, kw_only=True)
class CommitData:
    sha: str
    authored_at: datetime | None = None
    committed_at: datetime | None = None
    author: str = ""
    message: str = ""
    # None: parents unknown. exact=False: inferred from a push's commit order.
    parents: tuple[str, ...] | None = None
    parents_exact: bool = False


def first_line(message: str) -> str:
    return (message or "").strip().split("\n", 1)[0][:500]


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(repository: Repository, shas: Sequence[str]) -> dict[str, Commit]:
    found: dict[str, Commit] = {}
    for chunk in _chunks(list(shas)):
        for commit in Commit.objects.filter(repository=repository, sha__in=chunk):
            found[commit.sha] = commit
    return found


def _upsert_commits(repository: Repository, commits: Sequence[CommitData]) -> None:
    # New commits are inserted with their generation already computed, so a large first
    # sync needs no second pass of updates.
    parents = {c.sha: list(c.parents) for c in commits if c.parents is not None}
    outside = sorted({p for ps in parents.values() for p in ps if p not in parents})
    known = {
        sha: gen
        for chunk in _chunks(outside)
        for sha, gen in Commit.objects.filter(repository=repository, sha__in=chunk).values_list(
            "sha", "generation"
        )
    }
    generations = _compute_generations(set(parents), parents, known)
    referenced = {c.sha for c in commits}
    for c in commits:
        referenced.update(c.parents or ())
    existing = _existing(repository, sorted(referenced))
    by_sha = {c.sha: c for c in commits}
    new_rows, changed_rows = [], []
    for sha in referenced:
        data = by_sha.get(sha)
        row = existing.get(sha)
        if row is None:
            row = Commit(
                organization_id=repository.organization_id,
                repository=repository,
                sha=sha,
                generation=generations.get(sha, 0),
            )
            new_rows.append(row)
        elif data is None:
            continue
        else:
            changed_rows.append(row)
        if data is not None:
            # Later data fills gaps; it never erases what a richer source recorded.
            row.authored_at = row.authored_at or data.authored_at
            row.committed_at = row.committed_at or data.committed_at
            row.author = row.author or data.author[:255]
            row.message = row.message or first_line(data.message)
    Commit.objects.bulk_create(new_rows, batch_size=_CHUNK, ignore_conflicts=True)
    Commit.objects.bulk_update(
        changed_rows, ["authored_at", "committed_at", "author", "message"], batch_size=_CHUNK
    )


def _would_cycle(repository: Repository, *, child: str, parent: str) -> bool:
    """Whether an inferred edge child → parent closes a cycle (parent already descends from
    child), as a force-push listing old commits can suggest. Only a child that already has
    descendants can close one; the walk stops at the child's generation."""
    from deployments.changes.ancestry import walk

    if child == parent:
        return True
    if not CommitParent.objects.filter(repository=repository, parent_sha=child).exists():
        return False
    floor = (
        Commit.objects.filter(repository=repository, sha=child)
        .values_list("generation", flat=True)
        .first()
    )
    return child in walk(repository_id=repository.pk, start=parent, floor=floor or 0)


def _record_edges(repository: Repository, commits: Sequence[CommitData]) -> None:
    exact = [c for c in commits if c.parents is not None and c.parents_exact]
    inferred = [c for c in commits if c.parents is not None and not c.parents_exact]
    exact_shas = [c.sha for c in exact]
    for chunk in _chunks(exact_shas):
        CommitParent.objects.filter(repository=repository, child_sha__in=chunk).delete()
        Commit.objects.filter(repository=repository, sha__in=chunk).update(parents_exact=True)
    already_exact: set[str] = set()
    for chunk in _chunks([c.sha for c in inferred]):
        already_exact.update(
            Commit.objects.filter(
                repository=repository, sha__in=chunk, parents_exact=True
            ).values_list("sha", flat=True)
        )
    edges = [
        CommitParent(repository=repository, child_sha=c.sha, parent_sha=p, inferred=False)
        for c in exact
        for p in c.parents
    ] + [
        CommitParent(repository=repository, child_sha=c.sha, parent_sha=p, inferred=True)
        for c in inferred
        if c.sha not in already_exact
        for p in c.parents
        if not _would_cycle(repository, child=c.sha, parent=p)
    ]
    CommitParent.objects.bulk_create(edges, batch_size=_CHUNK, ignore_conflicts=True)


def _parents_of(repository: Repository, shas: Sequence[str]) -> dict[str, list[str]]:
    parents: dict[str, list[str]] = {sha: [] for sha in shas}
    for chunk in _chunks(list(shas)):
        for child, parent in CommitParent.objects.filter(
            repository=repository, child_sha__in=chunk
        ).values_list("child_sha", "parent_sha"):
            parents[child].append(parent)
    return parents


def _children_of(repository: Repository, shas: Sequence[str]) -> set[str]:
    children: set[str] = set()
    for chunk in _chunks(list(shas)):
        children.update(
            CommitParent.objects.filter(repository=repository, parent_sha__in=chunk).values_list(
                "child_sha", flat=True
            )
        )
    return children


def _compute_generations(
    frontier: set[str], parents: dict[str, list[str]], generation: dict[str, int]
) -> dict[str, int]:
    """Generations of `frontier` in memory, parents first; parents outside it count with
    their stored `generation` (0 when unknown)."""
    computed: dict[str, int] = {}
    for start in frontier:
        stack, visiting = [start], set()
        while stack:  # iterative depth-first: a 100,000-commit chain must not recurse
            sha = stack[-1]
            if sha in computed:
                stack.pop()
                continue
            # A parent already being visited would be a cycle (only an inconsistent
            # inferred push chain can make one): it counts with its stored generation.
            pending = [
                p
                for p in parents.get(sha, ())
                if p in frontier and p not in computed and p not in visiting
            ]
            if pending and sha not in visiting:
                visiting.add(sha)
                stack.extend(pending)
                continue
            stack.pop()
            computed[sha] = 1 + max(
                (computed.get(p, generation.get(p, 0)) for p in parents.get(sha, ())),
                default=-1,
            )
    return computed


def update_generations(*, repository: Repository, shas: Iterable[str]) -> None:
    """Restore generation(child) > generation(parent) after edges of `shas` changed.

    The batch is computed in memory in topological order; descendants outside it are then
    raised level by level (usually none: new commits arrive on top of history)."""
    frontier = set(shas)
    while frontier:
        parents = _parents_of(repository, sorted(frontier))
        outside = {p for ps in parents.values() for p in ps if p not in frontier}
        generation = {
            sha: gen
            for chunk in _chunks(sorted(outside))
            for sha, gen in Commit.objects.filter(repository=repository, sha__in=chunk).values_list(
                "sha", "generation"
            )
        }
        rows = _existing(repository, sorted(frontier))
        computed = _compute_generations(frontier, parents, generation)
        changed = []
        for sha, gen in computed.items():
            row = rows.get(sha)
            if row is not None and row.generation != gen:
                row.generation = gen
                changed.append(row)
        Commit.objects.bulk_update(changed, ["generation"], batch_size=_CHUNK)
        frontier = _children_of(repository, [r.sha for r in changed]) - set(computed)


def record_commits(*, repository: Repository, commits: Sequence[CommitData]) -> None:
    """Store commits (filling stubs), their parent edges and generation numbers."""
    if not commits:
        return
    _upsert_commits(repository, commits)
    with_parents = [c for c in commits if c.parents is not None]
    _record_edges(repository, with_parents)
    update_generations(repository=repository, shas=[c.sha for c in with_parents])


def chained(commits: Sequence[CommitData], *, before: str) -> list[CommitData]:
    """A push's commits (oldest first) with inferred parents: each one's parent is the one
    before it, the first one's is the push's `before`. For a merge commit this omits the
    merged branch's side, but `after`'s ancestry minus `before`'s is the same set."""
    out, parent = [], before
    for c in commits:
        parents = (parent,) if parent and set(parent) != {"0"} else ()
        out.append(
            CommitData(
                sha=c.sha,
                authored_at=c.authored_at,
                committed_at=c.committed_at,
                author=c.author,
                message=c.message,
                parents=parents,
                parents_exact=False,
            )
        )
        parent = c.sha
    return out
