"""The authentication backend: mozilla-django-oidc's code exchange and token checks, with
Periscope's endpoints, account matching and organization mapping."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from periscope.sso.accounts import NoOrganization, sign_in_from_claims
from periscope.sso.config import sso_enabled
from periscope.sso.discovery import provider_endpoints


class OrganizationClaimBackend(OIDCAuthenticationBackend):
    """Signs in the subject of a verified ID token; `request.sso_refusal` says why not when
    the claims grant nothing."""

    def __init__(self, *args, **kwargs):
        # The library reads the endpoints here; ours may need discovery (a network call),
        # which only a sign-in should pay for.
        self.UserModel = get_user_model()

    def authenticate(self, request, **kwargs):
        # Only the callback view passes a nonce: a password form carrying ?code=&state= in
        # its URL must not start a token exchange.
        if request is None or "nonce" not in kwargs or not sso_enabled():
            return None
        endpoints = provider_endpoints()
        self.issuer = endpoints.issuer
        self.OIDC_OP_TOKEN_ENDPOINT = endpoints.token
        self.OIDC_OP_USER_ENDPOINT = endpoints.userinfo
        self.OIDC_OP_JWKS_ENDPOINT = endpoints.jwks
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, **kwargs)

    def verify_token(self, token, **kwargs):
        """The library checks the signature, expiry and nonce; the issuer and audience are
        checked here (OpenID Connect Core 3.1.3.7), so a token minted for another client of
        the same provider, or by another provider, is refused."""
        payload = super().verify_token(token, **kwargs)
        if self.issuer and str(payload.get("iss", "")).rstrip("/") != self.issuer:
            raise SuspiciousOperation("ID token from another issuer")
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience or []
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token for another client")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, completed by the userinfo endpoint's when there is one:
        Entra ID puts groups only in the ID token, Keycloak and others in both."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            userinfo = super().get_userinfo(access_token, id_token, payload)
            if userinfo.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("userinfo for another subject than the ID token")
            claims.update(userinfo)
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        try:
            return sign_in_from_claims(
                # Without a configured issuer, the token endpoint names the provider.
                issuer=self.issuer or self.OIDC_OP_TOKEN_ENDPOINT,
                claims=claims,
                claim=settings.OIDC_ORGANIZATIONS_CLAIM,
                mapping=settings.OIDC_ORGANIZATIONS,
                superuser_value=settings.OIDC_SUPERUSER_CLAIM_VALUE,
            )
        except NoOrganization as refusal:
            self.request.sso_refusal = refusal
            return None
