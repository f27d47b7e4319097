"""Single sign-on for the admin, end to end against a real OpenID Connect provider.

The provider (django-oidc-provider, tests/oidc_provider/) runs in its own process; Periscope
runs behind Django's test client and talks to the provider over HTTP for discovery, its
keys, the code exchange and userinfo. Nothing of the protocol is mocked.
"""

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from periscope.models import Membership, SsoIdentity
from tests.factories import make_service
from tests.oidc_live import (
    CLIENT_ID,
    CLIENT_SECRET,
    PERISCOPE,
    local_path,
    oidc_provider,
    sign_in_at_provider,
)

User = get_user_model()
PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"
SSO_BACKEND = "periscope.sso.backend.OrganizationClaimBackend"

PEOPLE = [
    {"username": "ada", "email": "ada@example.com", "first_name": "Ada",
     "groups": ["periscope-acme", "unrelated"]},
    {"username": "bob", "email": "bob@example.com",
     "groups": ["periscope-acme", "periscope-globex", "periscope-admins"]},
    {"username": "eve", "email": "eve@example.com", "groups": ["marketing"]},
    {"username": "max", "email": "max@example.com",
     "groups": ["periscope-acme", "periscope-globex"]},
]  # fmt: skip


@pytest.fixture(scope="module")
def provider():
    with oidc_provider(PEOPLE) as running:
        yield running


@pytest.fixture
def sso(settings, provider, org, other_org):
    """Periscope configured as the environment of docs/sso.md would, against `provider`."""
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_ORGANIZATIONS_CLAIM = "groups"
    settings.OIDC_ORGANIZATIONS = {"periscope-acme": ["acme"], "periscope-globex": ["globex"]}
    settings.OIDC_SUPERUSER_CLAIM_VALUE = ""
    return settings


def start(browser: Client, next_url: str = "/admin/") -> str:
    """Periscope's redirect to the provider; returns the authorization URL."""
    response = browser.get("/sso/login/", {"next": next_url})
    assert response.status_code == 302
    return response["Location"]


def sign_in(browser: Client, username: str):
    callback = sign_in_at_provider(start(browser), username=username)
    return browser.get(local_path(callback))


def signed_in_as(browser: Client):
    """Who the admin takes this browser for: the user, or None when it asks to sign in."""
    response = browser.get("/admin/")
    if response.status_code != 200:
        return None
    return response.wsgi_request.user


def with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    query[name] = [value]
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


def test_redirect_carries_state_nonce_and_a_pkce_challenge(sso, provider):
    url = start(Client())
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{provider.issuer}/authorize"
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{PERISCOPE}/sso/callback/"]
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert query["state"][0] and query["nonce"][0]


def test_first_sign_in_creates_a_staff_user_in_the_mapped_organization(sso, org, other_org):
    make_service(org, "checkout")
    make_service(other_org, "globex-billing")
    browser = Client()

    response = sign_in(browser, "ada")

    assert response.status_code == 302 and response["Location"] == "/admin/"
    user = signed_in_as(browser)
    assert user is not None and user.username == "ada"
    assert user.email == "ada@example.com" and user.first_name == "Ada"
    assert user.is_staff and not user.is_superuser
    assert not user.has_usable_password()
    assert browser.session["_auth_user_backend"] == SSO_BACKEND
    assert set(
        Membership.objects.filter(user=user).values_list("organization__slug", flat=True)
    ) == {"acme"}
    # What ada sees: acme's services, none of globex's.
    services = browser.get("/admin/services/service/").content.decode()
    assert "checkout" in services and "globex-billing" not in services
    identity = SsoIdentity.objects.get(user=user)
    assert identity.issuer == sso.OIDC_ISSUER and identity.subject


