"""The two steps of a sign-in: off to the provider, and back with a code."""

import logging

import jwt
import requests
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from periscope.sso.config import sso_enabled
from periscope.sso.discovery import ProviderUnavailable, provider_endpoints

logger = logging.getLogger(__name__)


def _page(request, template: str, *, status: int, **context) -> TemplateResponse:
    response = TemplateResponse(
        request,
        template,
        {
            **admin.site.each_context(request),
            "provider_name": settings.OIDC_PROVIDER_NAME,
            "title": "Sign-in",
            **context,
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


def _unavailable(request) -> TemplateResponse:
    return _page(request, "sso/unavailable.html", status=503)


class SsoLogin(OIDCAuthenticationRequestView):
    """Stores state, nonce and PKCE verifier in the session and redirects to the provider."""

    def __init__(self, **kwargs):
        # The library reads its endpoint here; ours may come from discovery, on request.
        View.__init__(self, **kwargs)

    def get(self, request):
        if not sso_enabled():
            raise Http404("single sign-on is not configured")
        try:
            endpoints = provider_endpoints()
        except ProviderUnavailable:
            return _unavailable(request)
        self.OIDC_OP_AUTH_ENDPOINT = endpoints.authorization
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)


class SsoCallback(OIDCAuthenticationCallbackView):
    """Exchanges the code (with the PKCE verifier), checks the ID token and signs in; every
    refusal is a page that says what happened, never the admin."""

    @property
    def success_url(self):
        return self.request.session.get("oidc_login_next") or reverse("admin:index")

    def get(self, request):
        if not sso_enabled():
            raise Http404("single sign-on is not configured")
        try:
            return super().get(request)
        except SuspiciousOperation as error:
            # An unknown state (a forged or replayed callback), a nonce, issuer or audience
            # that does not match: someone other than this browser started the sign-in.
            logger.warning("single sign-on refused: %s", error)
            return _page(request, "sso/failed.html", status=400, reason="verification")
        except jwt.PyJWTError as error:
            logger.warning("single sign-on refused an ID token: %s", error)
            return _page(request, "sso/failed.html", status=400, reason="verification")
        except ProviderUnavailable:
            return _unavailable(request)
        except requests.RequestException as error:
            # The token endpoint refused the code (expired, reused, wrong verifier) or is down.
            logger.warning("single sign-on token exchange failed: %s", error)
            return _page(request, "sso/failed.html", status=502, reason="exchange")

    def login_failure(self):
        refusal = getattr(self.request, "sso_refusal", None)
        if refusal is not None:
            return _page(
                self.request,
                "sso/no_organization.html",
                status=403,
                claim=refusal.claim,
                values=refusal.values[:50],
            )
        return _page(self.request, "sso/failed.html", status=403, reason="refused")
