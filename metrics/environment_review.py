"""POST /admin/metrics/dora/environments/: a person's decision on a new environment listed in
the dashboard's "needs a person" panel (deployments/recording/new_environments.py): make it an
alias of an existing environment (its deployments and incidents move there) or keep it.

Staff of the organization only, with the permissions the decision uses (adding an
environment alias, changing deployments); answers with a redirect back to the dashboard and a
message, like an admin action."""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from deployments.recording import new_environments
from deployments.recording.environments import ENVIRONMENT_LENGTH, environment_key
from metrics.dashboard import _organizations

PERMISSIONS = ("deployments.add_environmentalias", "deployments.change_deployment")


@require_POST
def environment_review_view(request):
    if not request.user.has_perms(PERMISSIONS):
        raise PermissionDenied
    organization = _organizations(request).filter(slug=request.POST.get("org", "")).first()
    if organization is None:
        raise Http404("No such organization.")
    back = reverse("dora-dashboard") + "?" + urlencode({"org": organization.slug})
    name = environment_key(request.POST.get("name", ""))[:ENVIRONMENT_LENGTH]
    deployed = new_environments.deployed_environments(organization_id=organization.pk)
    listed = new_environments.new_environments(organization=organization, deployed=deployed)
    if name not in listed:
        messages.warning(request, f"“{name}” is not a new environment (any more).")
        return HttpResponseRedirect(back)
    decision = request.POST.get("decision")
    if decision == "keep" and not name:
        messages.error(request, "Deployments sent without an environment need one: move them.")
        return HttpResponseRedirect(back)
    if decision == "keep":
        new_environments.keep_environment(organization=organization, name=name)
        messages.success(request, f"“{name}” is kept as an environment of its own.")
        return HttpResponseRedirect(back)
    target = environment_key(request.POST.get("environment", ""))[:ENVIRONMENT_LENGTH]
    # Only a target the panel offers: never another new name, nor what a forged form says.
    targets = new_environments.alias_targets(
        organization=organization, deployed=deployed, new=listed
    )
    if decision != "alias" or target not in targets:
        messages.error(request, "Choose an existing environment to make it an alias of.")
        return HttpResponseRedirect(back)
    moved = new_environments.alias_environment(
        organization=organization, name=name, environment=target
    )
    plural = "s" if moved != 1 else ""
    if name:
        text = f"“{name}” is now an alias of {target}: {moved} deployment{plural} moved there."
    else:
        text = f"{moved} deployment{plural} sent without an environment moved to {target}."
    messages.success(request, text)
    return HttpResponseRedirect(back)


# Staff login, CSRF like every admin view.
environment_review = admin.site.admin_view(environment_review_view)