def test_a_second_sign_in_is_the_same_user_and_follows_the_groups(sso, provider):
    first = Client()
    sign_in(first, "max")
    user = signed_in_as(first)
    assert set(user.memberships.values_list("organization__slug", flat=True)) == {"acme", "globex"}

    provider.set_groups("max", ["periscope-globex"])
    try:
        again = Client()
        sign_in(again, "max")
        assert signed_in_as(again).pk == user.pk
        assert User.objects.filter(sso_identity__isnull=False).count() == 1
        assert set(user.memberships.values_list("organization__slug", flat=True)) == {"globex"}

        # Out of every mapped group: refused at the next sign-in, memberships gone.
        provider.set_groups("max", ["unrelated"])
        last = Client()
        response = sign_in(last, "max")
        assert response.status_code == 403
        assert signed_in_as(last) is None
        user.refresh_from_db()
        assert not user.is_staff and not user.memberships.exists()
    finally:
        provider.set_groups("max", ["periscope-acme", "periscope-globex"])


def test_after_sign_in_the_browser_goes_where_it_was_going(sso):
    browser = Client()
    callback = sign_in_at_provider(start(browser, "/admin/services/service/"), username="ada")
    response = browser.get(local_path(callback))
    assert response.status_code == 302 and response["Location"] == "/admin/services/service/"


def test_a_claim_never_makes_a_superuser_unless_configured(sso):
    browser = Client()
    sign_in(browser, "bob")
    bob = signed_in_as(browser)
    assert not bob.is_superuser
    assert set(bob.memberships.values_list("organization__slug", flat=True)) == {"acme", "globex"}


def test_the_configured_claim_value_makes_a_superuser(sso):
    sso.OIDC_SUPERUSER_CLAIM_VALUE = "periscope-admins"
    browser = Client()
    sign_in(browser, "bob")
    assert signed_in_as(browser).is_superuser
    other = Client()
    sign_in(other, "ada")
    assert not signed_in_as(other).is_superuser


def test_no_organization_gets_a_page_that_says_so_and_no_admin(sso):
    browser = Client()
    response = sign_in(browser, "eve")

    assert response.status_code == 403
    page = response.content.decode()
    assert "gives you no organization" in page
    assert "marketing" in page  # what the provider sent, to tell the people who run Periscope
    assert signed_in_as(browser) is None
    assert not User.objects.filter(username="eve").exists()


def test_a_tampered_state_is_refused(sso):
    browser = Client()
    callback = sign_in_at_provider(start(browser), username="ada")
    response = browser.get(local_path(with_param(callback, "state", "forged-state")))

    assert response.status_code == 400
    assert "could not be verified" in response.content.decode()
    assert signed_in_as(browser) is None
    assert not User.objects.filter(username="ada").exists()


def test_a_tampered_nonce_is_refused(sso):
    # The authorization request is altered on its way to the provider: the ID token then
    # carries a nonce this browser's session never issued.
    browser = Client()
    authorization = with_param(start(browser), "nonce", "forged-nonce")
    callback = sign_in_at_provider(authorization, username="ada")
    response = browser.get(local_path(callback))

    assert response.status_code == 400
    assert signed_in_as(browser) is None
    assert not User.objects.filter(username="ada").exists()


def test_a_callback_from_another_browser_is_refused(sso):
    # Login CSRF: an attacker's own callback URL, opened in the victim's browser.
    attacker = Client()
    callback = sign_in_at_provider(start(attacker), username="eve")
    victim = Client()
    start(victim)
    response = victim.get(local_path(callback))
    assert response.status_code == 400
    assert signed_in_as(victim) is None


def test_a_callback_cannot_be_replayed(sso):
    browser = Client()
    callback = sign_in_at_provider(start(browser), username="ada")
    assert browser.get(local_path(callback)).status_code == 302
    # The state is used once: the same callback again is refused, even in the same session.
    replay = browser.get(local_path(callback))
    assert replay.status_code == 400
    assert "could not be verified" in replay.content.decode()


def test_the_provider_refuses_a_code_without_the_pkce_verifier(sso):
    browser = Client()
    callback = sign_in_at_provider(start(browser), username="ada")
    session = browser.session
    for entry in session["oidc_states"].values():
        entry["code_verifier"] = "x" * 64  # not the verifier of the challenge sent
    session.save()
    response = browser.get(local_path(callback))
    assert response.status_code == 502
    assert signed_in_as(browser) is None


