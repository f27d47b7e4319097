"""A repository named by a URL whose last segment is longer than a repository name."""

from deployments.changes.repositories import get_or_create_repository


def test_a_long_url_makes_a_repository_with_its_name_cut(org, other_org):
    repository = get_or_create_repository(organization=org, url="0" * 256)
    assert repository.key == "0" * 256
    assert repository.name == "0" * 200
    assert get_or_create_repository(organization=org, url="0" * 256).pk == repository.pk
    assert get_or_create_repository(organization=other_org, url="0" * 256).pk != repository.pk
