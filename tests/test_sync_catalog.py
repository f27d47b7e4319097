"""manage.py sync_catalog against real Backstage catalog files (tests/fixtures/backstage, see SOURCES.md)."""

import json
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployments.models import Deployment
from services.backstage_read import Catalog, InvalidEntity, parse_component, read_catalog
from services.backstage_sync import sync_catalog
from services.models import Service, ServiceSuggestion, SuggestionStatus
from tests.admin_helpers import deliver, messages_of, run_action
from tests.factories import make_service

# Unchanged copies of ../shared/realworld/backstage, so CI needs nothing outside the repo.
REALWORLD = Path(__file__).resolve().parent / "fixtures" / "backstage"

pytestmark = pytest.mark.django_db


def sync(org, *sources) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("sync_catalog", *map(str, sources), org=org.slug, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def copy(tmp_path: Path, *names: str, into: str = "") -> Path:
    folder = tmp_path / into
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(REALWORLD / name, folder / name)
    return folder


def test_real_folder_creates_one_service_per_component(org, other_org):
    make_service(organization=other_org, name="backstage")
    out, err = sync(org, REALWORLD)

    refs = set(Service.objects.filter(organization=org).values_list("catalog_ref", flat=True))
    assert refs == {
        "component:default/backstage",
        "component:default/artist-lookup",
        "component:default/petstore",
        "component:default/backstage-plugin-catalog-backend",
        "component:default/shuffle-api",
        "component:default/wayback-search",
        "component:default/elasticsearch-py",
        "component:default/xblock",
        "component:default/os2mo",
        "component:default/sample-service",
        "component:default/sentry-js",
    }
    backstage = Service.objects.get(organization=org, catalog_ref="component:default/backstage")
    assert (backstage.name, backstage.team, backstage.repository_url) == (
        "backstage",
        "CNCF",
        "https://github.com/backstage/backstage",
    )
    plugin = Service.objects.get(organization=org, name="backstage-plugin-catalog-backend")
    assert plugin.display_name == "@backstage/plugin-catalog-backend"
    sample = Service.objects.get(organization=org, name="sample-service")
    assert sample.team == "roadiehq/engineering" and sample.catalog_namespace == "default"
    assert Service.objects.get(organization=org, name="wayback-search").lifecycle == "production"
    assert Service.objects.get(organization=org, name="shuffle-api").team == "user:guest"
    xblock = Service.objects.get(organization=org, name="XBlock")
    assert (xblock.team, xblock.lifecycle) == ("axim-engineering", "production")
    # Two repository annotations: the first is the repository, the other an alias.
    os2mo = Service.objects.get(organization=org, name="os2mo")
    assert os2mo.repository_url == "https://github.com/OS2mo/os2mo"
    assert {"os2mo", "os2mo/os2mo", "rammearkitektur/os2mo"} <= set(
        os2mo.aliases.values_list("key", flat=True)
    )
    # The invalid Backstage name is reported with its file; Systems, Groups, Users are not services.
    assert (
        "component-invalid-name.yaml: invalid Component: metadata.name 'invalid component'" in err
    )
    assert not Service.objects.filter(organization=org, name__icontains="invalid").exists()
    assert out.splitlines()[-1].startswith("11 created, 0 updated, 0 unchanged, ")
    # The other organization keeps its own service and gains nothing.
    assert list(
        Service.objects.filter(organization=other_org).values_list("name", "catalog_ref")
    ) == [("backstage", "")]


def test_second_run_changes_nothing(org):
    sync(org, REALWORLD)
    before = list(Service.objects.filter(organization=org).values().order_by("pk"))
    aliases = sorted(
        Service.objects.filter(organization=org).values_list("aliases__key", flat=True)
    )

    out, _ = sync(org, REALWORLD)

    assert out.splitlines()[-1].startswith("0 created, 0 updated, 11 unchanged, ")
    assert "created" not in out.replace("0 created", "") and "updated " not in out
    listed = StringIO()
    call_command(
        "sync_catalog", str(REALWORLD), org=org.slug, verbosity=2, stdout=listed, stderr=StringIO()
    )
    assert "unchanged component:default/xblock" in listed.getvalue()
    assert list(Service.objects.filter(organization=org).values().order_by("pk")) == before
    assert (
        sorted(Service.objects.filter(organization=org).values_list("aliases__key", flat=True))
        == aliases
    )


def test_new_title_and_owner_update_the_same_service_and_keep_deployments(org, api, key, tmp_path):
    folder = copy(tmp_path, "component-plugin-catalog-backend.yaml")
    sync(org, folder)
    deliver(api, key, "d-1", service="backstage-plugin-catalog-backend")
    service = Service.objects.get(organization=org)
    assert Deployment.objects.get(external_id="d-1").service == service

    file = folder / "component-plugin-catalog-backend.yaml"
    text = file.read_text()
    file.write_text(
        text.replace("'@backstage/plugin-catalog-backend'", "Catalog backend").replace(
            "owner: catalog-maintainers", "owner: group:default/catalog-core"
        )
    )
    out, _ = sync(org, folder)

    assert "updated component:default/backstage-plugin-catalog-backend: display_name, team" in out
    renamed = Service.objects.get(organization=org)
    assert renamed.pk == service.pk
    assert (renamed.display_name, renamed.team) == ("Catalog backend", "catalog-core")
    assert Deployment.objects.get(external_id="d-1").service == renamed


def test_component_gone_from_the_catalog_is_reported_and_kept(org, tmp_path):
    folder = copy(tmp_path, "component-petstore.yaml", "component-shuffle-api.yaml")
    sync(org, folder)
    (folder / "component-petstore.yaml").unlink()

    out, _ = sync(org, folder)

    assert "not in the catalog any more (kept): component:default/petstore" in out
    assert Service.objects.filter(organization=org, name="petstore").exists()


def test_location_targets_are_followed_relative_to_the_location_file(org, tmp_path):
    copy(tmp_path, "location-all-components.yaml")
    components = [
        "component-artist-lookup.yaml",
        "component-petstore.yaml",
        "component-shuffle-api.yaml",
        "component-wayback-search.yaml",
    ]
    # The original layout: ./components/<name>-component.yaml
    (tmp_path / "components").mkdir()
    for name in components:
        target = name.removeprefix("component-").removesuffix(".yaml") + "-component.yaml"
        shutil.copy(REALWORLD / name, tmp_path / "components" / target)

    out, err = sync(org, tmp_path / "location-all-components.yaml")

    assert set(Service.objects.filter(organization=org).values_list("name", flat=True)) == {
        "artist-lookup",
        "petstore",
        "shuffle-api",
        "wayback-search",
    }
    assert "Location target ./components/podcast-api-component.yaml not found" in err
    assert out.splitlines()[-1] == "4 created, 0 updated, 0 unchanged, 9 skipped"


def test_group_display_name_fills_the_team(org, tmp_path):
    folder = copy(tmp_path, "group-acme-corp-plus-location.yaml", "component-petstore.yaml")
    file = folder / "component-petstore.yaml"
    file.write_text(file.read_text().replace("owner: team-c", "owner: group:acme-corp"))

    sync(org, folder)

    assert Service.objects.get(organization=org, name="petstore").team == "ACME Corp"


def test_a_service_made_by_hand_is_adopted_not_duplicated(org, tmp_path):
    hand_made = make_service(organization=org, name="petstore", team="")
    sync(org, copy(tmp_path, "component-petstore.yaml"))
    service = Service.objects.get(organization=org)
    assert service.pk == hand_made.pk
    assert (service.catalog_ref, service.team) == ("component:default/petstore", "team-c")


def test_suggestions_exact_names_are_attached_and_near_ones_offered(
    org, api, key, other_key, other_org, admin_client, tmp_path
):
    deliver(api, key, "p-1", service="petstore")
    deliver(api, key, "a-1", service="Artist Lookup")
    deliver(api, other_key, "o-1", service="Artist Lookup")

    out, _ = sync(org, copy(tmp_path, "component-petstore.yaml", "component-artist-lookup.yaml"))

    petstore = Service.objects.get(organization=org, name="petstore")
    assert Deployment.objects.get(external_id="p-1").service == petstore
    assert ServiceSuggestion.objects.get(organization=org, key="petstore").status == "accepted"
    assert "suggestion 'Artist Lookup' looks like service artist-lookup" in out
    suggestion = ServiceSuggestion.objects.get(organization=org, key="artist lookup")
    assert suggestion.status == SuggestionStatus.OPEN  # only offered
    other = ServiceSuggestion.objects.get(organization=other_org, key="artist lookup")
    assert other.catalog_match is None

    listed = admin_client.get("/admin/services/servicesuggestion/?catalog_match=yes")
    assert [s.pk for s in listed.context["cl"].result_list] == [suggestion.pk]
    response = run_action(
        admin_client, "/admin/services/servicesuggestion/", "accept_catalog_match", [suggestion.pk]
    )
    assert (
        "Attached 1 suggestion(s) to their catalog service; re-attributed 1 deployment(s)."
        in messages_of(response)
    )
    assert Deployment.objects.get(external_id="a-1").service.name == "artist-lookup"
    assert Deployment.objects.get(external_id="o-1").service is None


def test_unreadable_sources_are_skipped_and_only_nothing_read_fails(org, tmp_path):
    out, err = sync(
        org,
        REALWORLD / "component-petstore.yaml",
        tmp_path / "missing.yaml",
        "http://127.0.0.1:9/catalog-info.yaml",
    )
    assert "missing.yaml: not found" in err
    assert "http://127.0.0.1:9/catalog-info.yaml: unreachable" in err
    assert out.splitlines()[-1] == "1 created, 0 updated, 0 unchanged, 2 skipped"

    with pytest.raises(CommandError, match="Nothing could be read"):
        sync(org, tmp_path / "missing.yaml", "http://127.0.0.1:9/catalog-info.yaml")
    with pytest.raises(CommandError, match="No organization"):
        call_command("sync_catalog", str(REALWORLD), org="nope", stdout=StringIO())


def test_a_location_read_over_http_follows_its_relative_targets(org, tmp_path):
    copy(tmp_path, "location-all-components.yaml")
    (tmp_path / "components").mkdir()
    shutil.copy(
        REALWORLD / "component-petstore.yaml", tmp_path / "components" / "petstore-component.yaml"
    )
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/location-all-components.yaml"
        out, err = sync(org, url)
    finally:
        server.shutdown()
        server.server_close()

    assert list(Service.objects.filter(organization=org).values_list("name", flat=True)) == [
        "petstore"
    ]
    assert "/components/searcher-component.yaml: unreachable" in err
    assert out.splitlines()[-1] == "1 created, 0 updated, 0 unchanged, 12 skipped"


text = st.text(st.characters(codec=None), max_size=80)  # every code point, surrogates too
value = st.one_of(text, st.integers(), st.none(), st.lists(text, max_size=2))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=value,
    namespace=value,
    title=value,
    owner=value,
    annotations=st.dictionaries(
        st.sampled_from(
            ["github.com/project-slug", "gitlab.com/project-slug", "backstage.io/source-location"]
        )
        | text,
        value,
        max_size=3,
    ),
)
def test_any_unicode_entity_is_synced_or_reported_never_crashes(
    org, other_org, tmp_path, name, namespace, title, owner, annotations
):
    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "title": title,
            "annotations": annotations,
        },
        "spec": {"type": "service", "lifecycle": "production", "owner": owner},
    }
    file = tmp_path / "catalog-info.yaml"
    # JSON is YAML; its \\uXXXX escapes carry lone surrogates and NUL into the parser.
    file.write_text(json.dumps(entity))

    catalog = read_catalog(sources=[str(file)])
    report = sync_catalog(organization=org, catalog=catalog)

    assert (
        len(report.created) + len(report.updated) + len(report.unchanged) + len(report.skipped) >= 1
    )
    if report.skipped and not catalog.components:
        assert all(s.source == str(file) for s in report.skipped)
    for service in Service.objects.filter(organization=org, catalog_ref__gt=""):
        service.name.encode("utf-8")  # stored text is storable on PostgreSQL too
        assert "\x00" not in service.display_name + service.team + service.repository_url
    assert not Service.objects.filter(organization=other_org).exists()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=value, title=value, owner=value, source_location=value)
