"""A database aggregate the admin needs on both SQLite and PostgreSQL."""

from django.db.models import Aggregate, CharField


class DistinctValues(Aggregate):
    """The distinct values of a text column, comma-separated (order not guaranteed)."""

    function = "GROUP_CONCAT"
    template = "%(function)s(DISTINCT %(expressions)s)"
    output_field = CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s(DISTINCT %(expressions)s, ',')",
            **extra_context,
        )
