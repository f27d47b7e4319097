"""The admin's login, with failed logins limited per client address (see auth_failures), the
single sign-on button when it is configured, and no password form when that is switched off."""

import math

from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse

from periscope import auth_failures
from periscope.sso.config import password_login_enabled, sso_enabled


def _too_many(wait: float) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    response = HttpResponse(
        f"Too many failed logins from your address. Try again in {seconds} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response


def _password_login_off() -> HttpResponse:
    return HttpResponse(
        "Password sign-in is switched off: sign in with single sign-on.\n",
        status=403,
        content_type="text/plain; charset=utf-8",
    )


def admin_login(request, extra_context=None):
    """Django's admin login; a POST from a blocked address is 429 before the password is
    checked, and a POST that does not log in (the form again) counts as a failure."""
    extra_context = {
        "sso_provider_name": settings.OIDC_PROVIDER_NAME if sso_enabled() else "",
        "password_login": password_login_enabled(),
        **(extra_context or {}),
    }
    if request.method == "POST" and not password_login_enabled():
        # Refused before any password is checked; the backends list has no password
        # backend either (settings), so no other form could check one.
        return _password_login_off()
    if request.method != "POST":
        return admin.site.login(request, extra_context)
    wait = auth_failures.blocked_for(request=request, kind=auth_failures.ADMIN_LOGIN)
    if wait is not None:
        return _too_many(wait)
    response = admin.site.login(request, extra_context)
    if response.status_code == 200:  # the form again: wrong username or password
        wait = auth_failures.record_failure(request=request, kind=auth_failures.ADMIN_LOGIN)
        if wait is not None:
            return _too_many(wait)
    return response
