"""Changes (pull requests and commits) for the list and deployment-detail APIs.

The models come from the lead-time work (deployments.PullRequest / deployments.Commit); until
they exist these return nothing, so the API shape is stable either way.
"""

from django.apps import apps
from django.db import models
from django.forms.models import model_to_dict


def change_model() -> type[models.Model] | None:
    try:
        return apps.get_model("deployments", "PullRequest")
    except LookupError:
        return None


def _as_json(instance: models.Model) -> dict:
    data = model_to_dict(instance)
    data["id"] = instance.pk
    return {
        k: (v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in data.items()
        if isinstance(v, str | int | float | bool | type(None)) or hasattr(v, "isoformat")
    }


def changes_of_deployment(*, deployment) -> list[dict]:
    """The pull requests a deployment shipped, when the lead-time models link them."""
    model = change_model()
    if model is None:
        return []
    field_names = {f.name for f in model._meta.get_fields()}
    for link in ("deployment", "first_deployment", "deployments"):
        if link in field_names:
            return [_as_json(pr) for pr in model.objects.filter(**{link: deployment})[:500]]
    return []


def changes_of_organization(*, organization_id: int):
    model = change_model()
    if model is None:
        return None
    return model.objects.filter(organization_id=organization_id).order_by("-pk")
