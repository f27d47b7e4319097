"""Single sign-on for the admin over OpenID Connect (authorization code flow with PKCE).

The protocol is mozilla-django-oidc's; this package adds what Periscope decides: where the
provider's endpoints come from (discovery or explicit), which account a subject signs in as,
and which organizations the provider's claim grants. See docs/sso.md.
"""