def test_any_unicode_entity_straight_from_a_parser_is_synced_or_refused(
    org, other_org, name, title, owner, source_location
):
    # A lone surrogate cannot pass through a YAML file (PyYAML refuses the escape), but a
    # parser is not the only way in: the entity itself must refuse what cannot be stored.
    entity = {
        "kind": "Component",
        "metadata": {
            "name": name,
            "title": title,
            "annotations": {"backstage.io/source-location": source_location},
        },
        "spec": {"owner": owner},
    }
    try:
        component = parse_component(entity, source="catalog-info.yaml")
    except InvalidEntity as exc:
        assert str(exc)  # names the field
        return
    report = sync_catalog(organization=org, catalog=Catalog(components=[component]))
    service = Service.objects.get(organization=org, catalog_ref=component.ref)
    assert report.created == [component.ref] or report.updated or report.unchanged
    assert (service.name, service.display_name) == (component.name, component.title)
    assert not Service.objects.filter(organization=other_org).exists()


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"name": "ok", "title": "a\ud800b"}, "metadata.title is not valid Unicode text"),
        ({"name": "ok", "title": "a\x00b"}, "metadata.title contains a NUL character"),
        ({"name": "caf\u00e9"}, "metadata.name 'café' is not a valid Backstage name"),
        ({"name": ["a"]}, "metadata.name must be a string"),
        ({"name": "a" * 64}, "metadata.name is longer than 63 characters"),
        ({"title": "no name"}, "metadata.name is missing"),
    ],
)
def test_invalid_fields_are_named(metadata, reason):
    with pytest.raises(InvalidEntity, match=reason):
        parse_component({"kind": "Component", "metadata": metadata}, source="f.yaml")


def test_a_nul_in_a_real_file_is_reported_with_its_file(org, tmp_path):
    folder = copy(tmp_path, "component-petstore.yaml", "component-shuffle-api.yaml")
    file = folder / "component-petstore.yaml"
    file.write_text(file.read_text().replace("name: petstore", 'name: petstore\n  title: "a\\0b"'))
    out, err = sync(org, folder)
    assert "component-petstore.yaml: invalid Component: metadata.title contains a NUL" in err
    assert list(Service.objects.filter(organization=org).values_list("name", flat=True)) == [
        "shuffle-api"
    ]
