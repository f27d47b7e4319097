"""Count columns of admin change lists."""

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce


def count_per_row(related: QuerySet, *, link: str) -> Coalesce:
    """How many `related` rows point at each listed row through the foreign key `link`.

    A correlated count, not `Count()` over a join: PostgreSQL evaluates it after the change
    list's sort and limit, for the page's rows only, where a join grouped every related row
    first (50 ms to 3 s a page of deployments at 300,000 of them).
    """
    counted = (
        related.filter(**{link: OuterRef("pk")})
        .order_by()
        .values(link)
        .annotate(count=Count("*"))
        .values("count")
    )
    return Coalesce(Subquery(counted), 0)
