"""Single sign-on's decisions without the protocol: the organization map from the
environment, reading a claim, and what a sign-in's claims do to the account (the end-to-end
flow against a real provider is tests/test_sso.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from periscope.models import Membership, SsoIdentity
from periscope.sso.accounts import NoOrganization, claim_values, sign_in_from_claims
from periscope.sso.config import parse_organization_map

REPO = Path(__file__).resolve().parents[1]
ISSUER = "https://idp.example.com"
MAPPING = {"team-acme": ["acme"], "team-globex": ["globex"]}

# All of Unicode, lone surrogates and NUL included (claims are JSON, which can escape both).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


def test_the_map_takes_one_slug_or_a_list():
    text = json.dumps({"CN=Acme,OU=Groups": "acme", "/platform": ["acme", "globex"]})
    assert parse_organization_map(text, name="X") == {
        "CN=Acme,OU=Groups": ["acme"],
        "/platform": ["acme", "globex"],
    }
    assert parse_organization_map("  ", name="X") == {}
    # A value that maps nowhere is allowed: it grants nothing.
    assert parse_organization_map('{"a": []}', name="X") == {"a": []}


@pytest.mark.parametrize("text", ["acme=acme", "[1]", '{"a": 1}', '{"a": [""]}'])
def test_a_bad_map_names_the_variable(text):
    with pytest.raises(ImproperlyConfigured, match="PERISCOPE_OIDC_ORGANIZATIONS"):
        parse_organization_map(text, name="PERISCOPE_OIDC_ORGANIZATIONS")


@given(any_text)
def test_any_map_text_is_a_map_or_a_clear_error(text):
    try:
        mapping = parse_organization_map(text, name="PERISCOPE_OIDC_ORGANIZATIONS")
    except ImproperlyConfigured as error:
        assert "PERISCOPE_OIDC_ORGANIZATIONS" in str(error)
    else:
        assert all(isinstance(slugs, list) for slugs in mapping.values())


def test_claim_values_literal_key_dotted_path_and_one_string():
    assert claim_values(claims={"groups": ["a", 3, "b"]}, claim="groups") == ["a", "b"]
    assert claim_values(claims={"groups": "a"}, claim="groups") == ["a"]
    assert claim_values(claims={}, claim="groups") == []
    nested = {"realm_access": {"roles": ["admin"]}}
    assert claim_values(claims=nested, claim="realm_access.roles") == ["admin"]
    auth0 = {"https://example.com/groups": ["x"]}
    assert claim_values(claims=auth0, claim="https://example.com/groups") == ["x"]


@given(st.dictionaries(any_text, json_values, max_size=5), any_text)
def test_any_claims_give_printable_values(claims, claim):
    for value in claim_values(claims=claims, claim=claim):
        value.encode("utf-8")  # no lone surrogate: the page shows these
        assert "\x00" not in value


def sign_in(**claims):
    return sign_in_from_claims(
        issuer=ISSUER, claims={"sub": "s-1", **claims}, claim="groups", mapping=MAPPING
    )


def test_memberships_are_the_mapped_organizations_only(org, other_org):
    user = sign_in(groups=["team-acme", "nobody"], preferred_username="ada")
    assert [m.organization.slug for m in Membership.objects.filter(user=user)] == ["acme"]
    assert user.is_staff and not user.is_superuser


def test_an_unknown_slug_in_the_map_grants_nothing(org, other_org):
    with pytest.raises(NoOrganization):
        sign_in_from_claims(
            issuer=ISSUER,
            claims={"sub": "s-1", "groups": ["team-x"]},
            claim="groups",
            mapping={"team-x": ["no-such-org"]},
        )


def test_an_existing_superuser_made_by_hand_keeps_it_without_a_configured_value(org):
    user = sign_in(groups=["team-acme"])
    user.is_superuser = True
    user.save()
    assert sign_in(groups=[]).is_superuser  # no organization, but a superuser sees all


@pytest.mark.parametrize("subject", ["", None, 42, "a\x00b", "\ud800", "x" * 256])
def test_a_subject_that_cannot_key_an_account_is_refused(org, subject):
    with pytest.raises(SuspiciousOperation):
        sign_in_from_claims(
            issuer=ISSUER,
            claims={"sub": subject, "groups": ["team-acme"]},
            claim="groups",
            mapping=MAPPING,
        )
    assert not SsoIdentity.objects.exists()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    username=any_text,
    email=any_text,
    given_name=any_text,
    group=any_text,
    subject=st.text(
        st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=255
    ),
)
def test_any_profile_claims_sign_in_or_refuse_cleanly(
    org, other_org, username, email, given_name, group, subject
):
    claims = {
        "sub": subject,
        "preferred_username": username,
        "email": email,
        "given_name": given_name,
        "groups": [group, "team-acme"],
    }
    user = sign_in_from_claims(issuer=ISSUER, claims=claims, claim="groups", mapping=MAPPING)
    user.refresh_from_db()
    assert user.sso_identity.subject == subject
    assert set(user.memberships.values_list("organization__slug", flat=True)) == {"acme"}
    get_user_model().objects.filter(pk=user.pk).delete()


def settings_of(env: dict) -> subprocess.CompletedProcess:
    """Periscope's settings loaded in a fresh interpreter with only `env` for single sign-on."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PERISCOPE_OIDC", "PERISCOPE_PASSWORD", "PYTEST", "DJANGO"))
    }
    clean.update({"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "periscope.settings", **env})
    code = "from django.conf import settings; print(settings.AUTHENTICATION_BACKENDS)"
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=clean,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


SSO_ENV = {"PERISCOPE_OIDC_CLIENT_ID": "periscope", "PERISCOPE_OIDC_ISSUER": ISSUER}


def test_settings_keep_password_login_by_default():
    result = settings_of(SSO_ENV)
    assert result.returncode == 0, result.stderr
    assert "django.contrib.auth.backends.ModelBackend" in result.stdout


def test_settings_without_password_login_check_no_password():
    result = settings_of({**SSO_ENV, "PERISCOPE_PASSWORD_LOGIN": "0"})
    assert result.returncode == 0, result.stderr
    assert "ModelBackend" not in result.stdout and "OrganizationClaimBackend" in result.stdout


def test_settings_refuse_no_password_and_no_sso():
    result = settings_of({"PERISCOPE_PASSWORD_LOGIN": "0"})
    assert result.returncode != 0
    assert "PERISCOPE_PASSWORD_LOGIN=0 needs single sign-on" in result.stderr


def test_settings_refuse_a_bad_organization_map():
    result = settings_of({**SSO_ENV, "PERISCOPE_OIDC_ORGANIZATIONS": "acme=acme"})
    assert result.returncode != 0
    assert "PERISCOPE_OIDC_ORGANIZATIONS must be a JSON object" in result.stderr


def backend_for(settings, **claims):
    from periscope.sso.backend import OrganizationClaimBackend

    settings.OIDC_RP_SIGN_ALGO = "HS256"
    backend = OrganizationClaimBackend()
    backend.issuer = ISSUER
    backend.OIDC_RP_CLIENT_ID = "periscope"
    backend.OIDC_RP_CLIENT_SECRET = "a-client-secret-long-enough-for-hs256-0123456789"
    backend.OIDC_RP_SIGN_ALGO = "HS256"
    backend.OIDC_RP_IDP_SIGN_KEY = None
    token = jwt.encode(
        {"iss": ISSUER, "aud": "periscope", "sub": "s-1", "nonce": "n", "exp": 2**40, **claims},
        backend.OIDC_RP_CLIENT_SECRET,
        algorithm="HS256",
    )
    return backend, token


def test_an_id_token_for_this_client_is_accepted(settings):
    backend, token = backend_for(settings, aud=["other", "periscope"])
    assert backend.verify_token(token, nonce="n")["sub"] == "s-1"


@pytest.mark.parametrize(
    "claims", [{"aud": "another-client"}, {"aud": []}, {"iss": "https://evil.example.com"}]
)
def test_an_id_token_for_another_client_or_issuer_is_refused(settings, claims):
    backend, token = backend_for(settings, **claims)
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(token, nonce="n")
