"""tests/factories.py: every factory saves a valid row with no arguments."""

import pytest

from tests import factories

FACTORIES = [
    factories.DeploymentFactory,
    factories.EnvironmentAliasFactory,
    factories.IncidentFactory,
    factories.ServiceSuggestionFactory,
    factories.RepositoryFactory,
    factories.CommitFactory,
    factories.PullRequestFactory,
]


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_each_factory_saves_a_valid_row(db, factory):
    first, second = factory(), factory()
    for row in (first, second):
        row.full_clean()
    assert first.pk != second.pk


def test_commits_and_pull_requests_belong_to_their_repositorys_organization(org, other_org):
    repository = factories.RepositoryFactory(
        organization=other_org, url="https://github.com/Globex/Shop.git"
    )
    assert (repository.key, repository.name) == ("globex/shop", "shop")
    commit = factories.CommitFactory(repository=repository)
    pull_request = factories.PullRequestFactory(repository=repository)
    assert commit.organization == pull_request.organization == other_org
