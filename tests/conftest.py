import os
import uuid

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client

from tests.browser_support import async_unsafe_allowed, browser  # noqa: F401 (fixtures)
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


@pytest.fixture(autouse=True)
def forget_blocked_addresses():
    """Each test starts with no address blocked for failed authentications (the shared counts
    roll back with the test's transaction; the per-process memory of blocks does not)."""
    from periscope import auth_failures

    auth_failures.forget_all()
    yield
    auth_failures.forget_all()


# A database of its own on the machine's Redis, so the test never touches anyone else's keys.
TEST_REDIS_URL = os.environ.get("PERISCOPE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_cache(settings):
    """The Redis cache store; skipped where no Redis runs, except in CI (.ci/run starts one)."""
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs Redis at {TEST_REDIS_URL}: {exc}")
        pytest.skip(f"needs a Redis server at {TEST_REDIS_URL} (PERISCOPE_TEST_REDIS_URL)")
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "redis": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TEST_REDIS_URL,
            "KEY_PREFIX": f"periscope-test-{os.getpid()}-{uuid.uuid4().hex}",
        },
    }
    settings.RATE_LIMIT_STORE = "cache"
    settings.RATE_LIMIT_CACHE = "redis"
    return caches["redis"]
