"""The pairing key of docs/metrics.md: deployments of one catalogued service, or while
unmatched of one normalized name, are paired (a failure with the next success) and counted
together. One value, one encoding: `service:<id>` or `name:<key>`, in Python, in SQL and
where it is stored (DeploymentCommit.service_group, DeploymentPullRequest.service_group)."""

from typing import NamedTuple, Self

from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.functions import Cast, Concat

_SERVICE, _NAME = "service:", "name:"


class ServiceGroup(NamedTuple):
    """A catalogued service, or (service_id None) an unmatched name by its normalized key."""

    service_id: int | None
    service_key: str = ""

    @classmethod
    def of(cls, *, service_id: int | None, service_key: str) -> Self:
        # A matched deployment's name does not matter: every alias pairs with every other.
        return cls(service_id, "") if service_id is not None else cls(None, service_key)

    @classmethod
    def of_row(cls, row) -> Self:
        """The group of anything with `service_id` and `service_key` (a deployment)."""
        return cls.of(service_id=row.service_id, service_key=row.service_key)

    @classmethod
    def decode(cls, text: str) -> Self:
        if text.startswith(_SERVICE):
            return cls(int(text[len(_SERVICE) :]), "")
        if text.startswith(_NAME):
            return cls(None, text[len(_NAME) :])
        raise ValueError(f"not a service group: {text!r}")

    def encode(self) -> str:
        if self.service_id is not None:
            return f"{_SERVICE}{self.service_id}"
        return f"{_NAME}{self.service_key}"

    def q(self, path: str = "") -> Q:
        """The rows of this group (reached through `path`, e.g. "deployment__")."""
        if self.service_id is not None:
            return Q(**{f"{path}service_id": self.service_id})
        return Q(**{f"{path}service__isnull": True, f"{path}service_key": self.service_key})

    @staticmethod
    def expression(path: str = "") -> Case:
        """`encode()` computed by the database, for grouping in SQL."""
        return Case(
            When(
                **{f"{path}service_id__isnull": False},
                then=Concat(Value(_SERVICE), Cast(f"{path}service_id", CharField())),
            ),
            default=Concat(Value(_NAME), F(f"{path}service_key")),
            output_field=CharField(),
        )
