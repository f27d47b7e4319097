"""A real OpenID Connect provider (django-oidc-provider) for the single sign-on tests.

It runs as its own Django project in a separate process (its own settings and SQLite
database), so Periscope talks to it over HTTP exactly as it would to Keycloak or Okta.
"""
