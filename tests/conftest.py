import pytest
from django.db import connection
from django.test import Client

from tests.factories import OrganizationFactory, make_key


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` run only when the suite runs on PostgreSQL."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def org(db):
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def other_org(db):
    """A second organization whose data must never show up for `org`."""
    return OrganizationFactory(slug="globex", name="Globex")


@pytest.fixture
def key(org):
    return make_key(org)


@pytest.fixture
def other_key(other_org):
    return make_key(other_org)


@pytest.fixture
def api(db):
    return Client()


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def staff_user(org, django_user_model):
    """A non-superuser admin of `org` only, with the "Periscope admins" group's permissions."""
    from periscope.staff import make_organization_admin

    user = django_user_model.objects.create_user(username="alice", password="pw-alice-1")
    make_organization_admin(user=user, organizations=[org])
    return user


@pytest.fixture
def staff_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Admin tests log users in; a real password hash costs ~0.5 s per user on a busy machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