def test_an_existing_password_account_is_never_taken_over(sso):
    local = User.objects.create_user("ada", email="ada@example.com", password="local-pw-1")
    browser = Client()
    sign_in(browser, "ada")
    user = signed_in_as(browser)
    assert user.pk != local.pk and user.username.startswith("ada-")
    local.refresh_from_db()
    assert not local.is_staff and not local.memberships.exists()


def test_the_login_page_offers_the_provider_and_the_password_form(sso):
    page = Client().get("/admin/login/?next=/admin/").content.decode()
    assert "Sign in with Test IdP" in page
    assert 'href="/sso/login/?next=/admin/"' in page
    assert 'name="password"' in page


def test_without_configuration_there_is_no_button_and_no_sso(settings, db):
    settings.OIDC_RP_CLIENT_ID = ""
    browser = Client()
    page = browser.get("/admin/login/").content.decode()
    assert "Sign in with" not in page and 'name="password"' in page
    assert browser.get("/sso/login/").status_code == 404
    assert browser.get("/sso/callback/?code=x&state=y").status_code == 404


def test_password_login_switched_off(sso, staff_user):
    sso.PASSWORD_LOGIN = False
    sso.AUTHENTICATION_BACKENDS = [SSO_BACKEND]
    browser = Client()
    page = browser.get("/admin/login/").content.decode()
    assert "Sign in with Test IdP" in page
    assert 'name="password"' not in page and "Password sign-in is switched off" in page

    response = browser.post(
        "/admin/login/", {"username": "alice", "password": "pw-alice-1", "next": "/admin/"}
    )
    assert response.status_code == 403
    assert signed_in_as(browser) is None
    # Single sign-on still works.
    sign_in(browser, "ada")
    assert signed_in_as(browser).username == "ada"


def test_switching_password_login_off_ends_password_sessions(sso, staff_client):
    assert signed_in_as(staff_client).username == "alice"
    sso.PASSWORD_LOGIN = False
    sso.AUTHENTICATION_BACKENDS = [SSO_BACKEND]
    assert signed_in_as(staff_client) is None


def test_password_login_still_works_beside_sso(sso, staff_user):
    browser = Client()
    response = browser.post(
        "/admin/login/", {"username": "alice", "password": "pw-alice-1", "next": "/admin/"}
    )
    assert response.status_code == 302
    assert signed_in_as(browser).username == "alice"


def test_a_provider_that_cannot_be_reached_is_a_page(sso):
    sso.OIDC_ISSUER = "http://127.0.0.1:9/nowhere"
    response = Client().get("/sso/login/")
    assert response.status_code == 503
    assert "cannot be reached" in response.content.decode()


def test_an_id_token_from_another_issuer_is_refused(sso, provider):
    # The endpoints are the real provider's, but its tokens name an issuer other than the
    # configured one (another provider's token, or a misconfiguration): refused.
    sso.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider.issuer}/authorize"
    sso.OIDC_OP_TOKEN_ENDPOINT = f"{provider.issuer}/token"
    sso.OIDC_OP_USER_ENDPOINT = f"{provider.issuer}/userinfo"
    sso.OIDC_OP_JWKS_ENDPOINT = f"{provider.issuer}/jwks"
    sso.OIDC_ISSUER = "https://idp.example.com"
    browser = Client()
    response = sign_in(browser, "ada")
    assert response.status_code == 400
    assert signed_in_as(browser) is None


def test_explicit_endpoints_without_an_issuer_sign_in(sso, provider):
    sso.OIDC_ISSUER = ""
    sso.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider.issuer}/authorize"
    sso.OIDC_OP_TOKEN_ENDPOINT = f"{provider.issuer}/token"
    sso.OIDC_OP_USER_ENDPOINT = f"{provider.issuer}/userinfo"
    sso.OIDC_OP_JWKS_ENDPOINT = f"{provider.issuer}/jwks"
    browser = Client()
    sign_in(browser, "ada")
    assert signed_in_as(browser).username == "ada"
    assert SsoIdentity.objects.get().issuer == f"{provider.issuer}/token"
