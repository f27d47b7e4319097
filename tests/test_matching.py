import pytest

from services.matching import normalize_key, resolve_service_id
from tests.factories import make_service


@pytest.mark.parametrize(
    "raw",
    [
        "https://github.com/Acme/Api",
        "https://github.com/acme/api.git",
        "https://github.com/acme/api/",
        "http://gitlab.example.com/acme/api.git",
        "git@github.com:acme/api.git",
        "git@github.com:acme/api",
        "ssh://git@github.com:22/acme/api.git",
        "acme/api",
        "acme/api.git",
        "  ACME/api ",
    ],
)
def test_repository_forms_reduce_to_one_key(raw):
    assert normalize_key(raw) == "acme/api"


def test_a_plain_name_ending_in_git_is_kept():
    assert normalize_key("legit") == "legit"
    assert normalize_key("my.git") == "my.git"


def test_gitlab_subgroups_keep_their_path():
    assert normalize_key("https://gitlab.com/acme/platform/api.git") == "acme/platform/api"


@pytest.mark.parametrize("raw, key", [("  Payment-Service ", "payment-service"), ("", "")])
def test_names_are_trimmed_and_lower_cased(raw, key):
    assert normalize_key(raw) == key


def test_resolve_by_name_repository_and_alias(org, other_org, django_assert_num_queries):
    service = make_service(
        org, "Payments", repository_url="git@github.com:acme/payments.git", aliases=["pay"]
    )
    make_service(other_org, "Checkout")
    for name in ["payments", "https://github.com/acme/payments", "PAY"]:
        with django_assert_num_queries(1):
            assert resolve_service_id(organization_id=org.pk, name=name) == service.pk
    assert resolve_service_id(organization_id=org.pk, name="checkout") is None
    assert resolve_service_id(organization_id=org.pk, name="") is None
