"""The admin's login, with failed logins limited per client address (see auth_failures)."""

import math

from django.contrib import admin
from django.http import HttpResponse

from periscope import auth_failures


def _too_many(wait: float) -> HttpResponse:
    seconds = max(1, math.ceil(wait))
    response = HttpResponse(
        f"Too many failed logins from your address. Try again in {seconds} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(seconds)
    return response


def admin_login(request, extra_context=None):
    """Django's admin login; a POST from a blocked address is 429 before the password is
    checked, and a POST that does not log in (the form again) counts as a failure."""
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
