"""GET /api/changes and a deployment's changes: pull requests and commits with lead times."""

from deployments.models import Deployment
from tests.builders import build_history, sha
from tests.factories import make_key


def get(api, key, url):
    return api.get(url, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_pull_requests_carry_the_lead_time_of_their_first_deployment(api, org, key, other_org):
    build_history(org)
    build_history(other_org)  # the same repository name in another organization
    body = get(api, key, "/api/changes").json()
    assert [(c["kind"], c["number"], c["title"]) for c in body["results"]] == [
        ("pull_request", 7, "Checkout v2")
    ]
    pr = body["results"][0]
    d2 = Deployment.objects.get(organization=org, external_id="d2")
    assert pr["deployment"] == d2.pk
    assert pr["leadSeconds"] == 5 * 3600  # f1 authored at 3 h, deployed at 8 h
    assert (pr["codingSeconds"], pr["reviewSeconds"], pr["waitingSeconds"]) == (
        1.5 * 3600,
        1.5 * 3600,
        2 * 3600,
    )
    detail = get(api, key, f"/api/changes/{pr['id']}").json()
    assert detail["number"] == 7


def test_commits_list_and_a_deployments_changes(api, org, key):
    build_history(org)
    commits = {c["sha"]: c for c in get(api, key, "/api/changes?kind=commit").json()["results"]}
    assert commits[sha("c")]["leadSeconds"] == 1 * 3600  # c at 7 h, deployed at 8 h
    assert commits[sha("a")]["deployment"] == Deployment.objects.get(external_id="d1").pk

    d2 = Deployment.objects.get(organization=org, external_id="d2")
    shipped = get(api, key, f"/api/deployments/{d2.pk}").json()["changes"]
    assert [(c["kind"], c.get("number"), c.get("sha")) for c in shipped] == [
        ("pull_request", 7, None),
        ("commit", None, sha("c")),
    ]


def test_another_organizations_changes_are_invisible(api, org, other_org):
    build_history(other_org)
    key = make_key(org)
    assert get(api, key, "/api/changes").json()["results"] == []
    assert get(api, key, "/api/changes?kind=commit").json()["results"] == []
    theirs = get(api, make_key(other_org), "/api/changes").json()["results"][0]["id"]
    assert get(api, key, f"/api/changes/{theirs}").status_code == 404


def test_unknown_kind_is_400_naming_it(api, org, key):
    response = get(api, key, "/api/changes?kind=tag")
    assert response.status_code == 400
    assert "kind" in response.json()["error"]
