"""Which commits a deployment shipped: `git log base..head` as recursive SQL queries.

The joins are CROSS JOINs because SQLite then keeps the written order (walk outward from
the rows found so far); PostgreSQL plans them as inner joins either way.

Both walks are bounded by generation numbers (every parent has a lower generation than its
child), so linking cost follows the size of the change, not the size of the history."""

from datetime import datetime

from django.db import connection

from deployments.models import Commit, CommitParent

_COMMIT = Commit._meta.db_table
_EDGE = CommitParent._meta.db_table


def walk(*, repository_id: int, start: str, floor: int) -> dict[str, int]:
    """{sha: generation} of `start` and its ancestors, expanding only commits whose
    generation is >= floor (their parents are included, not expanded)."""
    sql = f"""
        WITH RECURSIVE reach(sha, generation) AS (
            SELECT sha, generation FROM {_COMMIT} WHERE repository_id = %s AND sha = %s
            UNION
            SELECT c.sha, c.generation
            FROM reach r CROSS JOIN {_EDGE} e CROSS JOIN {_COMMIT} c
            WHERE e.repository_id = %s AND e.child_sha = r.sha
              AND c.repository_id = %s AND c.sha = e.parent_sha
              AND r.generation >= %s
        )
        SELECT sha, generation FROM reach
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [repository_id, start, repository_id, repository_id, floor])
        return dict(cursor.fetchall())


def _generation(repository_id: int, sha: str) -> int | None:
    return (
        Commit.objects.filter(repository_id=repository_id, sha=sha)
        .values_list("generation", flat=True)
        .first()
    )


def commits_between(*, repository_id: int, head: str, base: str) -> set[str]:
    """Commits reachable from head and not from base, exactly.

    With floor L, a commit X of generation >= L reached from head is an ancestor of base iff
    the walk from base finds it (every commit on a path base → X has a generation above
    X's). Commits below L are decided by the head walk's boundary: if every boundary commit
    is an ancestor of base, so is all that lies below it; otherwise L is lowered."""
    head_gen, base_gen = _generation(repository_id, head), _generation(repository_id, base)
    if head_gen is None:
        return set()
    if base_gen is None:
        base_gen = 0
    floor = min(head_gen, base_gen)
    step = 64
    while True:
        from_head = walk(repository_id=repository_id, start=head, floor=floor)
        from_base = walk(repository_id=repository_id, start=base, floor=floor)
        boundary = {sha for sha, gen in from_head.items() if gen < floor}
        if floor <= 0 or boundary <= from_base.keys():
            return set(from_head) - set(from_base)
        floor = max(0, floor - step)
        step *= 4


def commits_since(*, repository_id: int, head: str, since: datetime) -> set[str]:
    """head and its ancestors authored or committed at or after `since`; the walk does not
    go past an older commit (a first deployment must not claim the whole history)."""
    sql = f"""
        WITH RECURSIVE reach(sha) AS (
            SELECT sha FROM {_COMMIT} WHERE repository_id = %s AND sha = %s
            UNION
            SELECT c.sha
            FROM reach r CROSS JOIN {_EDGE} e CROSS JOIN {_COMMIT} c
            WHERE e.repository_id = %s AND e.child_sha = r.sha
              AND c.repository_id = %s AND c.sha = e.parent_sha
              AND COALESCE(c.committed_at, c.authored_at) >= %s
        )
        SELECT sha FROM reach
    """
    with connection.cursor() as cursor:
        moment = connection.ops.adapt_datetimefield_value(since)
        cursor.execute(sql, [repository_id, head, repository_id, repository_id, moment])
        return {row[0] for row in cursor.fetchall()}
