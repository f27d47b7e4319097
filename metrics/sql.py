"""SQL building blocks that behave the same on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime

from django.db import connection, transaction
from django.db.models import Expression, FloatField, Func, QuerySet, Value


class EpochSeconds(Func):
    """Seconds since 1970-01-01 UTC of a datetime column, with its microseconds."""

    output_field = FloatField()
    arity = 1

    def as_postgresql(self, compiler, conn, **extra):
        # date_part gives float8 directly; EXTRACT computes a numeric first (slower, same
        # value once cast).
        return self.as_sql(compiler, conn, template="date_part('epoch', %(expressions)s)")

    def as_sqlite(self, compiler, conn, **extra):
        # Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC; strftime('%s') is exact to the
        # second and the fraction is read from the text (julianday would round).
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"(CAST(strftime('%%s', {sql}) AS REAL) + CAST('0' || substr({sql}, 20, 7) AS REAL))",
            params * 2,
        )


def as_utc(value) -> datetime | None:
    """A bucket value as the database returned it (text, naive or aware) in aware UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def distribution(queryset: QuerySet, *, value: Expression, group: Expression | None = None) -> dict:
    """{group: (count, median, p90, mean)} of `value` over the rows of `queryset`.

    Ranks come from ROW_NUMBER/COUNT window functions so both databases give identical
    numbers: the median of an even count is the mean of the two middle values; p90 is the
    nearest-rank value, the ceil(0.9 n)-th smallest.
    """
    inner = (
        queryset.annotate(dist_group=group if group is not None else Value(0), dist_value=value)
        .values("dist_group", "dist_value")
        .order_by()
    )
    sql, params = inner.query.sql_with_params()
    # MATERIALIZED: computed once. Inlined, PostgreSQL would re-evaluate the value (often a
    # correlated subquery) at every reference below.
    wrapped = f"""
        WITH q AS MATERIALIZED ({sql})
        SELECT g, COUNT(*), AVG(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN v END),
               MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN v END), AVG(v)
        FROM (
            SELECT q.dist_group AS g, q.dist_value AS v,
                   ROW_NUMBER() OVER (PARTITION BY q.dist_group ORDER BY q.dist_value) AS rn,
                   COUNT(*) OVER (PARTITION BY q.dist_group) AS n
            FROM q
            WHERE q.dist_value IS NOT NULL
        ) w
        GROUP BY g
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The correlated subqueries inflate the plan's cost estimate past jit_above_cost;
            # compiling then costs more (~150 ms) than the query itself.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(wrapped, params)
        rows = cursor.fetchall()
    return {row[0]: (int(row[1]), float(row[2]), float(row[3]), float(row[4])) for row in rows}
